/**
 * Publish-subscribe (R-PATTERN, R-REL batching): batches of envelopes, written straight to the
 * subscribers connected to the publisher when they are every subscriber (fanout.ts), else by
 * gossipsub. Every gossip message is signed by its publisher; receivers and relays check each
 * envelope's `source` against that signer (or, on the fan-out stream, against the peer Noise
 * authenticated) and reject (so gossipsub penalises the sender) any batch that fails its schema.
 */
import type { Libp2p, PeerId } from '@libp2p/interface'
import { TopicValidatorResult, type GossipSub, type Message as GossipMessage } from '@libp2p/gossipsub'
import type { z } from 'zod'
import { decodeBatchFrame, isExpired, type CompressionCodec, type Envelope, type SplitJson } from '../envelope/index.js'
import { AgentMeshError, ValidationError } from '../core/errors.js'
import type { Logger } from 'pino'
import { messageFields } from '../envelope/log-fields.js'
import { Batcher, BatchBudget } from './batcher.js'
import type { BatchSent } from './flusher.js'
import { graylists, penalise, publishesTo, scoreTopic, waitForGossipDrain, waitForGossipStreams } from './gossip-tuning.js'
import { installIntake } from './gossip-intake.js'
import { GossipGuard, type Charge, type GossipMetrics } from './gossip-limits.js'
import type { AuditSink } from '../core/audit.js'
import { Subscription } from './subscription.js'
import { preparePublish, type Prepared } from './prepare.js'
import { noSealer, type Sealer } from '../sealing/index.js'
import { isReliable } from '../rpc/receiver.js'
import { Fanout } from './fanout.js'
import { Inbound, type Checked, type LocalTopic } from './inbound.js'
import { BatchForms, sealBatch, type BatchItem } from './sealed-batch.js'
import type { GateVerdict, PublishOptions, TopicGate } from './publish-options.js'
import { gossipTopic, toTopic, type Topic } from './topics.js'
import type { TopicReach } from './topic-reach.js'
import { DEFAULT_COMPRESS_MIN_BYTES, DEFAULT_COMPRESSION, DEFAULT_DIRECT_FANOUT, DEFAULT_PUBLISH_PER_SEC, DIRECT_FRAME_WEIGHT, GOSSIP_BYTES_PER_MESSAGE, GOSSIP_ENVELOPES_PER_MESSAGE, MAX_SPILL_BYTES, NOISE_BATCH_BYTES, OWN_PUBLISH_SHARE, SCORE_REFRESH_WAIT_MS } from './constants.js'

export * from './constants.js'
export * from './topics.js'
export { Subscription, type Message } from './subscription.js'
export type { Prepared } from './prepare.js'
export type { PublishOptions, Recipients, TopicGate, GateVerdict } from './publish-options.js'
export { GossipGuard, gossipLimiter, type GossipLimits, type GossipMetrics } from './gossip-limits.js'
export { FANOUT_PROTOCOL } from './fanout-wire.js'
export type { TopicReach } from './topic-reach.js'

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
  /**
   * Admission (closed mesh): whether `peer` may be sent anything of a topic. A peer not admitted
   * is nobody's subscriber here (`subscribers`), the fan-out writes nothing to it, and gossipsub
   * keeps it out of meshes, fanout, flood publishing and gossip by its score (node/libp2p.ts).
   * Tell `admissionChanged` when the answer may have changed. Unset: every peer.
   */
  admitted?: (peer: string) => boolean
  /** Gossip messages per second per publisher, and seconds over it before a disconnection (gossip-limits.ts; the libp2p node's GOSSIP_LIMITER_SERVICE wins). */
  publishPerSec?: number
  floodSeconds?: number
  audit?: AuditSink
  /** Seals payloads published with `encryptFor` and opens those sealed for this node (protocols/sealing). */
  sealer?: Sealer
  /**
   * Subscribers a topic may have for its batches to be written to them directly, over the
   * fan-out streams, when they are every subscriber (0: always gossip). Default DEFAULT_DIRECT_FANOUT.
   */
  directFanout?: number
  /** Compress fan-out batches of at least `compressMinBytes` with this codec, for peers that accept it (default off). */
  compression?: 'off' | CompressionCodec
  compressMinBytes?: number
}

export class PubSubService {
  private readonly init: PubSubInit
  private readonly localPeer: string
  private readonly gossipsub: GossipSub
  private readonly topics = new Map<string, LocalTopic>() // by topic name
  private readonly batchers = new Map<string, Batcher<BatchItem>>() // by gossip topic
  /** Every topic's batches together, under what receivers charge this node (batcher.ts `shared`). */
  private readonly sendBudget?: BatchBudget
  private readonly schemas = new Map<string, z.ZodType>() // by gossip topic, for validators
  /**
   * What the validator decoded, kept for the delivery that follows it: the envelopes and, for a
   * typed topic, their payloads as its schema parsed them (with the schema, so a different one
   * installed in between is not trusted).
   */
  private readonly decoded = new WeakMap<Uint8Array, Checked>()
  private readonly onGossip = (evt: CustomEvent<GossipMessage>): void => { this.receive(evt.detail) }
  private started = false
  /** Aborted at stop: a batch waiting for a subscriber's stream goes (or is dropped) at once. */
  private stopping?: AbortController
  /** Subscribers a batch found without gossipsub's stream to them, since when (gossip-tuning.ts `waitForGossipStreams`). */
  private readonly streamWaits = new Map<string, number>()
  /** The same for subscribers gossipsub scores under its publish threshold (gossip-tuning.ts `publishesTo`). */
  private readonly scoreWaits = new Map<string, number>()
  private gate?: TopicGate
  private reach?: TopicReach
  private readonly debug: boolean
  private readonly inbound: Inbound
  private readonly fanout?: Fanout

  constructor (init: PubSubInit) {
    this.init = init
    this.debug = init.log.isLevelEnabled('debug')
    this.localPeer = init.libp2p.peerId.toString()
    this.gossipsub = init.libp2p.services.pubsub
    const limit = init.publishPerSec ?? DEFAULT_PUBLISH_PER_SEC
    if (limit > 0) this.sendBudget = new BatchBudget(limit * OWN_PUBLISH_SHARE)
    const guard = new GossipGuard({ ...init, penalise: (peer) => { penalise(this.gossipsub, peer) }, graylisted: (peer) => graylists(this.gossipsub, peer) })
    // A held, graylisted or cooling publisher's gossipsub RPCs are dropped before they are decoded.
    installIntake(this.gossipsub, { admits: (peer, now) => guard.admitsRpc(peer, now) })
    this.inbound = new Inbound({ ...init, self: this.localPeer, guard, maxBatchBytes: this.maxGossipBytes, gate: () => this.gate })
    const directFanout = init.directFanout ?? DEFAULT_DIRECT_FANOUT
    if (directFanout > 0) {
      const codec = init.compression ?? DEFAULT_COMPRESSION
      this.fanout = new Fanout({
        ...init,
        compression: codec === 'off' ? undefined : { codec, minBytes: init.compressMinBytes ?? DEFAULT_COMPRESS_MIN_BYTES },
        maxPeers: directFanout,
        maxFrameBytes: this.maxGossipBytes,
        topics: () => this.topics.keys(),
        subscribersOf: (topic) => this.subscribers(topic),
        onBatch: (peer, topic, batch, charge) => { this.receiveFanout(peer, topic, batch, charge) },
        reads: (peer) => guard.readsFrom(peer, Date.now())
      })
    }
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.stopping = new AbortController()
    this.gossipsub.addEventListener('message', this.onGossip)
    await this.fanout?.start()
  }

  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.stopping?.abort()
    this.gossipsub.removeEventListener('message', this.onGossip)
    await this.fanout?.stop()
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
    return preparePublish({ self: this.localPeer, sealer: this.init.sealer, maxMessageBytes: this.init.maxMessageBytes }, topic, payload, options)
  }

  /** Deliver a prepared envelope to local subscribers and queue it for gossip. */
  async send (p: Prepared): Promise<void> {
    const { topic: t, env, value } = p
    const sealed = p.sealedToSelf !== undefined
    if (!sealed || p.sealedToSelf === true) this.deliverLocal(t, sealed ? { ...env, payload: value } : env, value, sealed)
    if (this.init.stats.message(t.name, { direction: 'out', type: env.type, status: 'ok' })) this.init.stats.messages.add(env, 'out', p.size)
    if (this.debug) this.init.log.debug(messageFields(env), 'event published')
    await this.batcher(t.name, gossipTopic(this.init.mesh, t.name)).add(p.grouped ?? p.json as SplitJson, p.size)
  }

  /** Reliable delivery's side of receipt (protocols/delivery sets it once, when built). */
  gateWith (gate: TopicGate): void { this.gate = gate }

  /** Who connects this node to a subscriber of a topic it has none of (topic-reach.ts; node/services.ts sets it once). */
  reachWith (reach: TopicReach): void { this.reach = reach }

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
    const env = this.inbound.unseal(received, local.topic.name)
    if (env === undefined) return 'accepted' // sealed for others: this node has nothing to deliver
    if (this.init.stats.message(local.topic.name, { direction: 'in', type: env.type, status: 'ok' })) {
      this.init.stats.observe('deliver', env.type, (now - env.timestamp) / 1000)
      this.init.stats.messages.add(received, 'in', undefined, now - env.timestamp)
    }
    const deliver = (): void => { this.inbound.deliver(local, env, undefined, env !== received) }
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
      this.fanout?.reachChanged()
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
        this.fanout?.reachChanged()
      }
    }, () => { this.init.stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'dropped' }) })
    entry.subs.add(sub)
    return sub
  }

  /** Topics with at least one local subscriber. */
  subscriptions (): string[] { return [...this.topics.keys()] }

  /** Peers known to subscribe to a topic, those not admitted (closed mesh) left out. */
  subscribers (topic: string): string[] {
    const all = this.gossipsub.getSubscribers(gossipTopic(this.init.mesh, topic)).map(p => p.toString())
    const admitted = this.init.admitted
    return admitted === undefined ? all : all.filter(admitted)
  }

  /** A peer was admitted or expelled (closed mesh): the fan-out links follow. */
  admissionChanged (): void { this.fanout?.admissionChanged() }

  /** Subscribers beyond this node's peers, as those told (fanout.ts): while any, batches go by gossip. */
  relayedSubscribers (topic: string): string[] {
    return this.fanout?.relayed(topic, this.subscribers(topic)) ?? []
  }

  /** Whether gossipsub has its own stream open to `peer`: without one it drops what it would send there. */
  sendsTo (peer: string): boolean {
    // streamsOutbound exists on the implementation, not on the exported interface.
    const gs = this.gossipsub as unknown as { streamsOutbound?: Map<string, unknown> }
    return gs.streamsOutbound?.has(peer) ?? true
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

  private batcher (topic: string, gossip: string): Batcher<BatchItem> {
    let b = this.batchers.get(gossip)
    if (b === undefined) {
      b = new Batcher<BatchItem>({
        windowMs: this.init.batchWindowMs,
        maxEnvelopes: this.init.batchMaxEnvelopes,
        maxBytes: this.init.batchMaxBytes,
        // Less the fan-out frame's head (its length: 3 bytes, kind: 1, the topic's length: 2, and
        // the topic), the batch's wire byte and the first envelope's comma the batcher counts.
        transportBytes: NOISE_BATCH_BYTES - 6 - Buffer.byteLength(topic) - 2,
        maxSpill: MAX_SPILL_BYTES,
        maxBatchesPerSec: this.init.maxBatchesPerSec,
        ...(this.sendBudget !== undefined
          ? {
              shared: this.sendBudget,
              sharedUnit: GOSSIP_ENVELOPES_PER_MESSAGE,
              sharedDirectWeight: DIRECT_FRAME_WEIGHT,
              sharedUnitBytes: GOSSIP_BYTES_PER_MESSAGE
            }
          : {}),
        maxQueued: this.init.publishWindow,
        flush: async (items) => await this.sendBatch(topic, gossip, items),
        onError: (err, count) => {
          this.init.stats.inc('messages_total', { direction: 'out', type: 'EVENT', status: 'error' }, count)
          this.init.stats.inc('gossip_rejected_total', { reason: err instanceof AgentMeshError ? err.code : 'publish_failed' })
        }
      })
      this.batchers.set(gossip, b)
    }
    return b
  }

  /**
   * One encoding of the batch for every way it goes: written to each subscriber when they are
   * all connected here (and speak the fan-out protocol), else gossiped. A batch some stream could
   * not take is gossiped as well (the repair path): those that had it drop it by envelope id.
   */
  private async sendBatch (topic: string, gossip: string, items: BatchItem[]): Promise<BatchSent> {
    const forms = new BatchForms(sealBatch(this.init.sealer ?? noSealer, topic, items))
    let subscribers = this.subscribers(topic)
    if (subscribers.length === 0 && this.reach !== undefined) {
      await this.reach.reach(topic, () => this.subscribers(topic).some(p => this.sendsTo(p)))
      subscribers = this.subscribers(topic)
    }
    const direct = this.fanout?.targets(topic, subscribers)
    if (direct !== undefined) {
      const failed = await (this.fanout as Fanout).send(topic, direct, forms)
      if (direct.length > failed.length) this.init.stats.inc('broadcast_batches_total', { direction: 'out', via: 'direct' })
      if (failed.length === 0) return { route: (this.fanout as Fanout).weighHalf(direct) ? 'direct' : 'direct-full', bytes: forms.bytes }
    }
    const batch = forms.plain()
    await waitForGossipStreams(this.subscribers(topic), p => this.sendsTo(p), this.streamWaits, this.stopping?.signal)
    await waitForGossipStreams(this.subscribers(topic), p => publishesTo(this.gossipsub, p), this.scoreWaits, this.stopping?.signal, SCORE_REFRESH_WAIT_MS)
    await waitForGossipDrain(this.init.libp2p)
    await this.gossipsub.publish(gossip, batch)
    this.init.stats.inc('broadcast_batches_total', { direction: 'out', via: 'gossip' })
    return { route: 'gossip', bytes: batch.byteLength }
  }

  private validate (peer: PeerId, msg: GossipMessage, topic: string): TopicValidatorResult {
    if (msg.type !== 'signed') {
      this.init.stats.inc('gossip_rejected_total', { reason: 'unsigned' })
      this.init.log.warn({ peer: peer.toString(), topic, reason: 'unsigned' }, 'gossip message rejected')
      this.init.stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'invalid' })
      return TopicValidatorResult.Reject
    }
    const r = this.inbound.check(peer.toString(), msg.from.toString(), topic, msg.data, this.schemas.get(msg.topic))
    if ('ignore' in r) return TopicValidatorResult.Ignore
    if ('reason' in r) return TopicValidatorResult.Reject
    this.decoded.set(msg.data, r)
    return TopicValidatorResult.Accept
  }

  private receive (msg: GossipMessage): void {
    const local = this.findByGossip(msg.topic)
    if (local === undefined || msg.type !== 'signed') return
    let checked = this.decoded.get(msg.data)
    if (checked === undefined) {
      try { checked = decodeBatchFrame(msg.data, this.maxGossipBytes) } catch { return }
    }
    this.init.stats.inc('broadcast_batches_total', { direction: 'in', via: 'gossip' })
    this.inbound.deliverBatch(local, checked)
  }

  /** A batch on a fan-out stream: `peer`, authenticated by Noise, is its publisher. */
  private receiveFanout (peer: string, topic: string, batch: Uint8Array, charge: Exclude<Charge, 'gossip'>): void {
    const local = this.topics.get(topic)
    if (local === undefined) {
      this.init.stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'unsubscribed' })
      return
    }
    const r = this.inbound.check(peer, peer, topic, batch, local.topic.schema, charge)
    if (!('envs' in r)) return
    this.init.stats.inc('broadcast_batches_total', { direction: 'in', via: 'direct' })
    this.inbound.deliverBatch(local, r)
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
    this.inbound.deliver(local, env, same ? { value } : undefined, sealed)
  }
}
