/**
 * Reliable delivery over rpc (R-REL, issue 14): the guarantee a request or send asks for, the
 * outbox and its retries on the sender, the dedup window on the receiver, one circuit breaker per
 * destination, and dead letters for what is given up. docs/delivery.md says what each promises.
 *
 * at-most-once goes straight to rpc (one Map lookup for the breaker): today's path and cost.
 */
import { randomUUID } from 'node:crypto'
import { sharedController } from '../core/fan-out-signal.js'
import { TypedEventEmitter } from 'main-event'
import type { Logger } from 'pino'
import type { z } from 'zod'
import { AbortError, AgentMeshError, ConnectionError, TimeoutError } from '../core/errors.js'
import type { Store } from '../core/store.js'
import { noAudit, type AuditSink } from '../core/audit.js'
import type { Envelope } from '../envelope/index.js'
import { envelopeOf, retryable } from './attempts.js'
import { HEADER_ATTEMPT, HEADER_DELIVERY, HEADER_IDEMPOTENCY_KEY, HEADER_SEQUENCE, type DeliveryGuarantee } from '../envelope/delivery.js'
import { anyCommand, checkedOutgoing, issueOnly, type AttemptAs, type Command, type Outgoing } from '../rpc/index.js'
import type { RequestOptions, RpcService, SendResult, Outcome } from '../rpc/index.js'
import { abortReason } from '../rpc/channel.js'
import { pause } from '../rpc/guard.js'
import { retryDelay, type RetryPolicy } from './backoff.js'
import { Breakers, isTransportFailure, type BreakerPolicy, type BreakerState } from './breaker.js'
import { DedupWindow, type DedupPolicy, type DedupResult } from './dedup.js'
import { DeliveryFailedError } from './errors.js'
import { replayEntry, requestEntry, wireHeaders } from './entries.js'
import { Outbox, type OutboxEntry } from './outbox.js'
import { HEADER_STREAM, InOrder } from './in-order.js'
import type { DeadLetter, DeadLetterReason, DeadLetterSink, DeliveryEvents } from './types.js'
import { TopicDelivery, type TopicDeliveryInit } from './topic-delivery.js'
import { SignedAttempts, signedOf, type Signer } from './signed-entry.js'
import { isSealed } from '../sealing/index.js'

export type { DeliveryEvents } from './types.js'

export { DeliveryFailedError } from './errors.js'
export { Breakers, type BreakerState, type BreakerChange } from './breaker.js'
export { retryDelay, type RetryPolicy } from './backoff.js'
export { OUTBOX_MAX_ENTRIES, type OutboxEntry } from './outbox.js'

export interface DeliveryInit {
  rpc: RpcService
  store: Store
  log: Logger
  /** The default guarantee of a request or send (config delivery.guarantee). */
  guarantee: DeliveryGuarantee
  retry: RetryPolicy
  breaker: BreakerPolicy
  dedup: DedupPolicy
  /** Where given-up messages go (protocols/delivery/dead-letters.ts); default: logged and dropped (counted). */
  deadLetters?: DeadLetterSink
  /** Each attempt's deadline when the caller gives none (config rpc.timeoutMs). */
  timeoutMs: number
  /** The outbox's bound (OUTBOX_MAX_ENTRIES). */
  outboxMax?: number
  /** Ordering of reliable direct messages (config delivery.reorderBuffer, delivery.gapTimeoutMs). */
  ordering: { reorderBuffer: number, gapTimeoutMs: number }
  /** This node's identity: signs each retry of a signed request again (signed-entry.ts); without it, retries resend the first signed envelope. */
  signer?: Signer
  /** Where an outbox message refused for its signature is audited (`signature.refused`). */
  audit?: AuditSink
}

export class DeliveryService extends TypedEventEmitter<DeliveryEvents> {
  private readonly init: DeliveryInit
  private readonly rpc: RpcService
  readonly outbox: Outbox
  private readonly dedup: DedupWindow
  private readonly breakerSet: Breakers
  /** Aborted on stop: background resends and callers' retries end; their messages stay in the outbox. */
  private running?: AbortController
  private sweep?: ReturnType<typeof setInterval>
  private readonly inOrder: InOrder
  /** This run's sequence stream: a restarted sender counts again from 1 in a new one. */
  private stream = randomUUID().slice(0, 13)
  private readonly signing: SignedAttempts
  readonly audit: AuditSink

  constructor (init: DeliveryInit) {
    super()
    this.init = init
    this.rpc = init.rpc
    this.signing = new SignedAttempts(init.signer)
    this.audit = init.audit ?? noAudit
    this.outbox = new Outbox(init.store.space<OutboxEntry>('outbox'), init.outboxMax)
    this.dedup = new DedupWindow(init.store.space('dedup'), init.dedup, (reason, count) => {
      this.safeDispatchEvent('evicted', { detail: { reason, count } })
    })
    this.breakerSet = new Breakers(init.breaker, (c) => { this.safeDispatchEvent('breaker', { detail: c }) })
    this.inOrder = new InOrder({
      ...init.ordering,
      onGap: (peer, r) => { this.safeDispatchEvent('gap', { detail: { peer, from: r.from, to: r.to, initial: r.initial } }) }
    })
    this.rpc.receiveWith({
      serve: async (env, peer, run) => await this.receive(env, peer, run),
      refused: (env, peer, error) => { void this.deadLetter('receiver', env, peer, 'refused', error, 1, env.timestamp) }
    })
  }

  async start (): Promise<void> {
    if (this.running !== undefined) return
    // Every reliable message in flight listens to it.
    const running = this.running = sharedController()
    this.stream = randomUUID().slice(0, 13)
    this.dedup.load()
    await this.dedup.evict()
    // Keys age out even when no new key comes to push them out.
    const every = Math.max(1_000, Math.min(60_000, Math.floor(this.init.dedup.windowMs / 10)))
    this.sweep = setInterval(() => { this.dedup.evict().catch(err => { this.init.log.warn({ error: (err as Error).message }, 'dedup eviction failed') }) }, every)
    this.sweep.unref?.()
    this.topics?.start()
    // What a previous run left undelivered: resent in the background, its callers are gone.
    const left = this.outbox.entries()
    if (left.length > 0) this.init.log.info({ messages: left.length }, 'resending what the outbox held at start')
    for (const e of left) {
      this.deliver(e, anyCommand(e.subject), running.signal, true).then(
        () => { this.init.log.info({ peer: e.peer, message_id: e.id, attempts: e.attempts }, 'outbox message delivered after restart') },
        (err: Error) => { if (!running.signal.aborted) this.init.log.warn({ peer: e.peer, message_id: e.id, error: err.message }, 'outbox message not delivered after restart') }
      )
    }
  }

  async stop (): Promise<void> {
    if (this.running === undefined) return
    this.running.abort(new ConnectionError('node stopping: the message stays in the outbox and is resent at the next start'))
    this.running = undefined
    clearInterval(this.sweep)
    this.inOrder.stop()
    this.topics?.stop()
  }

  /** Reliable publish, once `publishWith` set it up (node/services.ts: it needs pubsub, built after this). */
  topics?: TopicDelivery

  publishWith (p: Pick<TopicDeliveryInit, 'self' | 'pubsub' | 'withRole' | 'ackTimeoutMs'>): TopicDelivery {
    const { store, log, dedup, ordering, timeoutMs } = this.init
    this.topics = new TopicDelivery({ ...p, rpc: this.rpc, delivery: this, store, log, dedup, ordering, timeoutMs })
    if (this.running !== undefined) this.topics.start()
    return this.topics
  }

  /** This run's sequence stream (`am-stream`): topic sequencing counts in it too. */
  get streamId (): string { return this.stream }

  /**
   * A reliable message the caller already put in the outbox (`outbox.add`), whose first attempt
   * waits for `needed`: false (acknowledged another way, e.g. a recipient's ack of a topic's
   * gossip copy) removes it as delivered; true sends it with the usual retries and dead letters.
   * `needed` rejecting: withdrawn by `signal` (removed), or the node stopping (kept: resent at
   * the next start, like any outbox message).
   */
  async deliverHeld (entry: OutboxEntry, needed: Promise<boolean>, signal?: AbortSignal): Promise<unknown> {
    let send: boolean
    try {
      send = await needed
    } catch (err) {
      if (signal?.aborted === true) await this.outbox.remove(entry)
      throw err
    }
    if (!send) {
      // Not awaited, as after an answer (deliver's `end`): a removal lost in a crash only resends a copy already acknowledged.
      this.outbox.remove(entry).catch((err: Error) => { this.init.log.warn({ error: err.message, message_id: entry.id }, 'outbox removal failed') })
      this.safeDispatchEvent('outcome', { detail: { peer: entry.peer, id: entry.id, guarantee: entry.guarantee, outcome: 'delivered', attempts: 0, background: false } })
      return undefined
    }
    return await this.deliver(entry, anyCommand(entry.subject), signal, false)
  }

  /** Every destination with an open or half-open breaker, or failures counted towards one. */
  breakers (): BreakerState[] { return this.breakerSet.list() }
  breaker (peer: string): BreakerState | undefined { return this.breakerSet.get(peer) }
  openBreakers (): number { return this.breakerSet.openCount() }
  get dedupEntries (): number { return this.dedup.size }

  /** `request` with the guarantee of `options.delivery` (default: the config's). */
  async request<Req extends z.ZodType, Res extends z.ZodType> (
    peer: string, command: Command<Req, Res> | string, payload: z.input<Req>, options: RequestOptions = {}
  ): Promise<z.output<Res>> {
    const guarantee = options.delivery ?? this.init.guarantee
    const cmd = typeof command === 'string' ? anyCommand(command) : command
    // Checked where the caller's payload enters, and never again: its attempts send it as prepared.
    if (guarantee === 'at-most-once') return await this.once(this.rpc.prepare(peer, cmd, payload, options.encryptFor), options)
    // Sealed (`encryptFor`) before the outbox keeps it: the outbox, its retries and a dead letter hold only ciphertext.
    const { payload: body } = this.rpc.prepare(peer, cmd, payload, options.encryptFor, issueOnly)
    const entry = requestEntry(randomUUID(), peer, cmd.name, body, guarantee, options, { ...options.headers }, options.timeoutMs ?? this.init.timeoutMs)
    // Numbered once every check passed: a payload or option refused leaves no hole in the order.
    entry.headers = { ...entry.headers, ...this.inOrder.number(this.stream, peer) }
    // Signed as its first attempt carries it, and kept so in the outbox: every attempt is built from it.
    if (options.sign !== undefined) this.signing.sign(entry, options.sign, { ...wireHeaders(entry), ...this.inOrder.floor(peer), [HEADER_ATTEMPT]: '1' })
    await this.outbox.add(entry, options.signal)
    return await this.deliver(entry, cmd, options.signal, false) as z.output<Res>
  }

  /** `send` to one peer or several, each with the guarantee asked; never throws for one peer's failure. */
  async send<Req extends z.ZodType, Res extends z.ZodType> (
    peers: string | readonly string[], command: Command<Req, Res> | string, payload: z.input<Req>, options: RequestOptions = {}
  ): Promise<SendResult[]> {
    const list = typeof peers === 'string' ? [peers] : [...peers]
    return await Promise.all(list.map(async (peer): Promise<SendResult> => {
      try {
        return { peer, ok: true, reply: await this.request(peer, command, payload, { type: 'COMMAND', ...options }) }
      } catch (err) {
        const e = err instanceof AgentMeshError || err instanceof AbortError ? err : new ConnectionError(String(err), { cause: err })
        return { peer, ok: false, error: e }
      }
    }))
  }

  /**
   * Send an envelope again under its ORIGINAL id and idempotency key (a dead letter's replay), so
   * an exactly-once receiver that already handled it answers with its first answer. A reliable
   * envelope goes through the outbox and its retries again; an at-most-once one is sent once.
   * `handOff`: a reliable envelope resolves once it is in the outbox (durably), and its retries go
   * on in the background; if they run out it comes back as a new dead letter (replay uses this, so
   * one message is never held twice: in the outbox and in the dead letters).
   */
  async resend (envelope: Envelope, peer: string, options: { signal?: AbortSignal, timeoutMs?: number, handOff?: boolean } = {}): Promise<unknown> {
    const h = envelope.headers
    const guarantee = (h[HEADER_DELIVERY] ?? 'at-most-once') as DeliveryGuarantee
    const type = envelope.type as NonNullable<RequestOptions['type']>
    // A replay is out of order by nature: it leaves its old sequence behind.
    const dropped = [HEADER_DELIVERY, HEADER_ATTEMPT, HEADER_IDEMPOTENCY_KEY, HEADER_SEQUENCE, HEADER_STREAM, 'traceparent', 'tracestate']
    const headers = Object.fromEntries(Object.entries(h).filter(([k]) => !dropped.includes(k)))
    const timeoutMs = options.timeoutMs ?? envelope.ttl ?? this.init.timeoutMs
    if (guarantee === 'at-most-once') {
      const once: RequestOptions = { type, headers, timeoutMs, ...(options.signal !== undefined ? { signal: options.signal } : {}) }
      return await this.once(checkedOutgoing(peer, anyCommand(envelope.subject), envelope.payload, isSealed(envelope.payload)), once, { id: envelope.id })
    }
    const entry = replayEntry(envelope, peer, guarantee, headers, timeoutMs)
    // This node's own signed envelope stays signed (checked before it goes); another's is sent as this node's, as before.
    if (envelope.signature !== undefined && envelope.source === this.signing.self) entry.signed = envelope
    await this.outbox.add(entry, options.signal)
    const running = this.running?.signal
    if (options.handOff === true && running !== undefined) {
      this.deliver(entry, anyCommand(envelope.subject), running, true).catch((err: Error) => {
        if (!running.aborted) this.init.log.warn({ peer, message_id: entry.id, error: err.message }, 'replayed message not delivered')
      })
      return undefined
    }
    return await this.deliver(entry, anyCommand(envelope.subject), options.signal, false)
  }

  /** One attempt of a request checked before (`out`), through its destination's breaker. */
  private async once (out: Outgoing, options: RequestOptions, as: AttemptAs = {}): Promise<any> {
    this.breakerSet.check(out.peer)
    let settled = false
    try {
      const answer = await this.rpc.attempt(out, options, as)
      settled = true
      this.breakerSet.success(out.peer)
      return answer
    } catch (err) {
      if (isTransportFailure(err)) {
        settled = true
        // The caller's own cancel says nothing of the peer.
        if (options.signal?.aborted !== true) this.breakerSet.failure(out.peer, err as AgentMeshError)
        else settled = false
      } else if (err instanceof AgentMeshError && err.code !== 'RATE001') {
        // An error answer: the peer is there and talking.
        settled = true
        this.breakerSet.success(out.peer)
      }
      throw err
    } finally {
      if (!settled) this.breakerSet.release(out.peer)
    }
  }

  /**
   * Attempts of one outbox message until it is answered or given up. The caller's signal
   * withdraws it (removed from the outbox; an attempt already on the wire may still be handled);
   * the node's stop leaves it in the outbox for the next start. Every attempt sends the payload as
   * the outbox keeps it, checked (and sealed) where it entered.
   */
  private async deliver (e: OutboxEntry, cmd: Command, signal: AbortSignal | undefined, background: boolean): Promise<unknown> {
    const out = checkedOutgoing(e.peer, cmd, e.payload, e.sealed === true)
    const stopping = this.running?.signal
    const both = signal !== undefined && stopping !== undefined ? AbortSignal.any([signal, stopping]) : signal ?? stopping ?? new AbortController().signal
    const headers = wireHeaders(e)
    // Numbered in this run's stream: ordered, with the floor below which nothing is waited for.
    // From an earlier run (the outbox after a restart): sent unnumbered, order across a crash is not promised.
    const numbered = e.headers?.[HEADER_STREAM] === this.stream
    if (!numbered) { delete headers[HEADER_STREAM]; delete headers[HEADER_SEQUENCE] }
    const end = async (outcome: 'delivered' | 'failed' | 'given_up'): Promise<void> => {
      this.inOrder.settle(e.peer, e.headers ?? {}, this.stream)
      // Not awaited once answered: a removal lost in a crash only resends a message already
      // delivered (a duplicate, which at-least-once allows and exactly-once recognises), and
      // the caller need not wait a second fsync.
      const removed = this.outbox.remove(e).catch((err: Error) => { this.init.log.warn({ error: err.message, message_id: e.id }, 'outbox removal failed') })
      if (outcome !== 'delivered') await removed
      this.safeDispatchEvent('outcome', { detail: { peer: e.peer, id: e.id, guarantee: e.guarantee, outcome, attempts: e.attempts, background } })
    }
    // Unsigned (the default): one field check. Signed, and read back from the store: checked before it goes.
    const signed = signedOf(e)
    const refused = signed !== undefined ? this.signing.check(e, signed) : undefined
    if (refused !== undefined) {
      this.audit.record({ kind: 'signature.refused', peer: e.peer, correlationId: e.id, code: refused.code, reason: refused.message.slice(0, 512), detail: { command: e.subject, side: 'sender' } })
      await this.deadLetter('sender', e.signed ?? envelopeOf(e, headers), e.peer, 'refused', refused, e.attempts, e.firstAttemptAt)
      await end('failed')
      throw refused
    }
    for (;;) {
      if (e.expiresAt !== undefined && Date.now() >= e.expiresAt) {
        const error = new TimeoutError(`ttl passed: not delivered within ${e.expiresAt - e.firstAttemptAt} ms (${e.attempts} attempts)`)
        const letter = await this.deadLetter('sender', e.signed ?? envelopeOf(e, headers), e.peer, 'expired', error, e.attempts, e.firstAttemptAt)
        await end('given_up')
        throw new DeliveryFailedError(error, { attempts: e.attempts, messageId: e.id, deadLetterId: letter?.id })
      }
      e.attempts++
      e.lastAttemptAt = Date.now()
      if (e.attempts > 1) await this.outbox.update(e)
      try {
        const answer = await this.once(out, {
          type: e.type,
          timeoutMs: e.timeoutMs,
          signal: both,
          headers: { ...headers, ...(numbered ? this.inOrder.floor(e.peer) : {}), [HEADER_ATTEMPT]: String(e.attempts) },
          ...(e.conversationId !== undefined ? { conversationId: e.conversationId } : {})
        }, { id: e.id, ...(e.signed !== undefined ? { signed: this.signing.attempt(e, e.signed) } : {}) })
        await end('delivered')
        return answer
      } catch (err) {
        if (both.aborted) {
          // Withdrawn by its caller: gone. The node stopping: kept for the next start.
          if (signal?.aborted === true) await end('failed')
          throw abortReason(both)
        }
        const error = err instanceof AgentMeshError ? err : new ConnectionError(String(err), { cause: err })
        if (!retryable(error)) {
          // Delivered and answered with an error (the receiver dead-letters a handler's failure
          // or a refusal itself), or refused before sending (too large): no retry would help.
          await end('failed')
          throw error
        }
        if (e.attempts > this.init.retry.maxRetries) {
          const reason: DeadLetterReason = error.name === 'CircuitOpenError' ? 'circuit_open' : 'retries_exhausted'
          const letter = await this.deadLetter('sender', e.signed ?? envelopeOf(e, headers), e.peer, reason, error, e.attempts, e.firstAttemptAt)
          await end('given_up')
          throw new DeliveryFailedError(error, { attempts: e.attempts, messageId: e.id, deadLetterId: letter?.id })
        }
        // No wait past the ttl: the loop's head then dead-letters it as expired.
        let delayMs = Math.min(retryDelay(e.attempts, this.init.retry), e.expiresAt !== undefined ? Math.max(0, e.expiresAt - Date.now()) : Infinity)
        // An open breaker lets nothing through before it half-opens: waiting less burns a retry.
        const halfOpenAt = this.breakerSet.get(e.peer)?.halfOpenAt
        if (error.name === 'CircuitOpenError' && halfOpenAt !== undefined) delayMs = Math.max(delayMs, halfOpenAt - Date.now() + 1)
        this.safeDispatchEvent('retry', { detail: { peer: e.peer, id: e.id, attempt: e.attempts, delayMs, error } })
        await pause(delayMs, both, () => abortReason(both)).catch(async (reason: Error) => {
          if (signal?.aborted === true) await end('failed')
          throw reason
        })
      }
    }
  }

  private async receive (env: Envelope, peer: string, run: () => Promise<Outcome>): Promise<Outcome> {
    // In the sender's order (in-order.ts): `handle` is begun synchronously when its turn comes.
    return await new Promise<Outcome>((resolve) => {
      try {
        this.inOrder.admit(env, peer, () => { resolve(this.handle(env, peer, run)) })
      } catch (err) {
        resolve({ error: err as AgentMeshError })
      }
    })
  }

  /** Receiver side of a reliable message: the dedup window for exactly-once, dead letters for failures. */
  private async handle (env: Envelope, peer: string, run: () => Promise<Outcome>): Promise<Outcome> {
    let result = 'first' as DedupResult
    const out = env.headers[HEADER_DELIVERY] === 'exactly-once'
      ? await this.dedup.serve(env, peer, run, (r) => { result = r; this.safeDispatchEvent('dedup', { detail: { peer, result: r } }) })
      : await run()
    // RATE001 answered is "retry later" (the sender retries it), not a handler's failure.
    if (out.error !== undefined && result !== 'duplicate' && out.error.code !== 'RATE001') {
      const attempt = Number(env.headers[HEADER_ATTEMPT] ?? 1)
      void this.deadLetter('receiver', env, peer, result === 'conflict' ? 'conflict' : 'handler_failed', out.error, Number.isFinite(attempt) ? attempt : 1, env.timestamp)
    }
    return out
  }

  private async deadLetter (
    side: DeadLetter['side'], envelope: Envelope, peer: string, reason: DeadLetterReason, error: AgentMeshError, attempts: number, firstAttemptAt: number
  ): Promise<DeadLetter | undefined> {
    const letter = { side, envelope, peer, reason, error: error.toJSON(), attempts, firstAttemptAt, lastAttemptAt: Date.now() }
    let kept: DeadLetter | undefined
    try {
      kept = await this.init.deadLetters?.add(letter)
    } catch (err) {
      this.init.log.warn({ error: (err as Error).message, message_id: envelope.id }, 'dead letter not kept')
    }
    if (kept === undefined) {
      this.init.log.warn({ side, reason, peer, message_id: envelope.id, subject: envelope.subject, code: error.code, attempts }, 'message given up (dead letter not kept)')
    }
    this.safeDispatchEvent('dead-letter', { detail: { side, reason, peer, messageId: envelope.id, ...(kept !== undefined ? { id: kept.id } : {}) } })
    return kept
  }
}
