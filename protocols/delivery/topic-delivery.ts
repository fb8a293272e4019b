/**
 * Reliable publish (issue 14; docs/delivery.md, "Publish (gossip)"). On a topic, at-least-once
 * means acknowledgement by named recipients, not by "every subscriber" (no publisher can know
 * that set): the envelope goes out by gossip as any other, each named recipient acknowledges
 * it, and a recipient whose ack has not come within `ackTimeoutMs` is sent the envelope directly
 * through the outbox (retries, dead letters). exactly-once adds the subscribers' drop of ids
 * already delivered (topic-seen.ts). Reliable publishes are numbered per topic and delivered in
 * order (topic-receive.ts). The direct copies wait in the outbox from before the gossip leaves,
 * so a publisher that restarts resends what was not acknowledged.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { AgentMeshError, BadSignatureError, ConfigError, ConnectionError, RateLimitedError } from '../core/errors.js'
import { hasValidSignature } from '../envelope/signature.js'
import type { Store } from '../core/store.js'
import { validateEnvelope, type Envelope } from '../envelope/index.js'
import { HEADER_DELIVERY, HEADER_SEQUENCE, HEADER_SEQUENCE_FLOOR } from '../envelope/delivery.js'
import { toTopic, type Prepared, type PublishOptions, type PubSubService, type Recipients, type Topic } from '../pubsub/index.js'
import type { RpcService } from '../rpc/index.js'
import { abortReason } from '../rpc/channel.js'
import { DEFAULT_TOPIC_ACK_TIMEOUT_MS, TOPIC_MAX_RECIPIENTS } from './constants.js'
import type { DedupPolicy } from './dedup.js'
import { TopicDeliveryError } from './errors.js'
import { HEADER_STREAM } from './in-order.js'
import type { DeliveryService } from './index.js'
import type { OutboxEntry } from './outbox.js'
import { HEADER_ACK, TopicAckCommand, TopicDeliverCommand } from './topic-commands.js'
import { TopicReceiver } from './topic-receive.js'
import { TopicSeen } from './topic-seen.js'

export interface TopicDeliveryInit {
  self: string
  rpc: RpcService
  pubsub: PubSubService
  delivery: DeliveryService
  store: Store
  log: Logger
  /** The exactly-once window (config delivery.dedupWindowMs, dedupMaxEntries), for ids delivered on topics. */
  dedup: DedupPolicy
  ordering: { reorderBuffer: number, gapTimeoutMs: number }
  /** Each direct attempt's deadline (config rpc.timeoutMs). */
  timeoutMs: number
  /** The agents holding a role now (recipients `{ role }`). */
  withRole: (role: string) => string[]
  ackTimeoutMs?: number
}

/** Reliable publish is refused without recipients, and says why. */
export function checkPublishOptions (options: PublishOptions | undefined): void {
  const d = options?.delivery
  if (d === undefined || d === 'at-most-once') {
    // Named recipients without a guarantee would be silently ignored: said instead.
    if (options?.recipients !== undefined) throw new ConfigError('publish `recipients` need `delivery: \'at-least-once\'` or `\'exactly-once\'`: at-most-once gossip has no acknowledgements')
    return
  }
  if (options?.recipients === undefined) {
    throw new ConfigError(`publish with delivery "${d}" needs \`recipients\` (peer ids or { role }): on a topic a guarantee means ` +
      'acknowledgement by named recipients, since "every subscriber" is no set a publisher can know (docs/delivery.md, "Publish (gossip)")')
  }
}

export class TopicDelivery {
  private readonly init: TopicDeliveryInit
  private readonly seen: TopicSeen
  private readonly receiver: TopicReceiver
  /** Envelope id -> recipient -> settle its wait (false: acked by gossip; true: send directly). */
  private readonly pending = new Map<string, Map<string, { settle: (send: boolean) => void, fail: (err: Error) => void }>>()
  /** Per topic, in `stream`: the next seq and those not yet settled with every recipient (the floor). */
  private readonly next = new Map<string, number>()
  private readonly open = new Map<string, Set<number>>()
  private stream = ''
  private unhandle: Array<() => void> = []
  private sweep?: ReturnType<typeof setInterval>
  /** Set by `stop` (until the next start): a publish whose outbox write ends after it fails as the ones waiting did. */
  private stopped?: Error

  constructor (init: TopicDeliveryInit) {
    this.init = init
    const d = init.delivery
    this.seen = new TopicSeen(init.store.space<number>('topic-seen'), init.dedup,
      (reason, count) => { d.safeDispatchEvent('evicted', { detail: { reason, count } }) },
      (err) => { init.log.warn({ error: err.message }, 'topic seen-ids write failed') })
    this.receiver = new TopicReceiver({
      self: init.self,
      seen: this.seen,
      ...init.ordering,
      ack: (publisher, ids) => {
        init.rpc.request(publisher, TopicAckCommand, { ids }, { timeoutMs: init.timeoutMs }).catch((err: Error) => {
          init.log.debug({ peer: publisher, ids: ids.length, error: err.message }, 'topic ack not sent: the publisher will send directly')
        })
      },
      onGap: (peer, topic, r) => { d.safeDispatchEvent('gap', { detail: { peer, from: r.from, to: r.to, initial: r.initial, topic } }) },
      onDuplicate: (peer) => { d.safeDispatchEvent('dedup', { detail: { peer, result: 'duplicate' } }) }
    })
    init.pubsub.gateWith(this.receiver.gate)
    // From the start: a direct copy that comes before the node has finished starting is not refused as an unknown command.
    this.handle()
  }

  get seenEntries (): number { return this.seen.size }

  start (): void {
    if (this.sweep !== undefined) return
    this.stopped = undefined
    this.handle()
    this.seen.load()
    const every = Math.max(1_000, Math.min(60_000, Math.floor(this.init.dedup.windowMs / 10)))
    this.sweep = setInterval(() => { this.seen.evict().catch(() => {}) }, every)
    this.sweep.unref?.()
  }

  private handle (): void {
    if (this.unhandle.length > 0) return
    this.unhandle = [
      this.init.rpc.handle(TopicAckCommand, ({ ids }, ctx) => {
        for (const id of ids) this.pending.get(id)?.get(ctx.peer)?.settle(false)
        return {}
      }),
      this.init.rpc.handle(TopicDeliverCommand, ({ envelope }, ctx) => {
        const env = validateEnvelope(envelope)
        // Signed (the gateway's publish): checked as its gossip copy is, since a subscriber may keep or pass it on.
        if (env.signature !== undefined && !hasValidSignature(env)) {
          const bad = new BadSignatureError(`topic envelope ${env.id}: the signature does not verify for its source ${env.source}`)
          this.init.delivery.audit.record({ kind: 'signature.refused', peer: ctx.peer, correlationId: env.id, code: bad.code, reason: bad.message, detail: { command: TopicDeliverCommand.name, topic: env.subject } })
          throw bad
        }
        const v = this.init.pubsub.receiveDirect(env, ctx.peer)
        // RATE001: the sender's outbox retries it with backoff, and gives it up as a dead letter in the end.
        if (v === 'unsubscribed') throw new RateLimitedError(`not subscribed to "${env.subject}" (yet): retry later`)
        if (v === 'refused') throw new RateLimitedError(`envelope ${env.id} is too far ahead of its topic sequence: retry later`)
        return { accepted: true }
      })
    ]
  }

  stop (): void {
    for (const u of this.unhandle) u()
    this.unhandle = []
    clearInterval(this.sweep)
    this.sweep = undefined
    this.receiver.stop()
    // Waits end; their direct copies stay in the outbox and go out at the next start.
    const stopping = new ConnectionError('node stopping: the publish stays in the outbox and is resent to its recipients at the next start')
    this.stopped = stopping
    for (const waits of this.pending.values()) for (const w of waits.values()) w.fail(stopping)
    this.pending.clear()
    this.next.clear()
    this.open.clear()
  }

  /**
   * Publish to the topic's subscribers and resolve once every named recipient acknowledged it
   * (by gossip, or its direct copy answered); reject with TopicDeliveryError naming those that
   * did not, with their dead letters.
   */
  async publish<S extends z.ZodType> (topic: Topic<S> | string, payload: z.input<S>, options: PublishOptions): Promise<Envelope> {
    checkPublishOptions(options)
    const guarantee = options.delivery as 'at-least-once' | 'exactly-once'
    const name = toTopic(topic as Topic | string).name
    const recipients = this.resolve(options.recipients as Recipients)
    const seq = this.number(name)
    const headers = { ...options.headers, [HEADER_DELIVERY]: guarantee, ...seq, [HEADER_ACK]: recipients.join(',') }
    let p: Prepared
    try {
      p = this.init.pubsub.prepare(topic, payload, { ...options, headers })
    } catch (err) {
      this.settle(name, seq) // a seq never sent must not hold the floor down
      throw err
    }
    const signal = options.signal
    const waits = new Map<string, { settle: (send: boolean) => void, fail: (err: Error) => void }>()
    const needs = recipients.map(peer => new Promise<boolean>((resolve, reject) => { waits.set(peer, { settle: resolve, fail: reject }) }))
    // Failed (abort, stop) possibly before deliverHeld listens: not an unhandled rejection; deliverHeld still sees it.
    for (const n of needs) n.catch(() => {})
    const entries = recipients.map((peer): OutboxEntry => ({
      id: randomUUID(),
      peer,
      subject: TopicDeliverCommand.name,
      payload: { envelope: p.env },
      guarantee: 'at-least-once', // the envelope's own guarantee rides inside it; the copy itself needs only to arrive
      type: 'COMMAND',
      timeoutMs: this.init.timeoutMs,
      attempts: 0,
      firstAttemptAt: Date.now(),
      // A copy its recipients would drop as expired is not worth retrying: dead-lettered `expired`.
      ...(p.env.ttl !== undefined ? { expiresAt: p.env.timestamp + p.env.ttl } : {})
    }))
    const timers: Array<ReturnType<typeof setTimeout>> = []
    const onAbort = (): void => { for (const w of waits.values()) w.fail(abortReason(signal as AbortSignal)) }
    let handed = false
    try {
      // Durable before the gossip leaves: a crash after it cannot lose the recipients' copies.
      await Promise.all(entries.map(async e => { await this.init.delivery.outbox.add(e, signal) }))
      if (this.stopped !== undefined) {
        // The node stopped while the outbox wrote the copies (its stop failed only the publishes
        // waiting then): they stay for the next start, and this one fails as those did. Left to
        // run, it waited out its ack timeout and failed with the closed store's STO001 (seen once
        // in gossip-delivery.test at load 8, 2026-11-28).
        handed = true
        for (const w of waits.values()) w.fail(this.stopped)
      } else {
        this.pending.set(p.env.id, waits)
        signal?.addEventListener('abort', onAbort, { once: true })
        await this.init.pubsub.send(p)
        const ackMs = options.ackTimeoutMs ?? this.init.ackTimeoutMs ?? DEFAULT_TOPIC_ACK_TIMEOUT_MS
        for (const w of waits.values()) timers.push(setTimeout(() => { w.settle(true) }, ackMs))
        handed = true
      }
      const results = await Promise.allSettled(entries.map(async (e, i) => await this.init.delivery.deliverHeld(e, needs[i], signal)))
      if (signal?.aborted === true) throw abortReason(signal)
      const failures = results.flatMap((r, i) => r.status === 'rejected' ? [{ peer: recipients[i], error: asError(r.reason) }] : [])
      if (failures.length > 0) throw new TopicDeliveryError(name, p.env.id, recipients.length, failures)
      return p.env
    } catch (err) {
      // Refused before the outbox took charge (full and aborted, or the gossip not sent): nothing of it stays.
      if (!handed) await Promise.all(entries.map(async e => { await this.init.delivery.outbox.remove(e) }))
      throw err
    } finally {
      for (const t of timers) clearTimeout(t)
      signal?.removeEventListener('abort', onAbort)
      this.pending.delete(p.env.id)
      this.settle(name, seq)
    }
  }

  /** The recipients' peer ids, this node left out (its own subscriptions get the envelope at once). */
  private resolve (r: Recipients): string[] {
    const list = 'role' in r ? this.init.withRole(r.role) : [...r]
    // Acknowledged by nobody is no guarantee: said, not resolved at once.
    if (list.length === 0) throw 'role' in r ? new ConnectionError(`no agent holds role "${r.role}" now: nobody to acknowledge the publish`) : new ConfigError('reliable publish: `recipients` is empty')
    const peers = [...new Set(list)].filter(p => p !== this.init.self)
    if (peers.length > TOPIC_MAX_RECIPIENTS) {
      throw new ConfigError(`a reliable publish names at most ${TOPIC_MAX_RECIPIENTS} recipients (${peers.length} given): send to more with node.send`)
    }
    return peers
  }

  /** This run's stream and the topic's next seq, with the floor (the lowest seq not yet settled). */
  private number (topic: string): Record<string, string> {
    if (this.stream !== this.init.delivery.streamId) {
      this.stream = this.init.delivery.streamId
      this.next.clear()
      this.open.clear()
    }
    const seq = this.next.get(topic) ?? 1
    this.next.set(topic, seq + 1)
    let open = this.open.get(topic)
    if (open === undefined) this.open.set(topic, open = new Set())
    open.add(seq)
    return { [HEADER_STREAM]: this.stream, [HEADER_SEQUENCE]: String(seq), [HEADER_SEQUENCE_FLOOR]: String(Math.min(...open)) }
  }

  private settle (topic: string, headers: Record<string, string>): void {
    if (headers[HEADER_STREAM] !== this.stream) return
    const open = this.open.get(topic)
    open?.delete(Number(headers[HEADER_SEQUENCE]))
    if (open?.size === 0) this.open.delete(topic)
  }
}

function asError (e: unknown): AgentMeshError {
  return e instanceof AgentMeshError ? e : new ConnectionError(String(e), { cause: e })
}
