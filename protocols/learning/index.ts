/**
 * Model-update distribution (R-LEARN). The publisher keeps the bytes and announces the version
 * on `learning.model_update` (size, SHA-256); every agent that wants it (it has an apply
 * handler for the model, and the version is newer than the one it applied) fetches the bytes
 * over /agentmesh/learning/1.0.0 in chunks, checks size and hash as they arrive, applies them,
 * and answers on `learning.metrics`. An agent that applied a version serves it too, so a fetch
 * that fails at the source is tried at agents that already have it.
 *
 * An older version never replaces a newer one: updates of a model are applied one at a time,
 * and the version is checked again after the download, before the apply.
 */
import { createHash } from 'node:crypto'
import type { Connection, Libp2p, Stream } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import { AgentMeshError, ConnectionError, ModelMismatchError, NotAdmittedError, RateLimitedError, StaleModelError, UnknownModelError, ValidationError } from '../core/errors.js'
import { dialFramed, FramedStream } from '../rpc/framed-stream.js'
import { sharedController } from '../core/fan-out-signal.js'
import type { PubSubService, Subscription } from '../pubsub/index.js'
import { FetchHeader, FetchRequest, LEARNING_METRICS_TOPIC, LEARNING_PROTOCOL, MODEL_UPDATE_TOPIC, LearningMetrics, ModelUpdate } from './schemas.js'
import { deadline, type Deadline } from '../core/deadline.js'
import type { AuditSink } from '../core/audit.js'
import { StreamGuard, streamLimitsOf, type StreamLimits, type StreamMetrics } from '../negotiation/stream-guard.js'
import { DEFAULT_FETCHES_PER_PEER, DEFAULT_FETCHES_PER_SEC } from './constants.js'

export * from './schemas.js'

export interface ModelVersion { model_id: string, version: number, data: Uint8Array, sha256: string, metadata: Record<string, unknown> }
/** Apply a model version on this agent; may return figures reported on learning.metrics. */
export type ApplyModel = (update: ModelVersion) => void | Record<string, number> | Promise<void | Record<string, number>>

export interface LearningInit {
  self: string
  libp2p: Libp2p
  chunkBytes: number
  maxModelBytes: number
  fetchTimeoutMs: number
  /** How long opening a fetch's stream may take (connections.dialTimeoutMs), within fetchTimeoutMs. */
  dialTimeoutMs?: number
  /** Admission (closed mesh): a stream from a peer not admitted is closed unread. */
  admits?: (peer: string) => boolean
  /** Announcements and answers go out on it (while started) and are heard on it. */
  pubsub: PubSubService
  /**
   * Per-peer limits of fetches served here. Without them, the libp2p node's STREAM_LIMITS_SERVICE
   * (node/libp2p.ts builds it from the config), else the defaults (constants.ts).
   */
  limits?: StreamLimits
  /** The same limits as the config keys give them (learning.fetchesPerSec, learning.fetchesPerPeer): used when `limits` is not given. */
  fetchesPerSec?: number
  fetchesPerPeer?: number
  /** Counts refused fetches (stream_rate_limited_total). */
  stats?: StreamMetrics
  /** Records limit.exceeded, at most once a second per peer. */
  audit?: AuditSink
}

export interface LearningEvents {
  /** This node's answer to a model update (applied, stale, failed, hash_mismatch). */
  outcome: CustomEvent<LearningMetrics>
  /** An announcement on learning.model_update that does not parse. */
  rejected: CustomEvent<{ from: string, message: string, reason: string }>
  /** Something failed in the background (an announcement naming another source, a failed update). */
  error: CustomEvent<{ error: Error }>
}

export class LearningService extends TypedEventEmitter<LearningEvents> {
  private readonly init: LearningInit
  /** Versions this node can serve: what it published and what it applied (the newest of each model). */
  private readonly store = new Map<string, ModelVersion>()
  private readonly applied = new Map<string, number>()
  private readonly appliers = new Map<string, ApplyModel>()
  /** Agents known to hold a version (they answered "applied"): fallbacks for a fetch. */
  private readonly holders = new Map<string, Set<string>>()
  private readonly queues = new Map<string, Promise<void>>()
  private readonly open = new Set<Stream>()
  // Every transfer served or fetched listens to it (deadline()).
  private stopping = sharedController()
  private running = false
  /** learning.model_update and learning.metrics, once this node takes or publishes models. */
  private listening: Array<Subscription<unknown>> = []
  readonly guard: StreamGuard

  constructor (init: LearningInit) {
    super()
    this.init = init
    const shared = streamLimitsOf(init.libp2p.services, 'learning', { perSec: DEFAULT_FETCHES_PER_SEC, concurrent: DEFAULT_FETCHES_PER_PEER })
    const limits = init.limits ?? { perSec: init.fetchesPerSec ?? shared.perSec, concurrent: init.fetchesPerPeer ?? shared.concurrent }
    this.guard = new StreamGuard({ protocol: 'learning', limits, ...(init.admits !== undefined ? { admits: init.admits } : {}), ...(init.stats !== undefined ? { stats: init.stats } : {}), ...(init.audit !== undefined ? { audit: init.audit } : {}) })
  }

  async start (): Promise<void> {
    if (this.running) return
    this.running = true
    if (this.stopping.signal.aborted) this.stopping = sharedController()
    await this.init.libp2p.handle(LEARNING_PROTOCOL, (stream, connection) => { void this.serve(stream, connection) }, { maxInboundStreams: 8 })
    if (this.wantsUpdates) this.listen()
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    this.stopping.abort(new ConnectionError('node stopping'))
    for (const sub of this.listening.splice(0)) sub.unsubscribe()
    await this.init.libp2p.unhandle(LEARNING_PROTOCOL).catch(() => {})
    for (const s of this.open) s.abort(new Error('node stopping'))
    this.open.clear()
  }

  /**
   * Model updates and the agents' answers to them (R-LEARN): only agents that take or publish
   * models listen to the learning topics, from the first applier or publish on.
   */
  private listen (): void {
    if (this.listening.length > 0 || !this.running) return
    const updates = this.init.pubsub.subscribe(MODEL_UPDATE_TOPIC)
    const answers = this.init.pubsub.subscribe(LEARNING_METRICS_TOPIC)
    this.listening = [updates, answers]
    void (async () => {
      for await (const m of updates) {
        const u = ModelUpdate.safeParse(m.payload)
        if (u.success) this.announced(u.data, m.from)
        else this.safeDispatchEvent('rejected', { detail: { from: m.from, message: 'learning.model_update', reason: 'invalid' } })
      }
    })()
    void (async () => {
      for await (const m of answers) {
        const a = LearningMetrics.safeParse(m.payload)
        if (a.success) this.heard(a.data, m.from)
      }
    })()
  }

  /** Only while started: announcements and answers of a node not in the mesh go nowhere. */
  private async publish (topic: string, payload: unknown): Promise<void> {
    if (this.running) await this.init.pubsub.publish(topic, payload)
  }

  private fail (error: Error): void { this.safeDispatchEvent('error', { detail: { error } }) }

  /** Apply updates of one model here (`*` for every model). */
  onModelUpdate (modelId: string, apply: ApplyModel): () => void {
    this.appliers.set(modelId, apply)
    this.listen()
    return () => { if (this.appliers.get(modelId) === apply) this.appliers.delete(modelId) }
  }

  get wantsUpdates (): boolean { return this.appliers.size > 0 }

  /** The version of a model applied here, if any. */
  version (modelId: string): number | undefined { return this.applied.get(modelId) }

  /** Keep a version to serve without announcing it. */
  offer (modelId: string, version: number, data: Uint8Array, metadata: Record<string, unknown> = {}): ModelVersion {
    const m = { model_id: modelId, version, data, sha256: createHash('sha256').update(data).digest('hex'), metadata }
    const had = this.store.get(modelId)
    if (had === undefined || had.version <= version) this.store.set(modelId, m)
    return m
  }

  /** Publish a model version: keep the bytes to serve, and announce it on learning.model_update. */
  async publishModel (u: { model_id: string, version: number, data: Uint8Array, metadata?: Record<string, unknown> }): Promise<ModelUpdate> {
    if (u.data.byteLength > this.init.maxModelBytes) throw new ValidationError(`model of ${u.data.byteLength} bytes is over learning.maxModelBytes (${this.init.maxModelBytes})`)
    const had = this.store.get(u.model_id)
    if (had !== undefined && had.version >= u.version) throw new StaleModelError(`model ${u.model_id} version ${u.version} is not newer than version ${had.version}`)
    this.listen()
    const m = this.offer(u.model_id, u.version, u.data, u.metadata ?? {})
    const announce: ModelUpdate = { type: 'learning.model_update', model_id: m.model_id, version: m.version, size: m.data.byteLength, sha256: m.sha256, source: this.init.self, timestamp: new Date().toISOString(), metadata: m.metadata }
    await this.publish(MODEL_UPDATE_TOPIC, announce)
    return announce
  }

  /** An agent's answer heard on learning.metrics: one that applied a version can serve it. */
  heard (m: LearningMetrics, from: string): void {
    if (m.status !== 'applied' || m.agent !== from) return
    const key = `${m.model_id}@${m.version}`
    const set = this.holders.get(key) ?? new Set()
    set.add(from)
    this.holders.set(key, set)
  }

  /** An announcement heard on learning.model_update. */
  announced (u: ModelUpdate, from: string): void {
    if (u.source !== from) { this.fail(new ValidationError(`model update announced by ${from} names ${u.source} as its source`)); return }
    if (this.appliers.get(u.model_id) === undefined && this.appliers.get('*') === undefined) return
    // One update of a model at a time, in the order heard.
    const prev = this.queues.get(u.model_id) ?? Promise.resolve()
    const next = prev.then(async () => { await this.take(u) }).catch((err: Error) => { this.fail(err) })
    this.queues.set(u.model_id, next)
    void next.finally(() => { if (this.queues.get(u.model_id) === next) this.queues.delete(u.model_id) })
  }

  private async take (u: ModelUpdate): Promise<void> {
    const started = performance.now()
    const answer = async (status: LearningMetrics['status'], bytes: number, extra: Partial<LearningMetrics> = {}): Promise<void> => {
      const m: LearningMetrics = {
        model_id: u.model_id,
        version: u.version,
        agent: this.init.self,
        status,
        bytes,
        duration_ms: Math.round(performance.now() - started),
        timestamp: new Date().toISOString(),
        metrics: {},
        ...extra
      }
      this.safeDispatchEvent('outcome', { detail: m })
      await this.publish(LEARNING_METRICS_TOPIC, m).catch(() => {})
    }
    const current = this.applied.get(u.model_id)
    if (current !== undefined && current >= u.version) {
      const e = new StaleModelError(`model ${u.model_id}: version ${u.version} is not newer than the applied ${current}`)
      await answer('stale', 0, { error: { code: e.code, message: e.message } })
      return
    }
    if (u.size > this.init.maxModelBytes) {
      await answer('failed', 0, { error: { code: 'MSG002', message: `model of ${u.size} bytes is over learning.maxModelBytes` } })
      return
    }
    // This node's own announcement: the bytes are here already.
    const own = this.store.get(u.model_id)
    let data: Uint8Array | undefined = u.source === this.init.self && own?.version === u.version && own.sha256 === u.sha256 ? own.data : undefined
    let lastError: AgentMeshError | undefined = u.source === this.init.self && own?.version === u.version && own.sha256 !== u.sha256
      ? new ModelMismatchError(`${u.model_id}@${u.version} held here hashes to ${own.sha256}, announced ${u.sha256}`)
      : undefined
    const sources = [u.source, ...(this.holders.get(`${u.model_id}@${u.version}`) ?? [])].filter((p, i, all) => p !== this.init.self && all.indexOf(p) === i)
    for (const source of data === undefined ? sources : []) {
      try {
        data = await this.fetch(source, u)
        break
      } catch (err) {
        lastError = err instanceof AgentMeshError ? err : new ConnectionError((err as Error).message)
        if (this.stopping.signal.aborted) return
      }
    }
    if (data === undefined) {
      const e = lastError ?? new ConnectionError('no source to fetch from')
      await answer(e.code === 'LRN001' ? 'hash_mismatch' : 'failed', 0, { error: { code: e.code, message: e.message.slice(0, 4096) } })
      return
    }
    // Checked again: a newer version may have been applied while this one downloaded.
    const now = this.applied.get(u.model_id)
    if (now !== undefined && now >= u.version) {
      const e = new StaleModelError(`model ${u.model_id}: version ${u.version} is not newer than the applied ${now}`)
      await answer('stale', data.byteLength, { error: { code: e.code, message: e.message } })
      return
    }
    const version: ModelVersion = { model_id: u.model_id, version: u.version, data, sha256: u.sha256, metadata: u.metadata }
    try {
      const apply = this.appliers.get(u.model_id) ?? this.appliers.get('*') as ApplyModel
      const figures = await apply(version)
      this.applied.set(u.model_id, u.version)
      this.offer(u.model_id, u.version, data, u.metadata)
      await answer('applied', data.byteLength, { metrics: figures ?? {} })
    } catch (err) {
      await answer('failed', data.byteLength, { error: { code: 'CMD002', message: (err as Error).message.slice(0, 4096) } })
    }
  }

  /** Fetch a version's bytes from one agent, checking size and hash (LRN001 if they differ). */
  async fetch (source: string, u: Pick<ModelUpdate, 'model_id' | 'version' | 'size' | 'sha256'>): Promise<Uint8Array> {
    const limit = deadline(this.init.fetchTimeoutMs, this.stopping.signal)
    const signal = limit.signal
    const fs = await dialFramed(this.init.libp2p, source, LEARNING_PROTOCOL, this.init.chunkBytes + 1024, this.open, signal, this.init.dialTimeoutMs)
      .catch((err) => { limit.clear(); throw err })
    const stream = fs.stream
    try {
      await fs.writeJson({ model_id: u.model_id, version: u.version }, signal)
      const header = await fs.readJson(FetchHeader, signal)
      if (!header.ok && header.code === 'RATE001') throw new RateLimitedError(`${source}: ${header.message}`)
      if (!header.ok) throw new UnknownModelError(`${source} cannot serve ${u.model_id}@${u.version}: ${header.message}`)
      if (header.size !== u.size || header.sha256 !== u.sha256) throw new ModelMismatchError(`${source} serves ${u.model_id}@${u.version} as ${header.size} bytes ${header.sha256}, announced ${u.size} bytes ${u.sha256}`)
      const out = Buffer.allocUnsafe(u.size)
      const hash = createHash('sha256')
      let at = 0
      while (at < u.size) {
        const chunk = await fs.read(signal)
        if (chunk === undefined) throw new ConnectionError(`${source} ended the transfer at ${at} of ${u.size} bytes`)
        if (at + chunk.byteLength > u.size) throw new ModelMismatchError(`${source} sent more than the announced ${u.size} bytes`)
        out.set(chunk, at)
        hash.update(chunk)
        at += chunk.byteLength
      }
      const got = hash.digest('hex')
      if (got !== u.sha256) throw new ModelMismatchError(`${u.model_id}@${u.version} from ${source} hashes to ${got}, announced ${u.sha256}`)
      await fs.close()
      return out
    } catch (err) {
      fs.abort(err as Error)
      throw err
    } finally { limit.clear(); this.open.delete(stream) }
  }

  private async serve (stream: Stream, connection: Connection): Promise<void> {
    const from = connection.remotePeer.toString()
    if (this.guard.unadmitted(from)) { stream.abort(new NotAdmittedError(`${from} is not admitted to this mesh`)); return }
    this.open.add(stream)
    const fs = new FramedStream(stream, 4096)
    // Over its limits: the fetch's own error header (RATE001), written before its request is read.
    const admitted = this.guard.admit(from)
    if (!admitted.ok) {
      try {
        await fs.writeJson({ ok: false, code: admitted.error.code, message: admitted.error.message.slice(0, 1024) }, AbortSignal.timeout(1_000))
        await fs.close()
      } catch (err) { fs.abort(err as Error) } finally { this.open.delete(stream) }
      return
    }
    let limit: Deadline | undefined
    try {
      const req = await fs.readJson(FetchRequest, AbortSignal.timeout(10_000))
      const m = this.store.get(req.model_id)
      if (m === undefined || m.version !== req.version) {
        const e = new UnknownModelError(`no ${req.model_id}@${req.version} here${m !== undefined ? ` (version ${m.version} is)` : ''}`)
        await fs.writeJson({ ok: false, code: e.code, message: e.message })
        await fs.close()
        return
      }
      await fs.writeJson({ ok: true, size: m.data.byteLength, sha256: m.sha256 })
      limit = deadline(this.init.fetchTimeoutMs, this.stopping.signal)
      const signal = limit.signal
      // Chunk by chunk, waiting for the stream to drain: a slow fetcher holds no more than a
      // window of the model in buffers here.
      for (let at = 0; at < m.data.byteLength; at += this.init.chunkBytes) {
        await fs.write(m.data.subarray(at, Math.min(at + this.init.chunkBytes, m.data.byteLength)), signal)
      }
      await fs.close()
    } catch (err) {
      fs.abort(err as Error)
    } finally { limit?.clear(); this.open.delete(stream); admitted.release() }
  }
}
