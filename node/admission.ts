/**
 * Admission in a closed mesh (docs/security.md): which connected peers showed a credential of
 * this node's mesh owner, and the gates every agentmesh protocol asks before serving a peer.
 * A peer is admitted by the card exchange (discovery/membership.ts calls `check`); one that
 * shows none within `admissionTimeoutMs` of connecting, or a bad one, is disconnected. The
 * newest signed revocation list is kept, spread by gossip and by the card exchange, and every
 * admitted peer it revokes is disconnected at once. In open mode every gate says yes.
 */
import { readFile } from 'node:fs/promises'
import { unwatchFile, watchFile } from 'node:fs'
import type { Connection, Libp2p, PeerId } from '@libp2p/interface'
import { peerIdFromString } from '@libp2p/peer-id'
import type { AgentConfig } from './config.js'
import type { Logger } from './log.js'
import { ConfigError, NotAdmittedError } from '../protocols/core/errors.js'
import { verifyCredential, type Credential } from '../protocols/admission/credential.js'
import { RevocationList, Revocations, verifyRevocations } from '../protocols/admission/revocation.js'
import { COORDINATOR_ROLE, REVOCATIONS_TOPIC_NAME } from '../protocols/admission/constants.js'
import { defineTopic } from '../protocols/pubsub/topics.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import { CardExchange } from '../discovery/card.js'

export const REVOCATIONS_TOPIC = defineTopic(REVOCATIONS_TOPIC_NAME, RevocationList)

/** This node's own credential and the revocation list it was given, both checked. */
export interface Security { credential?: Credential, revocations?: RevocationList }

const HOW_TO_GET = 'ask the mesh owner for one: agentmesh credential issue --owner mesh-owner.json --peer <this peer id> --roles agent,coordinator --out cred.json'

/** What a node with neither a credential nor `--open` is told: every command that gets it one, and the way out for local development. */
function howToClose (mesh: string): string {
  return 'a node is closed by default (security.mode "closed") and needs a credential of the mesh owner to start. To get one:\n' +
    `  agentmesh mesh init --mesh ${mesh}     (once, by the mesh owner: writes mesh-owner.json, kept offline, and mesh.psk)\n` +
    '  agentmesh id --identity id.json     (this node\'s identity, created mode 0600)\n' +
    '  agentmesh credential issue --owner mesh-owner.json --identity id.json --roles agent,coordinator --out cred.json\n' +
    'then give --identity id.json --credential cred.json (and --psk mesh.psk if the mesh uses its key). ' +
    'For local development only, --open (security.mode "open", or --preset local) admits any peer that knows the mesh name.'
}

/** Logged at start and listed by /health (`warnings`) while a node runs open. */
export const OPEN_MODE_WARNING = 'open mode: any peer that knows the mesh name is admitted, with the roles and capabilities it claims; ' +
  'for local development only (a mesh is closed with credentials: docs/security.md)'

async function readJson (path: string, what: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new ConfigError(`cannot read the ${what} ${path}: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * In closed mode, this node's credential (it must verify for this very peer id, or the node
 * refuses to start) and the revocation list of `security.revocations`; nothing in open mode.
 */
export async function loadSecurity (config: AgentConfig, peerId: string, keyGiven: boolean): Promise<Security> {
  const sec = config.security
  if (sec.mode === 'open') return {}
  if (sec.credential === undefined) throw new ConfigError(howToClose(config.mesh))
  if (config.identity === undefined && !keyGiven) {
    throw new ConfigError('security.mode "closed" needs an identity file (--identity <file>): a credential names one peer id, and a fresh identity is another each start ' +
      '(--open, for local development only, needs neither)')
  }
  const raw = await readJson(sec.credential, 'credential file')
  const issuer = typeof raw === 'object' && raw !== null ? String((raw as { issuer?: unknown }).issuer) : ''
  let revocations: RevocationList | undefined
  if (sec.revocations !== undefined) revocations = await readRevocations(sec.revocations, { mesh: config.mesh, issuer })
  const held = new Revocations()
  if (revocations !== undefined) held.offer(revocations)
  try {
    const credential = await verifyCredential(raw, { issuer, mesh: config.mesh, subject: peerId, now: Date.now(), revoked: c => held.revoked(c) })
    return { credential, ...(revocations !== undefined ? { revocations } : {}) }
  } catch (err) {
    throw new ConfigError(`credential ${sec.credential} does not admit this node (${peerId}): ${(err as Error).message}; ${HOW_TO_GET.replace('<this peer id>', peerId)}`, { cause: err })
  }
}

async function readRevocations (path: string, trust: { mesh: string, issuer: string }): Promise<RevocationList> {
  try {
    return await verifyRevocations(await readJson(path, 'revocation list'), trust)
  } catch (err) {
    throw err instanceof ConfigError ? err : new ConfigError(`revocation list ${path}: ${(err as Error).message}`, { cause: err })
  }
}

export interface AdmissionInit {
  libp2p: Libp2p
  log: Logger
  config: AgentConfig
  security: Security
  /** Built after the gates that use this service; read once it starts. */
  pubsub: () => PubSubService
}

/** Refused peers remembered (so their gossip relayed by others is refused too), oldest forgotten first. */
const MAX_REFUSED = 1_024

export class Admission {
  readonly closed: boolean
  private readonly init: AdmissionInit
  private readonly admitted = new Map<string, Credential>()
  private readonly refused = new Set<string>()
  private readonly pending = new Map<string, Promise<void>>()
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>()
  private readonly revocations = new Revocations()
  private running = false
  private unsubscribe?: () => void

  constructor (init: AdmissionInit) {
    this.init = init
    this.closed = init.config.security.mode === 'closed'
    if (this.closed && init.security.credential === undefined) throw new ConfigError(`security.mode "closed" needs a checked credential: ${HOW_TO_GET}`)
    if (init.security.revocations !== undefined) this.revocations.offer(init.security.revocations)
  }

  private get own (): Credential { return this.init.security.credential as Credential }

  private readonly onConnect = (evt: CustomEvent<Connection>): void => {
    const peer = evt.detail.remotePeer.toString()
    if (this.admitted.has(peer) || this.timers.has(peer)) return
    const t = setTimeout(() => {
      this.timers.delete(peer)
      if (!this.admitted.has(peer)) this.expel(peer, 'no valid credential shown in time')
    }, this.init.config.security.admissionTimeoutMs)
    t.unref?.()
    this.timers.set(peer, t)
  }

  private readonly onDisconnect = (evt: CustomEvent<PeerId>): void => {
    const peer = evt.detail.toString()
    // A peer that comes back shows its credential again: it may have been revoked meanwhile.
    this.admitted.delete(peer)
    clearTimeout(this.timers.get(peer))
    this.timers.delete(peer)
  }

  start (): void {
    if (!this.closed) {
      // A client is short-lived and prints answers, not warnings: its open mode is said at info.
      if (!this.running) this.init.log[this.init.config.client ? 'info' : 'warn'](OPEN_MODE_WARNING)
      this.running = true
      return
    }
    if (this.running) return
    this.running = true
    const { libp2p } = this.init
    libp2p.addEventListener('connection:open', this.onConnect)
    libp2p.addEventListener('peer:disconnect', this.onDisconnect)
    const sub = this.init.pubsub().subscribe(REVOCATIONS_TOPIC)
    this.unsubscribe = () => { sub.unsubscribe() }
    void (async () => { for await (const m of sub) await this.offer(m.payload, `gossip from ${m.from}`) })()
    const file = this.init.config.security.revocations
    if (file !== undefined) {
      // The operator revokes into the file a running node was given (`agentmesh credential revoke --list`).
      watchFile(file, { interval: 500, persistent: false }, () => {
        // A file caught mid-write is not JSON yet: say so, and read it again at its next change.
        readFile(file, 'utf8').then(async text => { await this.offer(JSON.parse(text), `file ${file}`) })
          .catch((err: Error) => { this.init.log.warn({ file, error: err.message }, 'revocation list file unreadable') })
      })
    }
    if (this.revocations.current !== undefined) this.spread(this.revocations.current)
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    if (!this.closed) return
    const { libp2p } = this.init
    libp2p.removeEventListener('connection:open', this.onConnect)
    libp2p.removeEventListener('peer:disconnect', this.onDisconnect)
    if (this.init.config.security.revocations !== undefined) unwatchFile(this.init.config.security.revocations)
    this.unsubscribe?.()
    for (const t of this.timers.values()) clearTimeout(t)
    this.timers.clear()
    this.admitted.clear()
  }

  /** The rpc gate: only the card exchange until the peer is admitted; waits for an exchange under way. */
  admitsCommand (peer: string, command: string): boolean | Promise<boolean> {
    if (!this.closed || command === CardExchange.name || this.admitted.has(peer)) return true
    const pending = this.pending.get(peer)
    return pending === undefined ? false : pending.then(() => this.admitted.has(peer))
  }

  /** The stream protocols' gate (negotiation, learning). */
  admits (peer: string): boolean { return !this.closed || this.admitted.has(peer) }

  /**
   * The gossip gate. The relaying peer must be admitted here; the publisher, when it is not
   * connected here, was admitted by whoever relayed it first (every agent gates what it relays),
   * so only a publisher known to be refused or revoked, or connected and not admitted, is refused.
   */
  admitsGossip (propagator: string, publisher: string): 'accept' | 'ignore' | 'reject' {
    if (!this.closed) return 'accept'
    if (this.refused.has(propagator) || this.distrusts(publisher)) return 'reject'
    return this.admitted.has(propagator) ? 'accept' : 'ignore'
  }

  /** The member view's `ignores`: heartbeats and probes of these peers count for nothing. */
  distrusts (peer: string): boolean {
    if (!this.closed || this.admitted.has(peer)) return false
    return this.refused.has(peer) || this.revocations.revoked({ serial: '', subject: peer }) || this.connected(peer)
  }

  /** Closed mesh: only a peer whose credential grants the coordinator role may vote or be elected. */
  mayBeEligible (peer: string): boolean {
    return !this.closed || (this.admitted.get(peer)?.roles.includes(COORDINATOR_ROLE) ?? false)
  }

  /** Whether this node itself may vote (its own credential, in a closed mesh). */
  get selfEligible (): boolean { return !this.closed || this.own.roles.includes(COORDINATOR_ROLE) }

  /** The credential an admitted peer showed. */
  credentialOf (peer: string): Credential | undefined { return this.admitted.get(peer) }

  health (): { mode: 'open' | 'closed', warning?: string, issuer?: string, admitted?: number, revocationsIssuedAt?: number } {
    if (!this.closed) return { mode: 'open', warning: OPEN_MODE_WARNING }
    const list = this.revocations.current
    return { mode: 'closed', issuer: this.own.issuer, admitted: this.admitted.size, ...(list !== undefined ? { revocationsIssuedAt: list.issuedAt } : {}) }
  }

  // --- the card exchange's side (discovery/membership.ts CardAdmission) ----------------------

  shown (): { credential?: unknown, revocations?: unknown } {
    if (!this.closed) return {}
    const list = this.revocations.current
    return { credential: this.own, ...(list !== undefined ? { revocations: list } : {}) }
  }

  expecting (peer: string): () => void {
    if (!this.closed) return () => {}
    let done!: () => void
    const p = new Promise<void>(resolve => { done = resolve })
    this.pending.set(peer, p)
    return () => { if (this.pending.get(peer) === p) this.pending.delete(peer); done() }
  }

  async check (peer: string, shown: { credential?: unknown, revocations?: unknown }): Promise<{ roles: string[], capabilities: string[] } | undefined> {
    if (!this.closed) return undefined
    if (shown.revocations !== undefined) await this.offer(shown.revocations, `card exchange with ${peer}`)
    try {
      const c = await verifyCredential(shown.credential, {
        issuer: this.own.issuer, mesh: this.own.mesh, subject: peer, now: Date.now(), revoked: x => this.revocations.revoked(x)
      })
      if (!this.connected(peer)) throw new NotAdmittedError('the peer disconnected during its card exchange')
      this.admitted.set(peer, c)
      this.refused.delete(peer)
      clearTimeout(this.timers.get(peer))
      this.timers.delete(peer)
      this.init.log.debug({ peer, serial: c.serial, roles: c.roles }, 'peer admitted')
      return { roles: c.roles, capabilities: c.capabilities }
    } catch (err) {
      const why = shown.credential === undefined ? new NotAdmittedError('no credential shown: this mesh is closed') : err as Error
      // At once, yet after the SEC001 answer has gone out, so the peer learns why.
      setTimeout(() => { this.expel(peer, why.message) }, 100).unref?.()
      throw why
    }
  }

  /** A revocation list from anywhere: kept if signed by the owner and newer, then enforced and spread. */
  private async offer (input: unknown, from: string): Promise<void> {
    if (!this.closed) return
    let list: RevocationList
    try {
      list = await verifyRevocations(input, { mesh: this.own.mesh, issuer: this.own.issuer })
    } catch (err) {
      this.init.log.warn({ from, error: (err as Error).message }, 'revocation list refused')
      return
    }
    if (!this.revocations.offer(list)) return
    this.init.log.warn({ from, issuedAt: list.issuedAt, serials: list.serials.length, subjects: list.subjects.length }, 'newer revocation list taken')
    if (this.revocations.revoked(this.own)) this.init.log.error({ serial: this.own.serial }, 'this node\'s own credential is revoked: the mesh will refuse it')
    for (const [peer, c] of [...this.admitted]) {
      if (this.revocations.revoked(c)) this.expel(peer, `credential ${c.serial} revoked`)
    }
    this.spread(list)
  }

  private spread (list: RevocationList): void {
    if (this.running) this.init.pubsub().publish(REVOCATIONS_TOPIC, list).catch(() => {})
  }

  private expel (peer: string, reason: string): void {
    this.admitted.delete(peer)
    this.refused.add(peer)
    if (this.refused.size > MAX_REFUSED) this.refused.delete(this.refused.values().next().value as string)
    if (!this.running || !this.connected(peer)) return
    this.init.log.warn({ peer, reason }, 'peer not admitted: disconnecting')
    this.init.libp2p.hangUp(peerIdFromString(peer)).catch(() => {})
  }

  private connected (peer: string): boolean {
    try {
      return this.init.libp2p.getConnections(peerIdFromString(peer)).length > 0
    } catch {
      return false
    }
  }
}
