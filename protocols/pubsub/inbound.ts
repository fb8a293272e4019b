/**
 * The receiving side of a topic, whatever carried the batch: gossip (gossipsub checked the
 * publisher's signature) or the fan-out stream (Noise authenticated the peer, who is the
 * publisher). The same checks run on both: admission, the per-publisher limits, the wire format,
 * every envelope's source against the authenticated publisher, its topic, the topic's schema;
 * then each envelope is deduplicated by id, unsealed for this node, passed through reliable
 * delivery's gate and handed to the subscriptions.
 */
import type { z } from 'zod'
import type { Logger } from 'pino'
import { decodeBatchFrame, isExpired, WIRE_JSON_SHARED_HEAD, type Envelope } from '../envelope/index.js'
import { messageFields } from '../envelope/log-fields.js'
import { hasValidSignature } from '../envelope/signature.js'
import { endSpan, SpanKind, startReceiveSpan } from '../envelope/trace.js'
import { isSealed, noSealer, type Opened, type Sealer } from '../sealing/index.js'
import { openGroups } from './sealed-batch.js'
import { isReliable } from '../rpc/receiver.js'
import { GossipGuard, type Charge, type GossipMetrics } from './gossip-limits.js'
import { AuditPacer } from '../core/audit.js'
import type { TopicGate } from './publish-options.js'
import type { Subscription, Message } from './subscription.js'
import type { Topic } from './topics.js'

export interface LocalTopic {
  topic: Topic
  gossip: string
  subs: Set<Subscription<any>>
}

/**
 * A batch that passed every check: its envelopes, their payloads as the topic's schema parsed
 * them, and its binary sections (a 0x04 batch: its sealed groups' ciphertexts).
 */
export interface Checked {
  envs: Envelope[]
  schema?: z.ZodType
  payloads?: unknown[]
  sections?: Uint8Array[]
  /** Which envelopes' payloads have a sealed shape, as `check` found (so delivery does not check each shape again). */
  sealed?: boolean[]
}

/** Why a batch is not taken: `ignore` drops it quietly (not yet admitted, over the limit); a reason rejects it. */
export type Refusal = { ignore: true } | { reason: string }

export interface InboundInit {
  self: string
  stats: GossipMetrics
  log: Logger
  guard: GossipGuard
  maxBatchBytes: number
  admits?: (propagator: string, publisher: string) => 'accept' | 'ignore' | 'reject'
  sealer?: Sealer
  gate: () => TopicGate | undefined
}

/**
 * Batches delivered lately, by their first envelope's id and their length: a batch that came both
 * ways (written directly, and gossiped as the repair path for a stream that could not take it)
 * is delivered once. By batch, not by envelope: every duplicate the publisher makes is a whole
 * batch, and a set of every envelope id cost 3.5% of a receiver's busy CPU (fan-out profile).
 */
const RECENT_BATCHES = 4_096

/** `Checked.sealed` of a batch with no sealed payload (shared: never written). */
const NONE_SEALED: boolean[] = Object.freeze([]) as unknown as boolean[]

export class Inbound {
  private readonly init: InboundInit
  private readonly debug: boolean
  private readonly recent = new Set<string>()
  /** Rejections logged: the first a second per peer (reject). */
  private readonly logged = new AuditPacer()
  private readonly order: string[] = []
  private orderAt = 0

  constructor (init: InboundInit) {
    this.init = init
    this.debug = init.log.isLevelEnabled('debug')
  }

  /**
   * The checks a batch on `topic` relayed by `propagator` and published by `publisher` must pass
   * before anything of it is delivered (or, by gossip, forwarded). The whole batch goes when one
   * envelope fails: one forgery is reason enough to distrust what came with it. `charge`: how the
   * way it came is charged (gossip-limits.ts, Charge).
   */
  check (propagator: string, publisher: string, topic: string, data: Uint8Array, schema: z.ZodType | undefined, charge: Charge = 'gossip'): Checked | Refusal {
    const admitted = this.init.admits?.(propagator, publisher) ?? 'accept'
    if (admitted === 'reject') return this.reject(propagator, publisher, topic, 'not_admitted')
    if (admitted === 'ignore') {
      this.init.stats.inc('gossip_rejected_total', { reason: 'not_yet_admitted' })
      return { ignore: true }
    }
    // Limits before decoding: a flood is refused at the least cost (counted by the guard, not logged).
    const least = GossipGuard.weightOf(1, charge, data.byteLength)
    if (!this.init.guard.check(propagator, publisher, topic, least)) return { ignore: true }
    // A batch with a shared head is written only on a fan-out stream, to a peer that said it reads
    // it: gossip relays to builds that do not, so by gossip it is refused as an older build refuses it.
    if (charge === 'gossip' && data[0] === WIRE_JSON_SHARED_HEAD) return this.reject(propagator, publisher, topic, 'UnsupportedVersionError')
    let envs: Envelope[]
    let sections: Uint8Array[]
    let plainBytes: number
    try {
      ({ envs, sections, plainBytes } = decodeBatchFrame(data, this.init.maxBatchBytes))
    } catch (err) {
      return this.reject(propagator, publisher, topic, (err as Error).name)
    }
    // Charged as decoded: a shared head's batch by its 0x01 form's bytes (as a compressed one by its inflated bytes).
    const extra = GossipGuard.weightOf(envs.length, charge, plainBytes) - least
    if (extra > 0 && !this.init.guard.check(propagator, publisher, topic, extra)) return { ignore: true }
    const payloads: unknown[] = []
    let sealed: boolean[] | undefined
    for (const [i, env] of envs.entries()) {
      if (env.source !== publisher) return this.reject(propagator, publisher, topic, 'forged_source')
      // Signed envelopes (the gateway's, docs/security.md "Signed messages") are rare: only they pay a verification here.
      if (env.signature !== undefined && !hasValidSignature(env)) return this.reject(propagator, publisher, topic, 'bad_signature')
      if (!('topic' in env.destination) || env.destination.topic !== topic) return this.reject(propagator, publisher, topic, 'wrong_topic')
      if (isSealed(env.payload)) { // opened and schema-checked at delivery, by recipients only
        payloads.push(undefined)
        sealed ??= new Array<boolean>(envs.length).fill(false)
        sealed[i] = true
      } else if (schema !== undefined) {
        const r = schema.safeParse(env.payload)
        if (!r.success) return this.reject(propagator, publisher, topic, 'invalid_payload')
        payloads.push(r.data)
      }
    }
    const checked: Checked = schema !== undefined ? { envs, schema, payloads } : { envs }
    if (sections.length > 0) checked.sections = sections
    checked.sealed = sealed ?? NONE_SEALED
    return checked
  }

  /** Delivers a checked batch's envelopes to the topic's subscribers, each once. */
  deliverBatch (local: LocalTopic, checked: Checked): void {
    const first = checked.envs[0]
    if (first === undefined || this.seen(`${first.source}/${first.id}/${checked.envs.length}`)) return
    const parsed = checked.schema !== undefined && checked.schema === local.topic.schema ? checked.payloads : undefined
    const now = Date.now()
    const gate = this.init.gate()
    const sealer = this.init.sealer ?? noSealer
    // A batch's sealed groups (version 3) open whole, before any of their envelopes is delivered.
    const groups = openGroups(sealer, local.topic.name, checked.envs, checked.sections, checked.sealed)
    for (const [i, received] of checked.envs.entries()) {
      if (isExpired(received, now)) {
        this.init.stats.inc('messages_total', { direction: 'in', type: received.type, status: 'expired' })
        continue
      }
      const reliable = isReliable(received)
      const opened = groups?.[i]
      const env = opened !== undefined ? this.opened(received, opened) : this.unseal(received, local.topic.name)
      if (env === undefined) continue
      if (this.init.stats.message(local.topic.name, { direction: 'in', type: env.type, status: 'ok' })) {
        this.init.stats.observe('deliver', env.type, (now - env.timestamp) / 1000)
        this.init.stats.messages.add(received, 'in', undefined, now - env.timestamp) // as it came: sealed stays sealed in the log
      }
      if (this.debug) this.init.log.debug({ ...messageFields(env), latency_ms: now - env.timestamp }, 'event received')
      const { span } = startReceiveSpan(`agentmesh receive ${local.topic.name}`, SpanKind.CONSUMER, { 'agentmesh.peer_id': this.init.self, 'agentmesh.remote_peer': env.source, 'agentmesh.topic': local.topic.name, 'agentmesh.message_id': env.id }, env.headers)
      const deliver = (): void => { this.deliver(local, env, parsed !== undefined && env === received ? { value: parsed[i] } : undefined, env !== received) }
      if (gate !== undefined && reliable) gate(env, local.topic.name, 'gossip', deliver)
      else deliver()
      endSpan(span)
    }
  }

  /**
   * The envelope with its payload opened, when sealed for this node; undefined (counted as
   * 'sealed', audited once per key by the sealer) when not: a subscriber that is no recipient gets nothing.
   */
  unseal (env: Envelope, topic: string): Envelope | undefined {
    if (!isSealed(env.payload)) return env
    return this.opened(env, (this.init.sealer ?? noSealer).open(topic, env.source, env.payload, env.id))
  }

  /** The envelope with its opened payload, or undefined (counted) when it did not open for this node. */
  private opened (env: Envelope, r: Opened): Envelope | undefined {
    if (r.ok) return { ...env, payload: r.value }
    this.init.stats.inc('messages_total', { direction: 'in', type: env.type, status: 'sealed' })
    if (this.debug) this.init.log.debug({ ...messageFields(env), reason: r.reason }, 'sealed event not opened')
    return undefined
  }

  /** `parsed`: the payload as the topic's schema already parsed it, so it is not parsed twice. */
  deliver (local: LocalTopic, env: Envelope, parsed: { value: unknown } | undefined, sealed: boolean): void {
    let payload = parsed !== undefined ? parsed.value : env.payload
    if (parsed === undefined && local.topic.schema !== undefined) {
      const r = local.topic.schema.safeParse(payload)
      if (!r.success) return
      payload = r.data
    }
    const msg: Message = { topic: local.topic.name, payload, from: env.source, envelope: env, ...(sealed ? { sealed } : {}) }
    for (const sub of local.subs) sub.push(msg)
  }

  /** Whether the batch was delivered lately; records it if not (a ring of the last RECENT_BATCHES). */
  private seen (key: string): boolean {
    if (this.recent.has(key)) return true
    if (this.order.length < RECENT_BATCHES) this.order.push(key)
    else {
      this.recent.delete(this.order[this.orderAt])
      this.order[this.orderAt] = key
      this.orderAt = (this.orderAt + 1) % RECENT_BATCHES
    }
    this.recent.add(key)
    return false
  }

  /**
   * Counted each time; logged at most once a second per peer that sent it, with how many it
   * sent since: a publisher's own fan-out stream costs it no gossipsub score, so an admitted
   * peer could otherwise write a warning line per bad batch up to its rate limit (~800 a second).
   */
  private reject (propagator: string, publisher: string, topic: string, reason: string): Refusal {
    this.init.stats.inc('gossip_rejected_total', { reason })
    const paced = this.logged.pace(propagator, Date.now())
    if (paced !== undefined) this.init.log.warn({ peer: propagator, publisher, topic, reason, ...(paced.refused > 1 ? { rejected: paced.refused } : {}) }, 'gossip message rejected')
    this.init.stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'invalid' })
    return { reason }
  }
}
