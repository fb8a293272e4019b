/**
 * One WebSocket client: its frames answered (ws-frames.ts says which), its topic and task
 * subscriptions pumped to it, and its bounds kept. A frame that is not JSON, or not a frame, is
 * answered with an error frame and the connection goes on; a client that leaves more than
 * wsMaxBufferedBytes unread is dropped (counted), since what it does not read would otherwise
 * pile up in this node's memory.
 */
import type { WebSocket, RawData } from 'ws'
import type { Logger } from 'pino'
import { AgentMeshError, RateLimitedError, ValidationError } from '../../protocols/core/errors.js'
import { parseJson } from '../../protocols/core/json.js'
import { errorBody } from '../operations/errors.js'
import { parseInput, type MeshOperations } from '../operations/index.js'
import { statusOf } from './errors.js'
import { endServerSpan, inContext, startFrameSpan } from './trace.js'
import { ClientFrame, FrameId, SubmitFrame, SubscriptionTarget, type Op, type ServerFrame } from './ws-frames.js'
import { WS_MAX_IN_FLIGHT } from './constants.js'
import { nextTurn } from './turn.js'

export interface WsLimits {
  maxBufferedBytes: number
  maxSubscriptions: number
}

export interface WsSessionInit {
  ws: WebSocket
  ops: MeshOperations
  log: Logger
  limits: WsLimits
  /** The upgrade request's correlation id: this connection's, in every log line of it. */
  correlationId: string
  count: (route: string, status: number) => void
  /** The client was dropped (slow_client), or went silent (ping_timeout). */
  dropped: (reason: 'slow_client' | 'ping_timeout') => void
}

export class WsSession {
  /** Live subscriptions by key ("topic:<name>", "task:<id>"), each with what ends it. */
  private readonly subs = new Map<string, () => void>()
  private inFlight = 0
  private closed = false
  /** Set by a pong; the mount's ping round closes a session that did not answer the last one. */
  alive = true

  constructor (private readonly init: WsSessionInit) {
    const { ws } = init
    ws.on('message', (data, isBinary) => { this.frame(data, isBinary) })
    ws.on('pong', () => { this.alive = true })
    ws.on('close', () => { this.dispose() })
    ws.on('error', (err) => { init.log.debug({ correlation_id: init.correlationId, error: err.message }, 'gateway websocket error') })
  }

  /** Pings the client, or drops it if the last ping went unanswered. */
  ping (): void {
    const { ws } = this.init
    if (this.closed || ws.readyState !== ws.OPEN) return
    if (!this.alive) { this.drop('ping_timeout'); return }
    this.alive = false
    ws.ping()
  }

  /** Closes the connection (the node is stopping: 1001 going away); resolves once the client answered. */
  async close (code = 1001, reason = 'gateway stopping'): Promise<void> {
    this.dispose()
    const { ws } = this.init
    if (ws.readyState === ws.CLOSED) return
    const closed = new Promise<void>(resolve => { ws.once('close', () => { resolve() }) })
    ws.close(code, reason)
    await closed
  }

  terminate (): void {
    this.dispose()
    this.init.ws.terminate()
  }

  private send (frame: ServerFrame): void {
    const { ws, limits } = this.init
    if (this.closed || ws.readyState !== ws.OPEN) return
    if (ws.bufferedAmount > limits.maxBufferedBytes) { this.drop('slow_client'); return }
    ws.send(JSON.stringify(frame))
  }

  private drop (reason: 'slow_client' | 'ping_timeout'): void {
    if (this.closed) return
    this.init.dropped(reason)
    this.init.log.warn({ correlation_id: this.init.correlationId, reason, unread_bytes: this.init.ws.bufferedAmount }, 'gateway websocket client dropped')
    this.dispose()
    // Not a close handshake: a client that does not read would never see the close frame.
    this.init.ws.terminate()
  }

  private dispose (): void {
    if (this.closed) return
    this.closed = true
    for (const end of this.subs.values()) end()
    this.subs.clear()
  }

  private error (id: FrameId | undefined, err: unknown): number {
    const status = statusOf(err)
    this.send({ type: 'error', ...(id !== undefined ? { id } : {}), error: errorBody(err).error })
    if (!(err instanceof AgentMeshError)) this.init.log.error({ correlation_id: this.init.correlationId, err }, 'gateway websocket operation threw')
    return status
  }

  private frame (data: RawData, isBinary: boolean): void {
    let frame: ReturnType<typeof ClientFrame.parse>
    let value: unknown
    try {
      if (isBinary) throw new ValidationError('binary frames are not spoken here: send JSON text frames')
      const raw = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as ArrayBuffer)
      value = parseJson(raw.toString('utf8'), raw.length)
      frame = parseInput(ClientFrame, value, 'frame')
    } catch (err) {
      // A frame that is JSON but not a frame still gets its id back, when it has a usable one.
      const id = FrameId.safeParse((value as { id?: unknown } | undefined)?.id)
      this.init.count('WS invalid', this.error(id.success ? id.data : undefined, err))
      return
    }
    const { op, id, traceparent, ...input } = frame
    if (op === 'ping') { this.send({ type: 'pong', ...(id !== undefined ? { id } : {}) }); this.init.count('WS ping', 200); return }
    if (this.inFlight >= WS_MAX_IN_FLIGHT) {
      this.init.count(`WS ${op}`, this.error(id, new RateLimitedError(`${WS_MAX_IN_FLIGHT} operations of this connection are already in flight: wait for their answers`)))
      return
    }
    this.inFlight++
    const { span, ctx } = startFrameSpan(op, traceparent, this.init.correlationId)
    void inContext(ctx, async () => await this.run(op, input)).then(
      ([result, then]) => {
        this.send({ type: 'result', ...(id !== undefined ? { id } : {}), result })
        then?.()
        return 200
      },
      (err) => this.error(id, err)
    ).then((status) => {
      this.inFlight--
      this.init.count(`WS ${op}`, status)
      endServerSpan(span, `WS ${op}`, status)
      this.init.log.debug({ correlation_id: this.init.correlationId, frame_id: id, op, status }, 'gateway websocket operation')
    })
  }

  /** The operation's result, and what to do once it is answered (a subscription's first frames follow its confirmation). */
  private async run (op: Exclude<Op, 'ping'>, input: Record<string, unknown>): Promise<[unknown, (() => void)?]> {
    const { ops } = this.init
    switch (op) {
      case 'subscribe': return await this.subscribe(parseInput(SubscriptionTarget, input, 'subscribe'))
      case 'unsubscribe': {
        const target = parseInput(SubscriptionTarget, input, 'unsubscribe')
        const key = keyOf(target)
        this.subs.get(key)?.()
        this.subs.delete(key)
        return [target]
      }
      // Into the mesh with the other clients' operations read in this turn (turn.ts).
      case 'publish': await nextTurn(); return [await ops.publish(input)]
      case 'request': await nextTurn(); return [await ops.request(input)]
      case 'submit': {
        const s = parseInput(SubmitFrame, input, 'submit')
        return [await ops.submit('tasks' in s ? s : { tasks: [s.task] })]
      }
    }
  }

  private async subscribe (target: SubscriptionTarget): Promise<[SubscriptionTarget, (() => void)?]> {
    const key = keyOf(target)
    if (this.subs.has(key)) return [target]
    if (this.subs.size >= this.init.limits.maxSubscriptions) {
      throw new RateLimitedError(`this connection already holds ${this.init.limits.maxSubscriptions} subscriptions (gateway.wsMaxSubscriptions)`)
    }
    if ('topic' in target) {
      const watcher = this.init.ops.watch(target.topic)
      this.subs.set(key, () => { watcher.close() })
      return [target, () => { void (async () => { for await (const event of watcher) this.send({ type: 'event', event }) })() }]
    }
    const ac = new AbortController()
    const updates = this.init.ops.taskUpdates(target.task, { signal: ac.signal })[Symbol.asyncIterator]()
    // The first status answers whether the task exists (TSK001 if not) before the subscription is confirmed.
    const first = await updates.next()
    const end = (): void => { ac.abort() }
    // The client went while the first status was asked for: nothing to follow for it.
    if (this.closed) { end(); return [target] }
    this.subs.set(key, end)
    const pump = async (): Promise<void> => {
      try {
        for (let next = first; next.done !== true && !ac.signal.aborted; next = await updates.next()) this.send({ type: 'task', status: next.value })
      } catch (err) {
        this.error(undefined, err)
      } finally {
        // Ended (the task did): the slot is free again, unless a new subscription took the key.
        if (this.subs.get(key) === end) this.subs.delete(key)
      }
    }
    return [target, () => { void pump() }]
  }
}

function keyOf (target: SubscriptionTarget): string {
  return 'topic' in target ? `topic:${target.topic}` : `task:${target.task}`
}
