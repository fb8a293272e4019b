/**
 * Peer id <-> slot number: where each member's notes sit in the columns of a member table (the
 * failure detector's, the table's own, the digest's sums). A node's table owns one, and gives a
 * forgotten peer's slot to the next newcomer (`release`). The scale simulation hands one to every
 * agent's table: the same peer has the same slot everywhere, so the map from peer to slot is
 * stored once for N agents, not once each.
 *
 * Why: that map was a quarter of what an (agent, member) pair cost the simulation (bench:sim at
 * 1,000 agents: ~29 B of 142, a map entry each; ~46 B at 10,000, the map then at 16,384 entries),
 * and every agent's held the same N peers.
 */
export class SlotDirectory {
  private readonly slots = new Map<string, number>()
  private readonly peers: Array<string | undefined> = []
  private readonly freed: number[] = []

  /** The slot of `peer`, if it has one. */
  slotOf (peer: string): number | undefined { return this.slots.get(peer) }

  /** The slot of `peer`, given one if it has none (a freed one first). */
  take (peer: string): number {
    const at = this.slots.get(peer)
    if (at !== undefined) return at
    const slot = this.freed.pop() ?? this.peers.length
    this.slots.set(peer, slot)
    this.peers[slot] = peer
    return slot
  }

  /** The peer in `slot`. */
  peerAt (slot: number): string | undefined { return this.peers[slot] }

  /** Slots below it may be taken: a walk of the columns ends there. */
  get end (): number { return this.peers.length }

  /** `peer` lets its slot go, for the next peer taken (only a table that owns the directory calls it). */
  release (peer: string): void {
    const at = this.slots.get(peer)
    if (at === undefined) return
    this.slots.delete(peer)
    this.peers[at] = undefined
    this.freed.push(at)
  }
}
