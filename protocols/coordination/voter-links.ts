/**
 * Voters keep a connection to each other. A node holds connections to a few of the mesh's agents
 * (its member dialer's targetPeers, and whoever dialled it), and the leader to every voter for its
 * heartbeats; but nothing connects the other voters among themselves, and in a mesh of 200 two
 * voters are connected by chance one time in ten. When the leader dies, every pre-vote and vote
 * of the election that replaces it then waits for a new connection first: a TCP connect, two
 * multistream-selects and a Noise handshake between two processes that may both lag (bench:scale).
 * Raft assumes its voters can reach each other at once; this makes it so before it is needed.
 *
 * Of each pair of voters, the one with the lower peer id dials (so a pair makes one connection,
 * not two that cross); a failed dial is tried again next round. Nothing is closed here: a link
 * to an agent that is no longer a voter is an ordinary connection, pruned like any other.
 */
import type { Startable } from '../core/service.js'
import { deadline } from '../core/deadline.js'
import { jittered } from '../core/jitter.js'

export interface VoterLinksInit {
  self: string
  /** The voter set this node holds (empty before it holds one). */
  voters: () => string[]
  connected: (peerId: string) => boolean
  /** Dial the agent by peer id (its addresses are in the peer store); rejects when it cannot. */
  dial: (peerId: string, signal: AbortSignal) => Promise<void>
  /** How often the links are checked (jittered by up to half either way); 0 never. */
  intervalMs: number
  dialTimeoutMs: number
}

export class VoterLinks implements Startable {
  private readonly init: VoterLinksInit
  private timer?: ReturnType<typeof setTimeout>
  private controller?: AbortController
  /** Dials under way, by peer: one at a time to each. */
  private readonly dialing = new Set<string>()
  /** Dials made and those that connected (for the tests). */
  readonly counts = { attempts: 0, connected: 0 }

  constructor (init: VoterLinksInit) { this.init = init }

  start (): void {
    if (this.controller !== undefined || this.init.intervalMs <= 0) return
    this.controller = new AbortController()
    this.schedule()
  }

  stop (): void {
    this.controller?.abort()
    this.controller = undefined
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }

  /** Check now (the voter set changed): a new voter is linked before the next round. */
  check (): void {
    const running = this.controller
    if (running === undefined) return
    const voters = this.init.voters()
    if (!voters.includes(this.init.self)) return
    for (const peer of voters) {
      // The lower id of each pair dials; the other waits for it.
      if (peer <= this.init.self || this.dialing.has(peer) || this.init.connected(peer)) continue
      void this.link(peer, running.signal)
    }
  }

  private schedule (): void {
    const running = this.controller
    if (running === undefined) return
    const wait = Math.round(jittered(this.init.intervalMs, 0.5))
    this.timer = setTimeout(() => {
      this.timer = undefined
      if (this.controller !== running) return
      this.check()
      this.schedule()
    }, wait)
    this.timer.unref?.()
  }

  private async link (peer: string, stopped: AbortSignal): Promise<void> {
    this.dialing.add(peer)
    this.counts.attempts++
    // deadline(), not AbortSignal.any with a timeout signal: on Node 20 that timeout can be
    // collected before it fires (protocols/core/deadline.ts).
    const limit = deadline(this.init.dialTimeoutMs, stopped)
    try {
      await this.init.dial(peer, limit.signal)
      this.counts.connected++
    } catch {
      // Gone, or not reachable from here yet: the next round tries again.
    } finally {
      limit.clear()
      this.dialing.delete(peer)
    }
  }
}
