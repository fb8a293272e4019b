/**
 * The member view's one timer, at its next probe or suspicion deadline, held back once when it
 * fires late. A timer that fires well after its time says this process was not running (a long
 * garbage collection, a busy machine, 25 agents sharing one event loop): the probe answers and
 * refutations that came meanwhile wait unread in the sockets, and Node runs due timers before it
 * reads them. Acting then would declare peers suspect or offline for this process's own stall;
 * instead the deadline is held for `holdMs` so the loop reads what waits, and only then applied.
 * Lifeguard's local health awareness (memberlist) has the same aim: a node that is itself slow
 * should not take its timeouts as the others' failures. The election does likewise for leader
 * silence (protocols/coordination/election-service.ts).
 */
export class DeadlineTimer {
  private timer?: ReturnType<typeof setTimeout>
  /** Deadlines are not applied before this time: the end of the current hold. */
  private holdUntil = 0

  constructor (private readonly init: { lateMs: number, holdMs: number, fire: (now: number) => void }) {}

  /** (Re)arm at `deadline`; undefined clears. */
  arm (deadline: number | undefined): void {
    this.clear()
    if (deadline === undefined) return
    const due = Math.max(deadline, this.holdUntil)
    this.timer = setTimeout(() => {
      this.timer = undefined
      const now = Date.now()
      if (now - due > this.init.lateMs && this.holdUntil < due) {
        this.holdUntil = now + this.init.holdMs
        this.arm(deadline)
        return
      }
      this.init.fire(now)
    }, Math.max(0, due - Date.now()))
    this.timer.unref?.()
  }

  clear (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
