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

/**
 * A controller of ours whose signal many waits listen to at once (a service's stop, a channel's
 * close): any number of listeners, each removed when its wait ends. Node's default of ten would
 * print MaxListenersExceededWarning into the host's output for what is no leak.
 */
export function sharedController (): AbortController {
  const controller = new AbortController()
  setMaxListeners(Infinity, controller.signal)
  return controller
}
