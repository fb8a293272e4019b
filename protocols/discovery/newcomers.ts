/**
 * Which members are new to the mesh, as this node's member view saw them come: the answer to
 * HyParView's `newcomer` (hyparview.ts), which walks out and takes at a walk's end only a
 * newcomer. A member is new from when it was first heard of, or came back from offline or left
 * (a restart, a partition healed: it needs links again), for `windowMs`. A suspicion refuted is
 * no return: a member's state since (failure-detector.ts `since`) moves on every change, and an
 * insider that let one probe go unanswered, then refuted, was new again for as long as it liked
 * (the review of ad6cf10).
 */
import type { MemberState } from './failure-detector.js'

export class Newcomers {
  /** When each newcomer came, oldest first (a return moves it to the end): pruned from the front. */
  private readonly came = new Map<string, number>()

  constructor (private readonly windowMs: number) {}

  /** A member's state changed (the member view's `member:change`). */
  change (peer: string, from: MemberState | 'unknown', to: MemberState, now: number): void {
    this.prune(now)
    if (from !== 'unknown' && from !== 'offline' && from !== 'left') return
    if (to !== 'alive' && to !== 'suspect') return
    this.came.delete(peer)
    this.came.set(peer, now)
  }

  /** Whether `peer` came within the window. */
  isNew (peer: string, now: number): boolean {
    const at = this.came.get(peer)
    return at !== undefined && now - at < this.windowMs
  }

  private prune (now: number): void {
    for (const [peer, at] of this.came) {
      if (now - at < this.windowMs) return
      this.came.delete(peer)
    }
  }
}
