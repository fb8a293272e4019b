import type { Stream } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'
import { decodeEnvelope, encodeEnvelope, isExpired, makeEnvelope, peekId, type Envelope } from '../envelope/index.js'
import { AbortError, AgentMeshError, ConnectionError, SerializationError, TimeoutError, ValidationError } from '../core/errors.js'
import type { MessageMetrics } from '../envelope/metrics.js'
import type { Logger } from 'pino'
import { FrameDecoder, joinFrames } from './frames.js'
import { sharedController } from '../core/fan-out-signal.js'

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
   * Inbound channels: how long to stop reading the peer's frames now (ms, 0: go on); asked after
   * each frame. A peer over its limits is held rather than answered at the rate it sends.
   */
  holdMs?: () => number
  /**
   * Inbound channels: abort the stream when it opens and sends nothing, or leaves a frame
   * half-sent, for this long. Either would hold one of the few stream slots per connection.
   */
  stallTimeoutMs?: number
  /** Inbound channels: a frame refused before any handler (broken framing, a bad envelope, a source that is not the peer), for the audit trail. */
  refused?: (err: AgentMeshError, correlationId?: string) => void
  onClose?: (channel: RpcChannel) => void
}

/** Frames one inbound stream may have handled before other peers' reads get a turn. */
const FRAMES_PER_TURN = 16
const EMPTY = new Uint8Array(0)

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
  /** Requests in flight reached the window: reading waits until half of them are answered. */
  private windowFull = false
  /** Frames read from the stream and not yet handled, and whether a turn is handling them. */
  private backlog: Uint8Array[] = []
  private backlogAt = 0
  private reading = false
  private held?: ReturnType<typeof setTimeout>
  private yielded = false
  private stallTimer?: ReturnType<typeof setTimeout>
  private closedError?: Error
  /** Fires when the channel closes; handlers of requests received on it see it in ctx.signal. */
  // Every request in the window whose handler asks for ctx.signal listens to it (seen past ten
  // with 24 agents on the views graph, holding joins for unknown senders).
  private readonly closeController = sharedController()

  constructor (init: ChannelInit) {
    this.init = init
    this.stream = init.stream
    this.remotePeer = init.remotePeer
    this.decoder = new FrameDecoder(init.maxMessageBytes)
    this.stream.addEventListener('message', (e) => { this.onData(e.data) })
    this.stream.addEventListener('close', (e) => { this.onClosed((e as any).error) })
    // A stream reset while dialProtocol was resolving (the peer stopping) fired its 'close' before
    // anyone listened: without this the channel looked open, and each request on it waited its
    // whole timeout (found by gossip-delivery's "recipient briefly down" test under load).
    if (this.stream.status !== 'open') this.onClosed(new ConnectionError(`stream ${this.stream.status} before use`))
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

  get closed (): boolean {
    // 'close' is dispatched once; a status that moved on without it reaching us still counts.
    if (this.closedError === undefined && this.stream.status !== 'open') this.onClosed(new ConnectionError(`stream ${this.stream.status}`))
    return this.closedError !== undefined
  }

  get inFlight (): number { return this.pending.size }
  get closeSignal (): AbortSignal { return this.closeController.signal }

  /** Send a request and wait for the envelope that answers it. */
  async request (env: Envelope, frame: Uint8Array, signal: AbortSignal): Promise<Envelope> {
    if (this.closed) throw this.closedError
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
      for (const frame of this.decoder.push(chunk)) this.backlog.push(frame)
      this.readBacklog()
      // Bytes of an unfinished frame are waiting: the rest must follow in time.
      if (this.decoder.buffered > 0) this.armStallTimer('frame left unfinished')
    } catch (err) {
      // The framing itself is broken (a length over the limit, a prefix that is no varint):
      // nothing after it on this stream can be trusted. Answer with the typed error, then end
      // the stream; the peer's other streams and every other peer are unaffected.
      const e = err instanceof AgentMeshError ? err : new SerializationError(String(err))
      this.readBacklog() // the frames before the broken one are served
      this.init.stats.inc('rpc_errors_total', { code: e.code, reason: e.name })
      this.init.stats.inc('messages_total', { direction: 'in', type: 'unknown', status: 'invalid' })
      this.init.log.warn({ peer: this.remotePeer, code: e.code, error: e.name, detail: e.message }, 'rpc framing broken: stream closed')
      this.init.refused?.(e)
      this.sendError(undefined, e)
      this.flush()
      this.stream.close().catch(() => {})
      setTimeout(() => { if (!this.closed) this.stream.abort(e) }, 1000).unref?.()
    }
  }

  /**
   * Handles the frames read, FRAMES_PER_TURN at a time: one peer's chunk of a hundred requests
   * must not keep every other peer's waiting for the whole of it, so after a turn the rest wait
   * for the next one (setImmediate: after the other sockets' reads). While frames wait, or the
   * peer is held after a refusal, the stream is paused: what the peer sends meanwhile stays in
   * the muxer, and yamux stops granting it window, so it is slowed at its own end.
   */
  private readBacklog (): void {
    if (this.reading || this.held !== undefined || this.yielded) { this.updatePaused(); return }
    this.reading = true
    try {
      let n = 0
      while (this.backlogAt < this.backlog.length && this.closedError === undefined && !this.windowFull) {
        if (n++ >= FRAMES_PER_TURN) {
          this.yielded = true
          setImmediate(() => { this.yielded = false; this.readBacklog() })
          break
        }
        const frame = this.backlog[this.backlogAt]
        this.backlog[this.backlogAt++] = EMPTY
        this.onFrame(frame)
        const hold = this.init.holdMs?.() ?? 0
        if (hold > 0) {
          this.held = setTimeout(() => { this.held = undefined; this.readBacklog() }, hold)
          break
        }
      }
      if (this.backlogAt >= this.backlog.length) { this.backlog = []; this.backlogAt = 0 }
    } finally {
      this.reading = false
      this.updatePaused()
    }
  }

  /** Reads from the stream only while nothing waits: no backlog, no hold, a window not full. */
  private updatePaused (): void {
    if (this.closedError !== undefined) return
    const pause = this.windowFull || this.held !== undefined || this.yielded || this.backlogAt < this.backlog.length
    try {
      if (pause && this.stream.readStatus === 'readable') this.stream.pause()
      else if (!pause && this.stream.readStatus === 'paused') this.stream.resume()
    } catch { /* the stream is closing: its close handler cleans up */ }
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
      this.init.refused?.(e, id)
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
      // A request on a stream this node opened: requests go on a stream their sender opens.
      // Answered, so that a peer written elsewhere learns the rule rather than wait for nothing.
      this.init.stats.inc('messages_total', { direction: 'in', type: env.type, status: 'invalid' })
      if (env.type === 'REQUEST') this.sendError(env.id, new ValidationError(`a request on a stream ${this.init.localPeer} opened is not served: open a stream of your own for requests`))
      return
    }
    if (isExpired(env)) {
      // The caller's deadline has passed: not handled. Still answered (COM001), for a caller
      // whose clock runs ahead of this node's or that stamps a ttl too short: silence would
      // leave it nothing to go on. One that gave up counts the answer as late.
      this.init.stats.inc('messages_total', { direction: 'in', type: env.type, status: 'expired' })
      this.sendError(env.id, new TimeoutError(`"${env.subject}" expired before it arrived: timestamp ${env.timestamp} + ttl ${env.ttl ?? 0} ms is past on this node's clock (${Date.now()}); check both clocks and the ttl`))
      return
    }
    this.serveRequest(env, frame.byteLength)
  }

  private serveRequest (env: Envelope, bytes: number): void {
    const serve = this.init.serve
    if (serve === undefined) return
    this.serving++
    // Flow control: stop reading until answers go out; yamux then stops granting the
    // sender window, so a flooding peer is slowed at its own end.
    if (this.serving >= this.init.window) this.windowFull = true
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
      if (this.windowFull && this.serving < this.init.window / 2) {
        this.windowFull = false
        this.readBacklog()
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
    if (this.held !== undefined) { clearTimeout(this.held); this.held = undefined }
    this.backlog = []
    this.backlogAt = 0
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
