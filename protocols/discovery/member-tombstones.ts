/**
 * What is kept of a reaped member (issue 13): the seq and incarnation of the last statement this
 * node held of it. Its statement was dropped from the table and from what full exchanges carry,
 * but copies of it, or of older ones, may still come by (a relay that has not reaped it yet, or
 * anyone replaying them): without the tombstone each would list the agent again, as alive, for
 * good (nobody probes an agent that is connected to nobody). A statement of a reaped member is
 * taken only when it is newer on both counts that matter: a seq above the last held (it said
 * something since) and an incarnation not below it. A restarted agent starts both from the clock,
 * so its first statement passes; an agent seen again through a connection here is taken at once
 * (`clear`). Pure: no time, no I/O; at most `max` kept, the oldest forgotten first.
 */
export interface Tombstone { seq: number, incarnation: number }

export class Tombstones {
  private readonly dead = new Map<string, Tombstone>()
  constructor (private readonly max: number) {}

  get size (): number { return this.dead.size }

  bury (peer: string, t: Tombstone): void {
    this.dead.delete(peer)
    this.dead.set(peer, t)
    while (this.dead.size > this.max) this.dead.delete(this.dead.keys().next().value as string)
  }

  /** Whether a statement of `peer` numbered `seq` at `incarnation` is an old word of a reaped member. */
  buries (peer: string, seq: number, incarnation: number): boolean {
    const t = this.dead.get(peer)
    return t !== undefined && (seq <= t.seq || incarnation < t.incarnation)
  }

  /** The member is back (a fresh statement of its own, or a connection here). */
  clear (peer: string): void { this.dead.delete(peer) }
}
