/**
 * Deadlines on the coordinator: one timer, set for the earliest deadline of a task not finished
 * (`TaskTable.nextDeadline`). When it fires, the scheduler ends the overdue tasks
 * (`TaskTable.overdue`, `deadlinePatch`: failed, or cancelled if the task asked for that; TSK005)
 * and arms it again.
 */

/** setTimeout's longest delay; a later deadline is looked at again then. */
const MAX_DELAY_MS = 2 ** 31 - 1

export class DeadlineTimer {
  private timer?: ReturnType<typeof setTimeout>
  private readonly fire: () => void

  constructor (fire: () => void) { this.fire = fire }

  /** Fire at `at` (ms since the epoch), replacing any earlier arming; `undefined` disarms. */
  arm (at: number | undefined, now: number): void {
    this.stop()
    if (at === undefined) return
    this.timer = setTimeout(() => { this.timer = undefined; this.fire() }, Math.max(0, Math.min(at - now, MAX_DELAY_MS)))
    this.timer.unref?.()
  }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
  }
}
