/**
 * Server-sent events for the A2A streams (SendStreamingMessage, SubscribeToTask), shared by the
 * JSON-RPC and HTTP+JSON bindings: the first event is awaited before the headers go, so an
 * error before the stream starts is an ordinary error answer; later errors are an `error`
 * event. A client that goes, or the gateway stopping, ends the stream (`signal`); a client that
 * does not read holds the stream at `drain` (the task's updates are few: nothing piles up).
 */
import type { ServerResponse } from 'node:http'
import { SSE_HEADERS, formatSSEErrorEvent, formatSSEEvent } from '@a2a-js/sdk'

export interface SseOptions {
  res: ServerResponse
  correlationId: string
  keepAliveMs: number
  signal: AbortSignal
  /** The error event's data for an error thrown mid-stream. */
  errorEvent: (err: unknown) => unknown
  /** Answers an error thrown before the first event (headers not yet sent); resolves with the status. */
  answerError: (err: unknown) => number
}

/** Streams `events` (each already in its wire form); resolves with the HTTP status sent. */
export async function streamSse (events: AsyncGenerator<unknown>, o: SseOptions): Promise<number> {
  const { res, signal } = o
  let first: IteratorResult<unknown>
  try {
    first = await events.next()
  } catch (err) {
    return o.answerError(err)
  }
  res.writeHead(200, { ...SSE_HEADERS, 'x-correlation-id': o.correlationId })
  res.flushHeaders()
  const keepAlive = setInterval(() => { res.write(': keep-alive\n\n') }, o.keepAliveMs)
  const stop = (): void => { void events.return(undefined) }
  signal.addEventListener('abort', stop, { once: true })
  try {
    if (first.done !== true) await write(res, formatSSEEvent(first.value), signal)
    for await (const e of delegate(events)) {
      if (signal.aborted) break
      await write(res, formatSSEEvent(e), signal)
    }
  } catch (err) {
    if (!res.writableEnded) res.write(formatSSEErrorEvent(o.errorEvent(err)))
  } finally {
    clearInterval(keepAlive)
    signal.removeEventListener('abort', stop)
    if (!res.writableEnded) res.end()
  }
  return 200
}

/** The rest of an iterator already started, as an iterable (for await would call [Symbol.asyncIterator] on it again). */
function delegate<T> (it: AsyncGenerator<T>): AsyncIterable<T> {
  return { [Symbol.asyncIterator]: () => it }
}

async function write (res: ServerResponse, chunk: string, signal: AbortSignal): Promise<void> {
  if (res.write(chunk) || signal.aborted) return
  await new Promise<void>(resolve => {
    const done = (): void => { res.off('drain', done); signal.removeEventListener('abort', done); resolve() }
    res.once('drain', done)
    signal.addEventListener('abort', done, { once: true })
  })
}
