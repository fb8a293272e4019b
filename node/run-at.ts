/** Timers at a wall-clock time, however far away (a credential's expiry, up to a year ahead). */

/** setTimeout's longest delay (~24.8 days): longer waits are re-armed. */
const MAX_DELAY_MS = 2 ** 31 - 1

/** Run `fn` at the time `at` (ms since the epoch), however far away; returns the cancel. The timer does not hold the process open. */
export function runAt (at: number, fn: () => void): () => void {
  let t: ReturnType<typeof setTimeout>
  const arm = (): void => {
    const left = at - Date.now()
    t = setTimeout(left > MAX_DELAY_MS ? arm : fn, Math.max(0, Math.min(left, MAX_DELAY_MS)))
    t.unref?.()
  }
  arm()
  return () => { clearTimeout(t) }
}
