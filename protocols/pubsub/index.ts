/**
 * Publish-subscribe over gossipsub (R-PATTERN, R-REL batching). Every gossip message is signed
 * by its publisher; receivers and relays check each envelope's `source` against that signer and
 * reject (so gossipsub penalises the sender) any batch that fails its schema.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { TopicValidatorResult, type GossipSub, type Message as GossipMessage } from '@libp2p/gossipsub'
import type { z } from 'zod'
import {
  decodeBatch, encodeBatch, envelopeToJson, isExpired, makeEnvelope, validateEnvelope, type Envelope
} from '../envelope/index.js'
import { AgentMeshError, MessageTooLargeError, ValidationError } from '../core/errors.js'
import type { Logger } from 'pino'
import { messageFields } from '../envelope/log-fields.js'
import { endSpan, SpanKind, startReceiveSpan, startSendSpan } from '../envelope/trace.js'
import { Batcher } from './batcher.js'
import { graylists, penalise, scoreTopic, waitForGossipDrain } from './gossip-tuning.js'
import { installIntake } from './gossip-intake.js'
import { GossipGuard, type GossipMetrics } from './gossip-limits.js'
import type { AuditSink } from '../core/audit.js'
import { Subscription, type Message } from './subscription.js'
import { isSealed, noSealer, type Sealer } from '../sealing/index.js'
import { isReliable } from '../rpc/receiver.js'
import type { GateVerdict, PublishOptions, TopicGate } from './publish-options.js'
import { gossipTopic, toTopic, type Topic } from './topics.js'

export * from './constants.js'
export * from './topics.js'
export { Subscription, type Message } from './subscription.js'
export type { PublishOptions, Recipients, TopicGate, GateVerdict } from './publish-options.js'
export { GossipGuard, gossipLimiter, type GossipLimits, type GossipMetrics } from './gossip-limits.js'

export interface PubSubInit {
  libp2p: Libp2p<{ pubsub: GossipSub }>
  mesh: string
  stats: GossipMetrics
  log: Logger
  maxMessageBytes: number
  batchWindowMs: number
  batchMaxEnvelopes: number
  batchMaxBytes: number
  maxBatchesPerSec: number
  publishWindow: number
  subscriptionBuffer: number
  /**
   * Admission (closed mesh): whether gossip that `propagator` relays and `publisher` signed is
   * taken. 'reject' (a refused or revoked peer) makes gossipsub penalise the sender; 'ignore'
   * (a peer whose card exchange has not finished) drops the message without penalty.
   */
  admits?: (propagator: string, publisher: string) => 'accept' | 'ignore' | 'reject'
  /** Gossip messages per second per publisher, and seconds over it before a disconnection (gossip-limits.ts; the libp2p node's GOSSIP_LIMITER_SERVICE wins). */
  publishPerSec?: number
  floodSeconds?: number
  audit?: AuditSink
  /** Seals payloads published with `encryptFor` and opens those sealed for this node (protocols/sealing). */
  sealer?: Sealer
}

/** A publish's envelope, checked and encoded, not yet sent. */
export interface Prepared {
  topic: Topic
  env: Envelope
  json: string
  size: number
  /** The payload as given (parsed by the topic's schema); `env.payload` is sealed when `sealedToSelf` is set. */
  value: unknown
  /** Sealed (`encryptFor`): whether this node is among the recipients. */
  sealedToSelf?: boolean
}

interface LocalTopic {
  topic: Topic
  gossip: string
  subs: Set<Subscription<any>>
}

export class PubSubService {
  private readonly init: PubSubInit
  private readonly localPeer: string
  private readonly gossipsub: GossipSub
  private readonly topics = new Map<string, LocalTopic>() // by topic name
  private readonly batchers = new Map<string, Batcher>() // by gossip topic
  private readonly schemas = new Map<string, z.ZodType>() // by gossip topic, for validators
  /**
   * What the validator decoded, kept for the delivery that follows it: the envelopes and, for a
   * typed topic, their payloads as its schema parsed them (with the schema, so a different one
   * installed in between is not trusted).
   */
  private readonly decoded = new WeakMap<Uint8Array, { envs: Envelope[], schema?: z.ZodType, payloads?: unknown[] }>()
  private readonly onGossip = (evt: CustomEvent<GossipMessage>): void => { this.receive(evt.detail) }
  private started = false
  private gate?: TopicGate
  private readonly debug: boolean
  private readonly guard: GossipGuard

  constructor (init: PubSubInit) {
    this.init = init
    this.debug = init.log.isLevelEnabled('debug')
    this.localPeer = init.libp2p.peerId.toString()
    this.gossipsub = init.libp2p.services.pubsub
    this.guard = new GossipGuard({ ...init, penalise: (peer) => { penalise(this.gossipsub, peer) }, graylisted: (peer) => graylists(this.gossipsub, peer) })
    installIntake(this.gossipsub, { admits: (peer, now) => this.guard.admitsRpc(peer, now) })
  }

  start (): void {
    if (this.started) return
    this.started = true
    this.gossipsub.addEventListener('message', this.onGossip)
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.gossipsub.removeEventListener('message', this.onGossip)
    for (const b of this.batchers.values()) b.stop()
    this.batchers.clear()
    for (const t of this.topics.values()) for (const s of [...t.subs]) s.unsubscribe()
    this.topics.clear()
  }

  /** The largest gossip message a node sends or accepts. */
  private get maxGossipBytes (): number {
    return Math.max(this.init.batchMaxBytes, this.init.maxMessageBytes) + 16
  }

  /**
   * Publish an event to every subscriber of the topic, local ones included. Resolves once the
   * envelope is queued; waits first when the node already holds `publishWindow` envelopes.
   */
  async publish<S extends z.ZodType> (topic: Topic<S> | string, payload: z.input<S>, options: PublishOptions = {}): Promise<Envelope> {
    const p = this.prepare(topic, payload, options)
    await this.send(p)
    return p.env
  }

  /** The envelope of a publish, checked, not yet sent: reliable publish keeps it in the outbox before `send`. */
  prepare<S extends z.ZodType> (topic: Topic<S> | string, payload: z.input<S>, options: PublishOptions = {}): Prepared {
    const t = toTopic(topic as Topic | string)
    let value: unknown = payload
    if (t.schema !== undefined) {
      const r = t.schema.safeParse(payload)
      if (!r.success) throw new ValidationError(`payload for topic "${t.name}": ${r.error.issues[0].path.join('.')} ${r.error.issues[0].message}`)
      value = r.data
    }
    const headers: Record<string, string> = { ...options.headers }
    const { span } = startSendSpan(`agentmesh publish ${t.name}`, SpanKind.PRODUCER, { 'agentmesh.peer_id': this.localPeer, 'agentmesh.topic': t.name }, headers)
    span.end() // the span marks the send; delivery is each receiver's span
    const sealed = options.encryptFor !== undefined ? (this.init.sealer ?? noSealer).seal(t.name, value, options.encryptFor) : undefined
    const env = makeEnvelope({
      source: this.localPeer,
      destination: { topic: t.name },
      type: options.type ?? 'EVENT',
      subject: t.name,
      payload: sealed?.payload ?? value,
      headers,
      ...(options.priority !== undefined ? { priority: options.priority } : {}),
      ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
      ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
      ...(options.conversationId !== undefined ? { conversationId: options.conversationId } : {})
    })
    validateEnvelope(env) // R-MSG: on send as on receipt; catches bad headers and the like
    const json = envelopeToJson(env)
    const size = Buffer.byteLength(json) + 1
    if (size > this.init.maxMessageBytes) throw new MessageTooLargeError(size, this.init.maxMessageBytes)
    return { topic: t, env, json, size, value, ...(sealed !== undefined ? { sealedToSelf: sealed.toSelf } : {}) }
  }

  /** Deliver a prepared envelope to local subscribers and queue it for gossip. */
  async send (p: Prepared): Promise<void> {
    const { topic: t, env, value } = p
    const sealed = p.sealedToSelf !== undefined
    if (!sealed || p.sealedToSelf === true) this.deliverLocal(t, sealed ? { ...env, payload: value } : env, value, sealed)
    if (this.init.stats.message(t.name, { direction: 'out', type: env.type, status: 'ok' })) this.init.stats.messages.add(env, 'out', p.size)
    if (this.debug) this.init.log.debug(messageFields(env), 'event published')
    await this.batcher(gossipTopic(this.init.mesh, t.name)).add(p.json)
  }

  /** Reliable delivery's side of receipt (protocols/delivery sets it once, when built). */
  gateWith (gate: TopicGate): void { this.gate = gate }

  /**
   * A topic envelope sent directly by its publisher, the authenticated `peer` (reliable publish's
   * fallback when no acknowledgement came): delivered as if it came by gossip, through the gate.
   */
  receiveDirect (received: Envelope, peer: string): GateVerdict | 'unsubscribed' {
    if (received.source !== peer) throw new ValidationError(`topic envelope ${received.id} claims source ${received.source} but came from ${peer}`)
    if (!('topic' in received.destination)) throw new ValidationError(`envelope ${received.id} has no topic`)
    const local = this.topics.get(received.destination.topic)
    if (local === undefined) return 'unsubscribed'
    const now = Date.now()
    if (isExpired(received, now)) {
      this.init.stats.inc('messages_total', { direction: 'in', type: received.type, status: 'expired' })
      return 'accepted' // nothing to retry: it would be expired again
    }
    const env = this.unseal(received, local.topic.name)
    if (env === undefined) return 'accepted' // sealed for others: this node has nothing to deliver
    if (this.init.stats.message(local.topic.name, { direction: 'in', type: env.type, status: 'ok' })) {
      this.init.stats.observe('deliver', env.type, (now - env.timestamp) / 1000)
      this.init.stats.messages.add(received, 'in', undefined, now - env.timestamp)
    }
    const deliver = (): void => { this.deliver(local, env, undefined, env !== received) }
    if (this.gate === undefined || !isReliable(env)) { deliver(); return 'accepted' }
    return this.gate(env, local.topic.name, 'direct', deliver)
  }

  /** Wait until every envelope published so far has been handed to gossipsub. */
  async flush (): Promise<void> {
    await Promise.all([...this.batchers.values()].map(async b => { await b.drain() }))
  }

  subscribe<S extends z.ZodType> (topic: Topic<S> | string): Subscription<z.output<S>> {
    const t = toTopic(topic as Topic | string)
    const gossip = gossipTopic(this.init.mesh, t.name)
    let local = this.topics.get(t.name)
    if (local === undefined) {
      local = { topic: t, gossip, subs: new Set() }
      this.topics.set(t.name, local)
      if (t.schema !== undefined) this.schemas.set(gossip, t.schema)
      this.gossipsub.topicValidators.set(gossip, (peer, msg) => this.validate(peer, msg, t.name))
      scoreTopic(this.gossipsub, gossip)
      this.gossipsub.subscribe(gossip)
    } else if (t.schema !== undefined && local.topic.schema === undefined) {
      local.topic = t
      this.schemas.set(gossip, t.schema)
    }
    const entry = local
    const sub: Subscription<z.output<S>> = new Subscription(t.name, this.init.subscriptionBuffer, () => {
      entry.subs.delete(sub)
      if (entry.subs.size === 0 && this.topics.get(t.name) === entry) {
        this.topics.delete(t.name)
        this.schemas.delete(gossip)
        this.gossipsub.topicValidators.delete(gossip)
        if (this.started) this.gossipsub.unsubscribe(gossip)
      }
    }, () => { this.init.stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'dropped' }) })
    entry.subs.add(sub)
    return sub
  }

  /** Topics with at least one local subscriber. */
  subscriptions (): string[] { return [...this.topics.keys()] }

  /** Peers known to subscribe to a topic. */
  subscribers (topic: string): string[] {
    return this.gossipsub.getSubscribers(gossipTopic(this.init.mesh, topic)).map(p => p.toString())
  }

  /** Gossip mesh peers for a topic (the peers this node forwards full messages to). */
  meshPeers (topic: string): string[] {
    // getMeshPeers exists on the implementation but not on the exported interface.
    const gs = this.gossipsub as unknown as { getMeshPeers?: (t: string) => string[] }
    return gs.getMeshPeers?.(gossipTopic(this.init.mesh, topic)) ?? []
  }

  /** The gossipsub score of a peer as this node sees it; negative after invalid messages. */
  peerScore (peer: PeerId): number {
    const gs = this.gossipsub as unknown as { getScore?: (id: string) => number }
    return gs.getScore?.(peer.toString()) ?? 0
  }

  private batcher (gossip: string): Batcher {
    let b = this.batchers.get(gossip)
    if (b === undefined) {
      b = new Batcher({
        windowMs: this.init.batchWindowMs,
        maxEnvelopes: this.init.batchMaxEnvelopes,
        maxBytes: this.init.batchMaxBytes,
        maxBatchesPerSec: this.init.maxBatchesPerSec,
        maxQueued: this.init.publishWindow,
        flush: async (jsons) => { await this.sendBatch(gossip, jsons) },
        onError: (err, count) => {
          this.init.stats.inc('messages_total', { direction: 'out', type: 'EVENT', status: 'error' }, count)
          this.init.stats.inc('gossip_rejected_total', { reason: err instanceof AgentMeshError ? err.code : 'publish_failed' })
        }
      })
      this.batchers.set(gossip, b)
    }
    return b
  }

  private async sendBatch (gossip: string, jsons: string[]): Promise<void> {
    await waitForGossipDrain(this.init.libp2p)
    await this.gossipsub.publish(gossip, encodeBatch(jsons))
  }

  private validate (peer: PeerId, msg: GossipMessage, topic: string): TopicValidatorResult {
    const reject = (reason: string): TopicValidatorResult => {
      this.init.stats.inc('gossip_rejected_total', { reason })
      this.init.log.warn({ peer: peer.toString(), publisher: msg.type === 'signed' ? msg.from.toString() : undefined, topic, reason }, 'gossip message rejected')
      this.init.stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'invalid' })
      return TopicValidatorResult.Reject
    }
    if (msg.type !== 'signed') return reject('unsigned')
    const admitted = this.init.admits?.(peer.toString(), msg.from.toString()) ?? 'accept'
    if (admitted === 'reject') return reject('not_admitted')
    if (admitted === 'ignore') {
      this.init.stats.inc('gossip_rejected_total', { reason: 'not_yet_admitted' })
      return TopicValidatorResult.Ignore
    }
    // Limits before decoding: a flood is refused at the least cost (counted by the guard, not logged).
    const from = msg.from.toString()
    if (!this.guard.check(peer.toString(), from, topic)) return TopicValidatorResult.Ignore
    let envs: Envelope[]
    try {
      envs = decodeBatch(msg.data, this.maxGossipBytes)
    } catch (err) {
      return reject((err as Error).name)
    }
    const extra = GossipGuard.weightOf(envs.length) - 1
    if (extra > 0 && !this.guard.check(peer.toString(), from, topic, extra)) return TopicValidatorResult.Ignore
    const schema = this.schemas.get(msg.topic)
    const payloads: unknown[] = []
    for (const env of envs) {
      // The gossip signature proves who published the batch; an envelope claiming another
      // source is a forgery, and the batch goes with it.
      if (env.source !== from) return reject('forged_source')
      if (!('topic' in env.destination) || env.destination.topic !== topic) return reject('wrong_topic')
      if (isSealed(env.payload)) payloads.push(undefined) // opened and schema-checked at delivery, by recipients only
      else if (schema !== undefined) {
        const r = schema.safeParse(env.payload)
        if (!r.success) return reject('invalid_payload')
        payloads.push(r.data)
      }
    }
    this.decoded.set(msg.data, schema !== undefined ? { envs, schema, payloads } : { envs })
    return TopicValidatorResult.Accept
  }

  private receive (msg: GossipMessage): void {
    const local = this.findByGossip(msg.topic)
    if (local === undefined || msg.type !== 'signed') return
    const cached = this.decoded.get(msg.data)
    let envs = cached?.envs
    if (envs === undefined) {
      try { envs = decodeBatch(msg.data, this.maxGossipBytes) } catch { return }
    }
    const parsed = cached?.schema !== undefined && cached.schema === local.topic.schema ? cached.payloads : undefined
    const now = Date.now()
    for (const [i, received] of envs.entries()) {
      if (isExpired(received, now)) {
        this.init.stats.inc('messages_total', { direction: 'in', type: received.type, status: 'expired' })
        continue
      }
      const env = this.unseal(received, local.topic.name)
      if (env === undefined) continue
      if (this.init.stats.message(local.topic.name, { direction: 'in', type: env.type, status: 'ok' })) {
        this.init.stats.observe('deliver', env.type, (now - env.timestamp) / 1000)
        this.init.stats.messages.add(received, 'in', undefined, now - env.timestamp) // as it came: sealed stays sealed in the log
      }
      if (this.debug) this.init.log.debug({ ...messageFields(env), latency_ms: now - env.timestamp }, 'event received')
      const { span } = startReceiveSpan(`agentmesh receive ${local.topic.name}`, SpanKind.CONSUMER, { 'agentmesh.peer_id': this.localPeer, 'agentmesh.remote_peer': env.source, 'agentmesh.topic': local.topic.name, 'agentmesh.message_id': env.id }, env.headers)
      const deliver = (): void => { this.deliver(local, env, parsed !== undefined && env === received ? { value: parsed[i] } : undefined, env !== received) }
      if (this.gate !== undefined && isReliable(env)) this.gate(env, local.topic.name, 'gossip', deliver)
      else deliver()
      endSpan(span)
    }
  }

  /**
   * The envelope with its payload opened, when sealed for this node; undefined (counted as
   * 'sealed', audited once per key by the sealer) when not: a subscriber that is no recipient gets nothing.
   */
  private unseal (env: Envelope, topic: string): Envelope | undefined {
    if (!isSealed(env.payload)) return env
    const r = (this.init.sealer ?? noSealer).open(topic, env.source, env.payload, env.id)
    if (r.ok) return { ...env, payload: r.value }
    this.init.stats.inc('messages_total', { direction: 'in', type: env.type, status: 'sealed' })
    if (this.debug) this.init.log.debug({ ...messageFields(env), reason: r.reason }, 'sealed event not opened')
    return undefined
  }

  private findByGossip (gossip: string): LocalTopic | undefined {
    const prefix = `agentmesh/${this.init.mesh}/`
    if (!gossip.startsWith(prefix)) return undefined
    return this.topics.get(gossip.slice(prefix.length))
  }

  /** Local subscribers get the payload publish() already parsed, if by the same schema. */
  private deliverLocal (topic: Topic, env: Envelope, value: unknown, sealed: boolean): void {
    const local = this.topics.get(topic.name)
    if (local === undefined) return
    const same = topic.schema !== undefined && topic.schema === local.topic.schema
    this.deliver(local, env, same ? { value } : undefined, sealed)
  }

  /** `parsed`: the payload as the topic's schema already parsed it, so it is not parsed twice. */
  private deliver (local: LocalTopic, env: Envelope, parsed: { value: unknown } | undefined, sealed: boolean): void {
    let payload = parsed !== undefined ? parsed.value : env.payload
    if (parsed === undefined && local.topic.schema !== undefined) {
      const r = local.topic.schema.safeParse(payload)
      if (!r.success) return
      payload = r.data
    }
    const msg: Message = { topic: local.topic.name, payload, from: env.source, envelope: env, ...(sealed ? { sealed } : {}) }
    for (const sub of local.subs) sub.push(msg)
  }
}
