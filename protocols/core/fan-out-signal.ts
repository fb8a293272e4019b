import { setMaxListeners } from 'node:events'

/**
 * One signal for the requests of a fan-out, following the caller's: every request listens to
 * it, and a node warns of a leak past ten listeners on one signal. Ours may have any number;
 * the caller's gets one listener, removed when the fan-out is done.
 */
export function fanOut (signal: AbortSignal | undefined): { signal: AbortSignal | undefined, done: () => void } {
  if (signal === undefined) return { signal: undefined, done: () => {} }
  const own = new AbortController()
  setMaxListeners(Infinity, own.signal)
  const forward = (): void => { own.abort(signal.reason) }
  if (signal.aborted) forward()
  else signal.addEventListener('abort', forward, { once: true })
  return { signal: own.signal, done: () => { signal.removeEventListener('abort', forward) } }
}
