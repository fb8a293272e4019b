/**
 * Request bodies and JSON answers for the gateway's HTTP bindings: a body is read up to a bound
 * (past it the read stops and the client gets 413, not the node's memory), parsed with the
 * mesh's own nesting bound, and every answer is JSON with the correlation id in a header.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { AbortError, AgentMeshError, SerializationError } from '../../protocols/core/errors.js'
import { parseJson } from '../../protocols/core/json.js'
import { errorBody, httpStatusOf } from '../operations/errors.js'

/** A body past the gateway's limit (HTTP 413; code MSG002 in the body). */
export class BodyTooLargeError extends AgentMeshError {
  constructor (limit: number) {
    super('MSG002', `request body over the limit of ${limit} bytes`)
    this.name = 'BodyTooLargeError'
  }
}

/**
 * The raw body, at most `limit` bytes (BodyTooLargeError past it, the request destroyed and the
 * rest not read). Read from 'data' events: a `for await` over the request costs an async iterator
 * and its end-of-stream watcher per request, a few percent of a small request's CPU.
 */
export async function readBody (req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'])
  if (Number.isFinite(declared) && declared > limit) throw new BodyTooLargeError(limit)
  if (req.readableEnded) return Buffer.alloc(0)
  // Gone already: no event would come to settle the wait.
  if (req.destroyed) throw new AbortError('the client went away before its request body ended')
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const settle = (err?: Error): void => {
      req.off('data', onData).off('end', onEnd).off('error', onError).off('close', onClose)
      if (err !== undefined) reject(err)
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks))
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size <= limit) { chunks.push(chunk); return }
      settle(new BodyTooLargeError(limit))
      req.destroy()
    }
    const onEnd = (): void => { settle() }
    // A request stream fails only with its connection ("aborted", ECONNRESET): the client is gone (499), not the gateway.
    const onError = (err: Error): void => { settle(new AbortError('the client went away before its request body ended', { cause: err })) }
    const onClose = (): void => { settle(new AbortError('the client went away before its request body ended')) }
    req.on('data', onData).on('end', onEnd).on('error', onError).on('close', onClose)
  })
}

/** The body parsed as JSON (an empty body is undefined); malformed or too deeply nested JSON is MSG002. */
export async function readJson (req: IncomingMessage, limit: number): Promise<unknown> {
  const raw = await readBody(req, limit)
  if (raw.length === 0) return undefined
  try {
    return parseJson(raw.toString('utf8'), raw.length)
  } catch (err) {
    throw new SerializationError(`request body: ${(err as Error).message.replace(/^frame /, '')}`, { cause: err })
  }
}

/** Answers `value` as JSON with `status`. */
export function sendJson (res: ServerResponse, status: number, value: unknown, correlationId?: string): void {
  const body = JSON.stringify(value)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...(correlationId !== undefined ? { 'x-correlation-id': correlationId } : {})
  })
  res.end(body)
}

/** Answers an error as the spec's code in a JSON body, with the status that fits it (413 for a body too large). */
export function sendError (res: ServerResponse, err: unknown, correlationId?: string): number {
  const status = err instanceof BodyTooLargeError ? 413 : httpStatusOf(err)
  if (!res.headersSent) sendJson(res, status, errorBody(err), correlationId)
  else res.destroy()
  return status
}
