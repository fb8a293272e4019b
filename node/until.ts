/** Waiting on a condition that events change, for the node's waitFor-style methods. */
import { abortReason } from '../protocols/rpc/channel.js'

interface Target { addEventListener: (type: any, fn: any) => void, removeEventListener: (type: any, fn: any) => void }

/**
 * Resolves with what `check` returns once it is not undefined: checked now and after each
 * `event` of `target` (with the event). Rejects with the signal's reason when it fires.
 * `recheckMs`, if it gives a number, checks again after that long too: for a condition that
 * also turns true with no event.
 */
export async function until<T> (
  target: Target, event: string, check: (e?: Event) => T | undefined, signal?: AbortSignal, recheckMs?: () => number | undefined
): Promise<T> {
  const now = check()
  if (now !== undefined) return now
  if (signal?.aborted === true) throw abortReason(signal)
  return await new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const onEvent = (e?: Event): void => {
      if (timer !== undefined) clearTimeout(timer)
      timer = undefined
      const got = check(e)
      if (got !== undefined) { cleanup(); resolve(got); return }
      const ms = recheckMs?.()
      if (ms !== undefined) {
        timer = setTimeout(onEvent, ms)
        timer.unref?.()
      }
    }
    const onAbort = (): void => { cleanup(); reject(abortReason(signal as AbortSignal)) }
    const cleanup = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      target.removeEventListener(event, onEvent)
      signal?.removeEventListener('abort', onAbort)
    }
    target.addEventListener(event, onEvent)
    signal?.addEventListener('abort', onAbort, { once: true })
    onEvent()
  })
}
