/**
 * A conversation on one libp2p stream: length-prefixed frames (as on /agentmesh/rpc), each a
 * JSON message checked against a schema, or raw bytes. The protocols whose exchanges are a
 * conversation rather than a call (negotiation's rounds, a model's chunks) use it: the stream
 * is the conversation, and closing it ends it.
 */
import type { Libp2p, Stream } from '@libp2p/interface'
import { peerIdOf } from '../core/peer-keys.js'
import type { z } from 'zod'
import { AbortError, ConnectionError, TimeoutError, ValidationError } from '../core/errors.js'
import { parseJson } from '../envelope/codec.js'
import { deadline } from '../core/deadline.js'
import { FrameDecoder, joinFrames } from './frames.js'

/**
 * Open a conversation with `peer` on `protocol`; a failed dial is a ConnectionError (COM002)
 * naming both. The stream is added to `open`, so the owner's stop() can abort it. `dialTimeoutMs`
 * bounds the opening within `signal` (a conversation's signal may allow minutes; libp2p's own cap
 * on one address is raised for the seeds' join, node/libp2p.ts).
 */
export async function dialFramed (
  libp2p: Libp2p, peer: string, protocol: string, maxFrameBytes: number, open: Set<Stream>, signal: AbortSignal, dialTimeoutMs?: number
): Promise<FramedStream> {
  let stream: Stream
  const limit = dialTimeoutMs !== undefined ? deadline(dialTimeoutMs, signal) : undefined
  try {
    stream = await libp2p.dialProtocol(peerIdOf(peer), protocol, { signal: limit?.signal ?? signal })
  } catch (err) {
    throw new ConnectionError(`cannot open ${protocol} to ${peer}: ${(err as Error).message}`, { cause: err })
  } finally {
    limit?.clear()
  }
  open.add(stream)
  return new FramedStream(stream, maxFrameBytes)
}

export class FramedStream {
  private readonly decoder: FrameDecoder
  private readonly source: AsyncIterator<Uint8Array | { subarray: () => Uint8Array }>
  private readonly ready: Uint8Array[] = []
  private ended = false

  constructor (readonly stream: Stream, maxFrameBytes: number) {
    this.decoder = new FrameDecoder(maxFrameBytes)
    this.source = (stream as unknown as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]()
  }

  /** Write one frame, waiting for the stream to drain when its buffer is full (backpressure). */
  async write (frame: Uint8Array, signal?: AbortSignal): Promise<void> {
    if (!this.stream.send(joinFrames([frame]))) await this.stream.onDrain({ signal })
  }

  async writeJson (message: unknown, signal?: AbortSignal): Promise<void> {
    await this.write(Buffer.from(JSON.stringify(message)), signal)
  }

  /** The next frame, or undefined once the remote closed its side. */
  async read (signal?: AbortSignal): Promise<Uint8Array | undefined> {
    while (this.ready.length === 0) {
      if (this.ended) return undefined
      const next = await race(this.source.next(), signal)
      if (next.done === true) { this.ended = true; continue }
      const chunk = next.value instanceof Uint8Array ? next.value : next.value.subarray()
      for (const frame of this.decoder.push(chunk)) this.ready.push(frame)
    }
    return this.ready.shift()
  }

  /** The next message, checked: MSG002 if it is not JSON (or nested too deep), MSG001 if it is not what `schema` says. */
  async readJson<S extends z.ZodType> (schema: S, signal?: AbortSignal): Promise<z.output<S>> {
    const frame = await this.read(signal)
    if (frame === undefined) throw new ConnectionError('the peer ended the conversation')
    const raw = parseJson(Buffer.from(frame.buffer, frame.byteOffset, frame.byteLength).toString('utf8'), frame.byteLength)
    const parsed = schema.safeParse(raw)
    if (!parsed.success) throw new ValidationError(parsed.error.issues.map(i => `${i.path.join('.')}: ${i.message}`).join('; '))
    return parsed.data
  }

  async close (): Promise<void> { await this.stream.close().catch(() => { this.stream.abort(new Error('close failed')) }) }

  abort (err: Error): void { this.stream.abort(err) }
}

async function race<T> (p: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (signal === undefined) return await p
  if (signal.aborted) throw reasonOf(signal)
  return await new Promise<T>((resolve, reject) => {
    const onAbort = (): void => { reject(reasonOf(signal)) }
    signal.addEventListener('abort', onAbort, { once: true })
    p.then((v) => { signal.removeEventListener('abort', onAbort); resolve(v) }, (e) => { signal.removeEventListener('abort', onAbort); reject(e) })
  })
}

function reasonOf (signal: AbortSignal): Error {
  const r = signal.reason as Error | undefined
  if (r?.name === 'TimeoutError') return new TimeoutError('the conversation timed out')
  return r instanceof Error ? r : new AbortError()
}
