/**
 * Which members are new to the mesh, as this node's member view saw them come: the answer to
 * HyParView's `newcomer` (hyparview.ts), which walks out and takes at a walk's end only a
 * newcomer. A member is new from when it was first heard of, or came back from offline or left
 * (a restart, a partition healed: it needs links again), for `windowMs`.
 *
 * What does not make a member new, since an insider controls it: a suspicion refuted (a state's
 * since, failure-detector.ts, moves on every change: skipping one probe and refuting made an
 * insider new again at will, the review of ad6cf10), and a coming within `RETURN_AFTER` windows
 * of its last one (a signed leave and a statement at the next incarnation brought it back from
 * left at once, the review of 8f0ff4a). A member that restarts more often than that joins as one
 * of long standing: taken where there is room, else it asks its reserve.
 */
import type { MemberState } from './failure-detector.js'

/** How many windows a member's last coming is remembered, within which it comes back as no newcomer. */
export const RETURN_AFTER = 10

export class Newcomers {
  /** When each newcomer came, oldest first: pruned from the front. */
  private readonly came = new Map<string, number>()
  /** When each member last came (newcomer or not), oldest first, for RETURN_AFTER windows. */
  private readonly last = new Map<string, number>()

  constructor (private readonly windowMs: number) {}

  /** A member's state changed (the member view's `member:change`). */
  change (peer: string, from: MemberState | 'unknown', to: MemberState, now: number): void {
    prune(this.came, now - this.windowMs)
    prune(this.last, now - RETURN_AFTER * this.windowMs)
    if (from !== 'unknown' && from !== 'offline' && from !== 'left') return
    if (to !== 'alive' && to !== 'suspect') return
    const before = this.last.get(peer)
    this.last.delete(peer)
    this.last.set(peer, now)
    if (before !== undefined) return
    this.came.delete(peer)
    this.came.set(peer, now)
  }

  /** Whether `peer` came, as a newcomer, within the window. */
  isNew (peer: string, now: number): boolean {
    const at = this.came.get(peer)
    return at !== undefined && now - at < this.windowMs
  }
}

/** Drops the entries of `seen` (oldest first) from before `since`. */
function prune (seen: Map<string, number>, since: number): void {
  for (const [peer, at] of seen) {
    if (at >= since) return
    seen.delete(peer)
  }
}
