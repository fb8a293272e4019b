/**
 * The membership view: which agents this node is connected to, and what their cards say. It is
 * kept from the card exchange on each new connection and from libp2p's disconnect events; peers
 * tell each other of further peers, which the PeerDialer dials until the node has `targetPeers`.
 */
import type { Libp2p, PeerId, IdentifyResult } from '@libp2p/interface'
import { peerIdOf } from '../core/peer-keys.js'
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../rpc/index.js'
import { CONNECTION_BACKGROUND_DELAY_MS, RPC_PROTOCOL } from '../rpc/constants.js'
import { ValidationError } from '../core/errors.js'
import { CardExchange, type AgentCard } from './card.js'

export interface PeerInfo {
  peerId: string
  name: string
  roles: string[]
  capabilities: string[]
  version: string
  /** Addresses the agent announced in its card. */
  addresses: string[]
  /** The remote addresses of our open connections to it. */
  connections: Array<{ address: string, direction: 'inbound' | 'outbound' }>
  /** When this node learned the card (ms since epoch). */
  joinedAt: number
  card: AgentCard
}

export interface MembershipEvents {
  'peer:join': CustomEvent<PeerInfo>
  'peer:leave': CustomEvent<{ peerId: string, name: string }>
  /** A card exchange failed (the peer stays unknown until it connects again). */
  error: CustomEvent<{ error: Error, peer: string }>
  /**
   * A peer of another mesh name answered or asked a card exchange: it is ignored. Told once per
   * peer, since it is the likeliest mistake (a `--mesh` left out) and is otherwise silent.
   */
  'mesh:foreign': CustomEvent<{ peer: string, mesh: string }>
}

/** Peers of another mesh remembered (for `foreignPeers`), the oldest forgotten first. */
const MAX_FOREIGN = 64

/**
 * Admission in a closed mesh (node/admission.ts fills it): what this node shows in the card
 * exchange, and the check of what a peer shows, which throws a NotAdmittedError (SEC001) for a
 * peer without a valid credential. It returns the roles and capabilities the credential grants,
 * which replace those the card claims, or undefined in an open mesh (the card's stand).
 */
export interface CardAdmission {
  shown: () => { credential?: unknown, revocations?: unknown }
  /** Requests wait for the exchange (a closed mesh): it starts as soon as identify ends, not CONNECTION_BACKGROUND_DELAY_MS later. */
  readonly closed: boolean
  /** This node starts an exchange with `peer` (its requests wait for it); call the result when it ends. */
  expecting: (peer: string) => () => void
  check: (peer: string, shown: { credential?: unknown, revocations?: unknown }) => Promise<{ roles: string[], capabilities: string[] } | undefined>
}

export interface MembershipInit {
  libp2p: Libp2p
  rpc: RpcService
  mesh: string
  card: () => AgentCard
  /** Dials a peer another agent told of (the peer exchange); the dialer keeps the budget. */
  dial: (peerId: string, addresses: string[]) => void
  admission?: CardAdmission
}

export interface AgentQuery { capability?: string, role?: string, name?: string }

const MAX_HINTS = 16
/** How long this node waits for a peer's answer to its card. */
const EXCHANGE_TIMEOUT_MS = 10_000
/**
 * Every SWEEP_MS, a peer connected for GRACE_MS or more that speaks the rpc protocol and has no
 * card here is asked for one (`sweep`); again after RETRY_MS, doubling to RETRY_MAX_MS. After
 * RETRIES such asks without a card its connections are closed, so the dialers start afresh.
 */
const SWEEP_MS = 1_000
const GRACE_MS = 2_000
const RETRY_MS = 1_000
const RETRY_MAX_MS = 5_000
const RETRIES = 5

export class Membership extends TypedEventEmitter<MembershipEvents> {
  private readonly init: MembershipInit
  private readonly members = new Map<string, { card: AgentCard, joinedAt: number }>()
  private readonly foreign = new Map<string, string>()
  /**
   * Connected clients (cards that say `client`): answered like anyone, but no members. They are
   * not listed, announced, told to others as peers to dial, nor offered work.
   */
  private readonly clientCards = new Map<string, AgentCard>()
  private unhandle?: () => void
  private running = false
  private sweeper?: ReturnType<typeof setInterval>
  /** Card exchanges with peers that have no card here: under way, how many failed, when the next may start. */
  private readonly asking = new Map<string, { busy: boolean, tries: number, next: number }>()
  /** Card exchanges waiting to start (onIdentify). */
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()

  private readonly onIdentify = (evt: CustomEvent<IdentifyResult>): void => {
    const { peerId, protocols, connection } = evt.detail
    // The dialling side starts the exchange; the answering side learns the card from the request.
    if (connection.direction !== 'outbound' || !protocols.includes(RPC_PROTOCOL)) return
    const peer = peerId.toString()
    if (this.init.admission?.closed === true) { void this.exchange(peer); return }
    // After the application's first request on the connection, if it makes one at once (rpc/constants.ts).
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      // Over whichever connection is open by then (exchange() asks the peer, not this connection).
      if (this.running && this.init.libp2p.getConnections(peerId).some(c => c.status === 'open')) void this.exchange(peer)
    }, CONNECTION_BACKGROUND_DELAY_MS)
    this.timers.add(timer)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const id = evt.detail.toString()
    this.clientCards.delete(id)
    this.asking.delete(id)
    const m = this.members.get(id)
    if (m === undefined) return
    this.members.delete(id)
    this.safeDispatch('peer:leave', { peerId: id, name: m.card.name })
  }

  constructor (init: MembershipInit) {
    super()
    this.init = init
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.unhandle = this.init.rpc.handle(CardExchange, async (req, ctx) => {
      if (req.card.peerId !== ctx.peer) throw new ValidationError('card peerId is not the authenticated peer')
      if (req.card.mesh !== this.init.mesh) {
        this.foreignPeer(ctx.peer, req.card.mesh)
        throw new ValidationError(`this agent is in mesh "${this.init.mesh}", not "${req.card.mesh}"`)
      }
      const granted = await this.init.admission?.check(ctx.peer, req)
      this.record(granted === undefined ? req.card : { ...req.card, ...granted })
      return { card: this.init.card(), peers: this.hints(ctx.peer, req.card.client === true), ...this.init.admission?.shown() }
    })
    this.init.libp2p.addEventListener('peer:identify', this.onIdentify)
    this.init.libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    this.sweeper = setInterval(() => { void this.sweep() }, SWEEP_MS)
    this.sweeper.unref?.()
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    this.unhandle?.()
    this.init.libp2p.removeEventListener('peer:identify', this.onIdentify)
    this.init.libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    clearInterval(this.sweeper)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.members.clear()
    this.clientCards.clear()
    this.asking.clear()
  }

  /** Whether a connected peer said it is a client: it is no member, and counts for nothing. */
  isClient (peerId: string): boolean { return this.clientCards.has(peerId) }

  /** The connected clients (for the debug endpoint). */
  clients (): Array<{ peerId: string, name: string }> {
    return [...this.clientCards.values()].map(c => ({ peerId: c.peerId, name: c.name }))
  }

  peers (): PeerInfo[] {
    return [...this.members.values()].map(m => this.info(m.card, m.joinedAt))
  }

  /**
   * The connected members' peer ids: what peers() lists, without building each one's info (its
   * connections and their addresses), which the member view's every probe and gossip round paid
   * for (3.5% of the seeds' busy CPU in a 200-agent run).
   */
  peerIds (): string[] { return [...this.members.keys()] }

  /** A connected member's card, without building its info: what per-task paths read (capacities on every placement). */
  card (peerId: string): AgentCard | undefined { return this.members.get(peerId)?.card }

  /** The mesh name this node is in. */
  get mesh (): string { return this.init.mesh }

  /** Peers met that are of another mesh name, with it (the last MAX_FOREIGN). */
  foreignPeers (): Array<{ peer: string, mesh: string }> { return [...this.foreign].map(([peer, mesh]) => ({ peer, mesh })) }

  private foreignPeer (peer: string, mesh: string): void {
    if (this.foreign.get(peer) === mesh) return
    this.foreign.delete(peer)
    this.foreign.set(peer, mesh)
    if (this.foreign.size > MAX_FOREIGN) this.foreign.delete(this.foreign.keys().next().value as string)
    this.safeDispatch('mesh:foreign', { peer, mesh })
  }

  get (peerId: string): PeerInfo | undefined {
    const m = this.members.get(peerId)
    return m === undefined ? undefined : this.info(m.card, m.joinedAt)
  }

  find (q: AgentQuery): PeerInfo[] {
    return this.peers().filter(p => matches(p, q))
  }

  private async exchange (peer: string): Promise<void> {
    const done = this.init.admission?.expecting(peer)
    const asked = this.asking.get(peer) ?? { busy: false, tries: 0, next: 0 }
    asked.busy = true
    this.asking.set(peer, asked)
    try {
      const request = { card: this.init.card(), ...this.init.admission?.shown() }
      const answer = await this.init.rpc.request(peer, CardExchange, request, { timeoutMs: EXCHANGE_TIMEOUT_MS })
      if (answer.card.peerId !== peer) return
      if (answer.card.mesh !== this.init.mesh) { this.foreignPeer(peer, answer.card.mesh); return }
      const granted = await this.init.admission?.check(peer, answer)
      this.record(granted === undefined ? answer.card : { ...answer.card, ...granted })
      this.dialHints(answer.peers)
    } catch (err) {
      if (this.running) this.safeDispatch('error', { error: err as Error, peer })
    } finally {
      done?.()
      asked.busy = false
      asked.next = Date.now() + Math.min(RETRY_MS * 2 ** asked.tries++, RETRY_MAX_MS)
    }
  }

  /**
   * Ask for the card of every peer connected (for GRACE_MS at least) that has none here and
   * speaks the rpc protocol. The exchange is started once per connection, when identify
   * finishes, by the dialling side; one that got no answer, or an identify that never finished,
   * left two agents connected and unknown to each other until the connection closed, since the
   * dialers leave a connected peer alone. The fault campaign (seed 1606683835) found such pairs a
   * minute and more after a heal, each holding an inbound and an outbound connection to the other.
   */
  private async sweep (): Promise<void> {
    const now = Date.now()
    const seen = new Set<string>()
    for (const c of this.init.libp2p.getConnections()) {
      const peer = c.remotePeer.toString()
      if (seen.has(peer) || c.status !== 'open' || now - c.timeline.open < GRACE_MS) continue
      seen.add(peer)
      if (this.members.has(peer) || this.clientCards.has(peer)) { this.asking.delete(peer); continue }
      const asked = this.asking.get(peer)
      if (asked?.busy === true || (asked?.next ?? 0) > now) continue
      if ((asked?.tries ?? 0) >= RETRIES) {
        this.asking.delete(peer)
        this.init.libp2p.hangUp(c.remotePeer).catch(() => {})
        continue
      }
      // Only a peer that said it speaks the protocol (identify, this connection or an earlier one).
      const speaks = await this.init.libp2p.peerStore.get(c.remotePeer).then(p => p.protocols.includes(RPC_PROTOCOL), () => false)
      if (speaks && this.running && !this.members.has(peer) && this.asking.get(peer)?.busy !== true) void this.exchange(peer)
    }
  }

  private record (card: AgentCard): void {
    // A card that arrives after the connection closed would make a member nobody can reach.
    if (!this.running || this.init.libp2p.getConnections(peerIdOf(card.peerId)).length === 0) return
    if (card.client === true) {
      // Saying "client" only gives up rights, so it is believed; a member that turns client is gone.
      this.clientCards.set(card.peerId, card)
      const was = this.members.get(card.peerId)
      if (was !== undefined) {
        this.members.delete(card.peerId)
        this.safeDispatch('peer:leave', { peerId: card.peerId, name: was.card.name })
      }
      return
    }
    this.clientCards.delete(card.peerId)
    this.asking.delete(card.peerId)
    const known = this.members.get(card.peerId)
    this.members.set(card.peerId, { card, joinedAt: known?.joinedAt ?? Date.now() })
    if (known === undefined) this.safeDispatch('peer:join', this.info(card, Date.now()))
  }

  /**
   * Peers to tell a newcomer of: members; and, to a client only, the other clients, since
   * gossip reaches a client's subscription only from a peer connected to it, and no agent relays
   * a topic it does not subscribe to itself (so `pub` and `sub` meet directly). Agents are never
   * told of clients: they have no reason to dial one.
   */
  private hints (exclude: string, forClient: boolean): Array<{ peerId: string, addresses: string[] }> {
    const cards = [...[...this.members.values()].map(m => m.card), ...(forClient ? this.clientCards.values() : [])]
    const out: Array<{ peerId: string, addresses: string[] }> = []
    for (const card of cards) {
      if (card.peerId === exclude || card.addresses.length === 0) continue
      out.push({ peerId: card.peerId, addresses: card.addresses.slice(0, 16) })
      if (out.length >= MAX_HINTS) break
    }
    return out
  }

  private dialHints (hints: Array<{ peerId: string, addresses: string[] }>): void {
    const self = this.init.libp2p.peerId.toString()
    for (const h of hints) {
      if (h.peerId !== self && !this.members.has(h.peerId) && !this.clientCards.has(h.peerId) && h.addresses.length > 0) this.init.dial(h.peerId, h.addresses)
    }
  }

  private info (card: AgentCard, joinedAt: number): PeerInfo {
    const conns = this.init.libp2p.getConnections(peerIdOf(card.peerId))
    return {
      peerId: card.peerId,
      name: card.name,
      roles: card.roles,
      capabilities: card.capabilities,
      version: card.version,
      addresses: card.addresses,
      connections: conns.map(c => ({ address: c.remoteAddr.toString(), direction: c.direction })),
      joinedAt,
      card
    }
  }

  /** A listener that throws must not break the membership bookkeeping. */
  private safeDispatch<K extends keyof MembershipEvents> (type: K, detail: MembershipEvents[K]['detail']): void {
    try {
      this.safeDispatchEvent(type, { detail })
    } catch { /* listeners' errors are theirs */ }
  }
}

/** Whether an agent has the capability, the role and the name the query asks for (each if given). */
export function matches (p: Pick<PeerInfo, 'capabilities' | 'roles' | 'name'>, q: AgentQuery): boolean {
  return (q.capability === undefined || p.capabilities.includes(q.capability)) &&
    (q.role === undefined || p.roles.includes(q.role)) &&
    (q.name === undefined || p.name === q.name)
}
