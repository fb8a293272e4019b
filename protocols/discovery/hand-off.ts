/**
 * Seeds hand newcomers on. Every newcomer joins through a seed (bootstrap.ts) and kept that
 * connection for good, while a node takes at most `connections.maxInbound` inbound connections
 * (200; the gater refuses the rest before Noise): a seed that had taken 200 newcomers refused
 * every later one, which then never joined. With one seed, a mesh of more than ~200 agents could
 * not form; with three, ~600 (the scale simulation at 1,000 agents: 203 never joined).
 *
 * So a node holding more inbound connections than three quarters of its cap asks the agents
 * whose connections are oldest (and past `connections.handOffAfterMs`: their join is done) to
 * let go, until half the cap is left. An agent agrees when it holds connections to half its
 * `targetPeers` of other agents (its dialer then tops them up) and needs no link to the asker
 * (a voter keeps its links to the other voters and the coordinator); then both
 * sides know the close is agreed: the asker does not probe the agent for it, the agent neither
 * probes the asker nor redials it as its seed (`expects`), and the asker closes. The agent then
 * dials a random live member in place of the link it let go, so those handed on do not end up
 * linked only among themselves. Voters and the coordinator are never asked, nor, before a first
 * voter set exists, the agents the election may ask (the proposal's voters, the agents met first:
 * the oldest connections), and an agent keeps its link to those. An agent that says no, or a build without the command
 * (UnknownCommandError), keeps its connection. Only the agent's inbound connections are closed:
 * one this node dialled itself (a topic or voter link) stays. libp2p's connection manager prunes only past
 * `maxConnections` (300), above the gater's cap, and asks nobody.
 */
import { z } from 'zod'
import type { Libp2p } from '@libp2p/interface'
import { peerIdOf } from '../core/peer-keys.js'
import { defineCommand, type RpcService } from '../rpc/index.js'
import type { Startable } from '../core/service.js'

export const HandOff = defineCommand('$agentmesh/hand-off', {
  request: z.strictObject({}),
  response: z.strictObject({ accepted: z.boolean() })
})

/** How often the inbound connections are looked over. */
const ROUND_MS = 2_000
/** Agents asked a round at most. */
const PER_ROUND = 8
/** An agreed close is expected this long (the close itself follows at once). */
const EXPECT_MS = 30_000
/** How long an agent is given to answer: one that agreed after it is left connected (its mark expires). */
const ASK_TIMEOUT_MS = 5_000
/** An agent that let a connection go dials another member this long after (the close comes first). */
const REPLACE_AFTER_MS = 500

export interface HandOffInit {
  libp2p: Libp2p
  rpc: RpcService
  /** The inbound connections this node takes (the gater's cap); 0 no cap: nothing is handed on. */
  maxInbound: number
  /** An inbound connection younger than this is never handed on. */
  afterMs: number
  /**
   * Connections to other agents an agent must hold to agree: half the peer dialer's targetPeers,
   * at least 1 (its dialer counts the seed among them; after the close it dials another).
   */
  enough: number
  /** Whether an agent is alive in the member view (clients and strangers are not asked). */
  alive: (peer: string) => boolean
  /** The voter set this node holds and the coordinator it follows. */
  voters: () => readonly string[]
  leader: () => string | undefined
  /**
   * Whom this node's election may ask before a first voter set exists (the proposal's voters, the
   * agents it met first: its oldest connections), connected or not: their links are kept, or the
   * question dials them straight back. Empty once a set is held.
   */
  bootstrapContacts: () => readonly string[]
  /**
   * This node's live members (peer ids) and a dial of one by peer id: an agent that let a
   * connection go dials a random member in its place. Without it, agents handed on kept only the
   * links among themselves, and three of them ended up an island that learnt no member joining
   * after (CI-local, 13 agents with targetPeers 3: one member unknown to three agents for a minute).
   */
  members: () => string[]
  dial: (peer: string, signal: AbortSignal) => Promise<void>
  dialTimeoutMs: number
  /** Counted: asked (this node asked), given (an agent agreed), taken (this node agreed), refused (this node said no). */
  count?: (what: 'asked' | 'given' | 'taken' | 'refused') => void
}

export class HandOffs implements Startable {
  private readonly init: HandOffInit
  private readonly expected = new Map<string, number>()
  /** Agents that said no (or did not answer), not asked again before then: the next oldest are. */
  private readonly declined = new Map<string, number>()
  private timer?: ReturnType<typeof setInterval>
  private unhandle?: () => void
  private busy = false
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  /** Past three quarters of the cap, until half is left. */
  private draining = false

  constructor (init: HandOffInit) { this.init = init }

  start (): void {
    if (this.unhandle !== undefined) return
    this.unhandle = this.init.rpc.handle(HandOff, (_req, ctx) => ({ accepted: this.agree(ctx.peer) }))
    if (this.init.maxInbound > 0) {
      this.timer = setInterval(() => { void this.round() }, ROUND_MS)
      this.timer.unref?.()
    }
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.unhandle?.()
    this.unhandle = undefined
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.expected.clear()
    this.declined.clear()
  }

  /** Whether the connection to `peer` was closed by agreement (lately): no probe, no redial for it. */
  expects (peer: string): boolean {
    const until = this.expected.get(peer)
    if (until === undefined) return false
    if (until > Date.now()) return true
    this.expected.delete(peer)
    return false
  }

  private others (but: string): number {
    const peers = new Set<string>()
    for (const c of this.init.libp2p.getConnections()) {
      const p = c.remotePeer.toString()
      if (p !== but && c.status === 'open' && this.init.alive(p)) peers.add(p)
    }
    return peers.size
  }

  /** Asked by `peer` to let its connection go. */
  private agree (peer: string): boolean {
    const voters = this.init.voters()
    const self = this.init.libp2p.peerId.toString()
    // A voter keeps its links to the other voters and to the coordinator (its heartbeats); a non-voter needs none.
    // Before a first set, the agents its election may ask (bootstrapContacts).
    const needed = (voters.includes(self) && (voters.includes(peer) || this.init.leader() === peer)) || this.init.bootstrapContacts().includes(peer)
    if (needed || this.others(peer) < Math.max(1, this.init.enough)) {
      this.init.count?.('refused')
      return false
    }
    this.expected.set(peer, Date.now() + EXPECT_MS)
    this.init.count?.('taken')
    const replace = setTimeout(() => { this.timers.delete(replace); void this.replace(peer) }, REPLACE_AFTER_MS)
    this.timers.add(replace)
    return true
  }

  /** A link in place of the one let go: a random live member this node is not connected to. */
  private async replace (asker: string): Promise<void> {
    if (this.unhandle === undefined) return
    const connected = new Set(this.init.libp2p.getConnections().map(c => c.remotePeer.toString()))
    const self = this.init.libp2p.peerId.toString()
    const candidates = this.init.members().filter(p => p !== self && p !== asker && !connected.has(p))
    if (candidates.length === 0) return
    const pick = candidates[Math.floor(Math.random() * candidates.length)]
    await this.init.dial(pick, AbortSignal.timeout(this.init.dialTimeoutMs)).catch(() => {})
  }

  private async round (): Promise<void> {
    if (this.busy) return
    const { libp2p, maxInbound } = this.init
    const high = Math.floor(maxInbound * 3 / 4)
    const low = Math.floor(maxInbound / 2)
    const inbound = libp2p.getConnections().filter(c => c.direction === 'inbound' && c.status === 'open')
    const now = Date.now()
    for (const marks of [this.declined, this.expected]) for (const [p, until] of marks) if (until <= now) marks.delete(p)
    if (inbound.length > high) this.draining = true
    if (inbound.length <= low) this.draining = false
    if (!this.draining) return
    // Before a first voter set, the election asks the agents this node met first (bootstrap-check.ts),
    // its oldest connections, which a round would hand on: the question dialled them straight back
    // (hand-off.test, four agents in the loop at load 7). Those are kept, the rest handed on.
    const keep = new Set([...this.init.voters(), this.init.leader(), ...this.init.bootstrapContacts()])
    const oldest = new Map<string, number>()
    for (const c of inbound) {
      const p = c.remotePeer.toString()
      if (keep.has(p) || this.declined.has(p) || !this.init.alive(p) || now - c.timeline.open < this.init.afterMs) continue
      oldest.set(p, Math.min(oldest.get(p) ?? Infinity, c.timeline.open))
    }
    const ask = [...oldest].sort((a, b) => a[1] - b[1]).slice(0, Math.min(PER_ROUND, inbound.length - low)).map(([p]) => p)
    this.busy = true
    try {
      await Promise.all(ask.map(async peer => {
        this.init.count?.('asked')
        const answer = await this.init.rpc.request(peer, HandOff, {}, { timeoutMs: ASK_TIMEOUT_MS }).catch(() => undefined)
        if (answer?.accepted !== true) { this.declined.set(peer, Date.now() + EXPECT_MS); return }
        if (this.timer === undefined) return
        this.expected.set(peer, Date.now() + EXPECT_MS)
        this.init.count?.('given')
        // Its inbound connections only: one this node dialled itself (a topic or voter link) is its own to keep.
        const theirs = libp2p.getConnections(peerIdOf(peer)).filter(c => c.direction === 'inbound')
        await Promise.all(theirs.map(async c => { await c.close({ signal: AbortSignal.timeout(ROUND_MS) }).catch((err: Error) => { c.abort(err) }) }))
      }))
    } finally {
      this.busy = false
    }
  }
}
