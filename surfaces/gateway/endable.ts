/**
 * Streams the gateway hands to clients that may leave at any moment. An async generator waiting
 * for its next value queues `return()` behind that wait (the next event of a quiet topic, the
 * next change of a task), so a client that unsubscribed would hold its feed until then:
 * `endable` ends at once instead, and the wait left behind settles on its own.
 */

/** `source`, whose `return()` (the client unsubscribed, or went) ends it at once: `end` frees what the source holds. */
export function endable<T> (source: AsyncIterable<T>, end: () => void): AsyncIterableIterator<T> {
  const it = source[Symbol.asyncIterator]()
  let ended = false
  let wake: (() => void) | undefined
  const stopped = new Promise<IteratorResult<T>>(resolve => { wake = () => { resolve({ done: true, value: undefined }) } })
  const finish = (): IteratorResult<T> => {
    if (!ended) {
      ended = true
      end()
      wake?.()
      void it.return?.()?.catch(() => {})
    }
    return { done: true, value: undefined }
  }
  return {
    next: async () => ended ? { done: true, value: undefined } : await Promise.race([it.next(), stopped]),
    return: async () => finish(),
    throw: async () => finish(),
    [Symbol.asyncIterator] () { return this }
  }
}

/** `source` until `signal` fires (the client went, the gateway stops), then done at once. */
export function untilAborted<T> (source: AsyncIterable<T>, signal: AbortSignal): AsyncIterableIterator<T> {
  const it = endable(source, () => {})
  if (signal.aborted) void it.return?.()
  else signal.addEventListener('abort', () => { void it.return?.() }, { once: true })
  return it
}
