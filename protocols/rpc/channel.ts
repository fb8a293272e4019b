import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { decodeEnvelope, encodeEnvelope, isExpired, makeEnvelope, peekId, type Envelope } from '../envelope/index.js'
import { AbortError, AgentMeshError, ConnectionError, SerializationError, TimeoutError, ValidationError } from '../core/errors.js'
import type { MessageMetrics } from '../envelope/metrics.js'
import type { Logger } from 'pino'
import { FrameDecoder, joinFrames } from './frames.js'

export interface ChannelInit {
  stream: Stream
  /** The authenticated peer at the other end (from Noise), as a string. */
  remotePeer: string
  localPeer: string
  maxMessageBytes: number
  window: number
  stats: MessageMetrics
  log: Logger
  /** Inbound channels: answers a request; resolves to the reply, or undefined for none. */
  serve?: (env: Envelope, channel: RpcChannel, bytes: number) => Promise<Envelope | undefined>
  /**
   * Inbound channels: abort the stream when it opens and sends nothing, or leaves a frame
   * half-sent, for this long. Either would hold one of the few stream slots per connection.
   */
  stallTimeoutMs?: number
  onClose?: (channel: RpcChannel) => void
}

interface Pending {
  resolve: (env: Envelope) => void
  reject: (err: Error) => void
}

/**
 * One long-lived stream to a peer carrying many requests at once, told apart by envelope id
 * (a response's correlationId). Writes made in the same tick leave as one buffer; reads are
 * taken from the stream's 'message' events, cheaper than its async iterator.
 */
export class RpcChannel {
  readonly stream: Stream
  readonly remotePeer: string
  private readonly init: ChannelInit
  private readonly decoder: FrameDecoder
  private readonly pending = new Map<string, Pending>()
  private readonly slotWaiters: Array<() => void> = []
  private outQueue: Uint8Array[] = []
  private flushScheduled = false
  private draining = false
  private serving = 0
  private paused = false
  private stallTimer?: ReturnType<typeof setTimeout>
  private closedError?: Error
  /** Fires when the channel closes; handlers of requests received on it see it in ctx.signal. */
  private readonly closeController = new AbortController()

  constructor (init: ChannelInit) {
    this.init = init
    this.stream = init.stream
    this.remotePeer = init.remotePeer
    this.decoder = new FrameDecoder(init.maxMessageBytes)
    this.stream.addEventListener('message', (e) => { this.onData(e.data) })
    this.stream.addEventListener('close', (e) => { this.onClosed((e as any).error) })
    this.armStallTimer('no frame')
  }

  /** Inbound only: a stream that owes us a frame gets stallTimeoutMs to deliver it. */
  private armStallTimer (what: string): void {
    const ms = this.init.stallTimeoutMs
    if (ms === undefined || ms <= 0 || this.init.serve === undefined || this.stallTimer !== undefined) return
    this.stallTimer = setTimeout(() => {
      this.init.stats.inc('streams_aborted_total', { protocol: 'rpc', reason: 'stalled' })
      this.init.log.warn({ peer: this.remotePeer, reason: what, after_ms: ms }, 'rpc stream stalled: closed')
      this.stream.abort(new TimeoutError(`${what} within ${ms} ms`))
    }, ms)
    this.stallTimer.unref?.()
  }

  private clearStallTimer (): void {
    if (this.stallTimer !== undefined) { clearTimeout(this.stallTimer); this.stallTimer = undefined }
  }

  get closed (): boolean { return this.closedError !== undefined }
  get inFlight (): number { return this.pending.size }
  get closeSignal (): AbortSignal { return this.closeController.signal }

  /** Send a request and wait for the envelope that answers it. */
  async request (env: Envelope, frame: Uint8Array, signal: AbortSignal): Promise<Envelope> {
    if (this.closedError !== undefined) throw this.closedError
    if (this.pending.size >= this.init.window) await this.waitForSlot(signal)
    if (this.closedError !== undefined) throw this.closedError
    return await new Promise<Envelope>((resolve, reject) => {
      const onAbort = (): void => {
        this.settle(env.id)
        reject(abortReason(signal))
      }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.pending.set(env.id, {
        resolve: (reply) => { signal.removeEventListener('abort', onAbort); resolve(reply) },
        reject: (err) => { signal.removeEventListener('abort', onAbort); reject(err) }
      })
      this.write(frame)
    })
  }

  /** Queue a frame; frames queued in one tick are written together. */
  write (frame: Uint8Array): void {
    if (this.closedError !== undefined) return
    this.outQueue.push(frame)
    if (!this.flushScheduled && !this.draining) {
      this.flushScheduled = true
      queueMicrotask(() => { this.flush() })
    }
  }

  close (): void {
    if (this.closedError !== undefined) return
    this.stream.close().catch(() => { this.stream.abort(new ConnectionError('close failed')) })
  }

  abort (err: Error): void {
    this.stream.abort(err)
  }

  private flush (): void {
    this.flushScheduled = false
    if (this.outQueue.length === 0 || this.closedError !== undefined) return
    const frames = this.outQueue
    this.outQueue = []
    try {
      if (!this.stream.send(joinFrames(frames))) {
        // The muxer's buffer is full: hold further frames until it drains rather than let
        // them pile up below us where nothing bounds them.
        this.draining = true
        this.stream.onDrain().then(() => {
          this.draining = false
          this.flush()
        }, () => { /* the close handler rejects what is pending */ })
      }
    } catch (err) {
      this.stream.abort(new ConnectionError('write failed', { cause: err }))
    }
  }

  private onData (chunk: Uint8Array | Uint8ArrayList): void {
    this.clearStallTimer()
    try {
      for (const frame of this.decoder.push(chunk)) this.onFrame(frame)
      // Bytes of an unfinished frame are waiting: the rest must follow in time.
      if (this.decoder.buffered > 0) this.armStallTimer('frame left unfinished')
    } catch (err) {
      // The framing itself is broken (a length over the limit, a prefix that is no varint):
      // nothing after it on this stream can be trusted. Answer with the typed error, then end
      // the stream; the peer's other streams and every other peer are unaffected.
      const e = err instanceof AgentMeshError ? err : new SerializationError(String(err))
      this.init.stats.inc('rpc_errors_total', { code: e.code, reason: e.name })
      this.init.stats.inc('messages_total', { direction: 'in', type: 'unknown', status: 'invalid' })
      this.init.log.warn({ peer: this.remotePeer, code: e.code, error: e.name, detail: e.message }, 'rpc framing broken: stream closed')
      this.sendError(undefined, e)
      this.flush()
      this.stream.close().catch(() => {})
      setTimeout(() => { if (!this.closed) this.stream.abort(e) }, 1000).unref?.()
    }
  }

  private onFrame (frame: Uint8Array): void {
    let env: Envelope
    try {
      env = decodeEnvelope(frame, this.init.maxMessageBytes)
      if (env.source !== this.remotePeer) {
        throw new ValidationError(`envelope source ${env.source} is not the authenticated peer ${this.remotePeer}`)
      }
    } catch (err) {
      const e = err as AgentMeshError
      this.init.stats.inc('messages_total', { direction: 'in', type: 'unknown', status: 'invalid' })
      this.init.stats.inc('rpc_errors_total', { code: e.code ?? 'MSG002', reason: e.name })
      const id = peekId(frame)
      this.init.log.warn({ peer: this.remotePeer, code: e.code, error: e.name, detail: e.message, correlation_id: id }, 'rpc message refused')
      if (this.init.serve !== undefined) this.sendError(id, e)
      return
    }
    if (env.type === 'RESPONSE') {
      const id = env.correlationId
      const p = id !== undefined ? this.pending.get(id) : undefined
      if (p === undefined || id === undefined) {
        // A late answer to a request we gave up on: expected after timeouts; count it only.
        this.init.stats.inc('messages_total', { direction: 'in', type: 'RESPONSE', status: 'late' })
        return
      }
      this.settle(id)
      this.init.stats.message(env.subject, { direction: 'in', type: 'RESPONSE', status: env.error === undefined ? 'ok' : 'error' })
      p.resolve(env)
      return
    }
    if (this.init.serve === undefined) {
      this.init.stats.inc('messages_total', { direction: 'in', type: env.type, status: 'invalid' })
      return
    }
    if (isExpired(env)) {
      // The caller's deadline has passed: it is no longer waiting for the answer.
      this.init.stats.inc('messages_total', { direction: 'in', type: env.type, status: 'expired' })
      return
    }
    this.serveRequest(env, frame.byteLength)
  }

  private serveRequest (env: Envelope, bytes: number): void {
    const serve = this.init.serve
    if (serve === undefined) return
    this.serving++
    if (this.serving >= this.init.window && !this.paused) {
      // Flow control: stop reading until answers go out; yamux then stops granting the
      // sender window, so a flooding peer is slowed at its own end.
      this.paused = true
      this.stream.pause()
    }
    serve(env, this, bytes).then((reply) => {
      if (reply === undefined) return
      // A reply that cannot be encoded (a BigInt, a cycle) is the handler's failure, answered as
      // such: never an unhandled rejection, which would take the whole node down.
      try {
        this.write(encodeEnvelope(reply))
      } catch (err) {
        this.sendError(env.id, err instanceof AgentMeshError ? err : new SerializationError(`the answer cannot be encoded: ${String(err)}`))
      }
    }, (err) => {
      this.sendError(env.id, err instanceof AgentMeshError ? err : new SerializationError(String(err)))
    }).finally(() => {
      this.serving--
      if (this.paused && this.serving < this.init.window / 2) {
        this.paused = false
        this.stream.resume()
      }
    })
  }

  private sendError (correlationId: string | undefined, err: AgentMeshError): void {
    const reply = makeEnvelope({
      source: this.init.localPeer,
      destination: { peer: this.remotePeer },
      type: 'RESPONSE',
      subject: 'error',
      payload: null,
      ...(correlationId !== undefined ? { correlationId } : {})
    })
    reply.error = { code: err.code, name: err.name, message: err.message.slice(0, 4096) }
    this.write(encodeEnvelope(reply))
  }

  private settle (id: string): void {
    this.pending.delete(id)
    const next = this.slotWaiters.shift()
    if (next !== undefined) next()
  }

  private async waitForSlot (signal: AbortSignal): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const i = this.slotWaiters.indexOf(wake)
        if (i >= 0) this.slotWaiters.splice(i, 1)
        reject(abortReason(signal))
      }
      const wake = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      if (signal.aborted) { onAbort(); return }
      signal.addEventListener('abort', onAbort, { once: true })
      this.slotWaiters.push(wake)
    })
  }

  private onClosed (error?: Error): void {
    if (this.closedError !== undefined) return
    this.clearStallTimer()
    this.closedError = new ConnectionError(`stream to ${this.remotePeer} closed${error != null ? `: ${error.message}` : ''}`, { cause: error })
    this.closeController.abort(this.closedError)
    for (const [, p] of this.pending) p.reject(this.closedError)
    this.pending.clear()
    for (const wake of this.slotWaiters.splice(0)) wake()
    this.outQueue = []
    this.init.onClose?.(this)
  }
}

/** The error a request rejects with when its signal fires: ours for a deadline, else an abort. */
export function abortReason (signal: AbortSignal): Error {
  const r = signal.reason
  if (r instanceof AgentMeshError || r instanceof AbortError) return r
  if (r instanceof Error && r.name === 'TimeoutError') return new TimeoutError(r.message, { cause: r })
  return new AbortError(r instanceof Error ? r.message : undefined)
}
