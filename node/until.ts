/** Waiting on a condition that events change, for the node's waitFor-style methods. */
import { abortReason } from '../protocols/rpc/channel.js'

interface Target { addEventListener: (type: any, fn: any) => void, removeEventListener: (type: any, fn: any) => void }

/**
 * Resolves with what `check` returns once it is not undefined: checked now and after each
 * `event` of `target` (with the event). Rejects with the signal's reason when it fires.
 */
export async function until<T> (
  target: Target, event: string, check: (e?: Event) => T | undefined, signal?: AbortSignal
): Promise<T> {
  const now = check()
  if (now !== undefined) return now
  if (signal?.aborted === true) throw abortReason(signal)
  return await new Promise<T>((resolve, reject) => {
    const onEvent = (e?: Event): void => {
      const got = check(e)
      if (got !== undefined) { cleanup(); resolve(got) }
    }
    const onAbort = (): void => { cleanup(); reject(abortReason(signal as AbortSignal)) }
    const cleanup = (): void => {
      target.removeEventListener(event, onEvent)
      signal?.removeEventListener('abort', onAbort)
    }
    target.addEventListener(event, onEvent)
    signal?.addEventListener('abort', onAbort, { once: true })
    onEvent()
  })
}
