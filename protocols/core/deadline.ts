/**
 * A signal that aborts at a deadline (none: `Infinity`) or when any of the given signals does.
 *
 * Not `AbortSignal.any([..., AbortSignal.timeout(ms)])`: on Node 20, `AbortSignal.any` holds its
 * sources weakly, and a timeout signal nobody else holds can be garbage-collected before it
 * fires (nodejs/node#57736, fixed in later lines): the deadline then never comes, and a dial or a
 * read waits for good. Here the timer holds the controller, and `clear()` drops the timer and the
 * listeners added to long-lived signals (a service's stopping signal), so call it when done.
 */
export interface Deadline {
  signal: AbortSignal
  clear: () => void
}

export function deadline (timeoutMs: number, ...signals: Array<AbortSignal | undefined>): Deadline {
  const controller = new AbortController()
  const sources = signals.filter((s): s is AbortSignal => s !== undefined)
  const onAbort = (e: Event): void => { finish((e.target as AbortSignal).reason) }
  // Like AbortSignal.timeout: its reason is a TimeoutError DOMException, and it keeps no process alive.
  // An infinite deadline has no timer (setTimeout would take it for 1 ms): the signals alone end it.
  const timer = Number.isFinite(timeoutMs)
    ? setTimeout(() => { finish(new DOMException('The operation was aborted due to timeout', 'TimeoutError')) }, Math.max(0, timeoutMs))
    : undefined
  timer?.unref?.()
  function clear (): void {
    clearTimeout(timer)
    for (const s of sources) s.removeEventListener('abort', onAbort)
  }
  function finish (reason: unknown): void {
    clear()
    if (!controller.signal.aborted) controller.abort(reason)
  }
  for (const s of sources) {
    if (s.aborted) { finish(s.reason); break }
    s.addEventListener('abort', onAbort, { once: true })
  }
  return { signal: controller.signal, clear }
}

/** `work`'s outcome, or `signal`'s abort reason as soon as it fires (the work itself goes on). */
export async function untilAborted<T> (work: Promise<T>, signal: AbortSignal, reason: (signal: AbortSignal) => unknown = s => s.reason): Promise<T> {
  if (signal.aborted) throw reason(signal)
  let onAbort: (() => void) | undefined
  const aborted = new Promise<never>((resolve, reject) => {
    onAbort = () => { reject(reason(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort as () => void)
  }
}
