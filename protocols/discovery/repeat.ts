/**
 * The member view's periodic timers: each runs every `ms` with ±10% jitter (agents started
 * together do not act in lockstep), is told how late it ran (LocalHealth reads it), and all stop
 * at once.
 */
import { jittered } from '../core/jitter.js'

export class Repeaters {
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()

  constructor (private readonly running: () => boolean) {}

  every (ms: number, fn: (lateness: number) => void): void {
    const after = (wait: number): void => {
      const due = Date.now() + wait
      const t = setTimeout(() => {
        this.timers.delete(t)
        if (!this.running()) return
        fn(Date.now() - due)
        after(jittered(ms, 0.1))
      }, wait)
      t.unref?.()
      this.timers.add(t)
    }
    // The first run at a random point of the first period.
    after(Math.random() * ms)
  }

  clear (): void {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }
}
