/**
 * An agent's node in the mesh: libp2p underneath, and on top the envelope, pub-sub with
 * batching, request-response over one stream per peer, and the membership view built from
 * agent cards. This class holds the lifecycle and the public API; each protocol lives in its
 * own folder and is only wired here.
 */
import './polyfills.js'
import type { PrivateKey } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { TypedEventEmitter } from 'main-event'
import type { z } from 'zod'
import { parseConfig, type AgentConfig, type AgentConfigInput } from './config.js'
import { freshIdentity, loadOrCreateIdentity } from './identity.js'
import { buildLibp2p, type AgentLibp2p } from './libp2p.js'
import { Stats } from './stats.js'
import { DebugServer, RawBody, Takeover, type Route } from './debug-server.js'
import { EventStream } from './event-stream.js'
import { DEBUG_PAGE } from './debug-page.js'
import { ConnectionError } from '../protocols/core/errors.js'
import { AGENTMESH_VERSION } from '../protocols/core/version.js'
import { createLogger, type Logger } from './log.js'
import { installOtlpTracing, type TracingHandle } from './otlp.js'
import { PubSubService, type PublishOptions, type Subscription, type Topic } from '../protocols/pubsub/index.js'
import { abortReason } from '../protocols/rpc/channel.js'
import { RpcService, RPC_PROTOCOL, type Command, type Handler, type RequestOptions, type SendResult } from '../protocols/rpc/index.js'
import type { Envelope } from '../protocols/envelope/index.js'
import { Membership, type AgentQuery, type PeerInfo } from '../discovery/membership.js'
import { BootstrapDialer } from '../discovery/bootstrap.js'
import { PeerDialer } from '../discovery/dialer.js'
import type { AgentCard } from '../discovery/card.js'
import { MESH_TOPIC, MeshMap, type MeshAnnouncement } from '../discovery/mesh-map.js'
import { MemberView, type Member, type MemberChange } from '../discovery/members.js'
import { NegotiationService, NEGOTIATE_PROTOCOL, type NegotiationEvent } from '../protocols/negotiation/index.js'
import { MonitoringService, MetricReport, METRICS_TOPIC, type Alert } from '../protocols/monitoring/index.js'
import { LearningService, LearningMetrics, ModelUpdate, LEARNING_METRICS_TOPIC, LEARNING_PROTOCOL, MODEL_UPDATE_TOPIC } from '../protocols/learning/index.js'
import { ResourceService, type AllocateAnswer, type AllocateRequest } from '../protocols/resource/index.js'
import { TaskService, type TaskContext, type TaskHandle, type TaskHandler, type TaskSpecInput } from '../protocols/task/index.js'
import { CoordinationService, type CoordinationStatus, type CoordinatorChange, type DirectiveAction, type DirectiveHandler, type DirectiveRun } from '../protocols/coordination/index.js'

export interface AgentNodeEvents {
  /** An agent connected and told us its card. */
  'peer:join': CustomEvent<PeerInfo>
  /** An agent's last connection closed. */
  'peer:leave': CustomEvent<{ peerId: string, name: string }>
  /** A bootstrap peer could not be reached; the dial is retried after `retryInMs`. */
  'bootstrap:error': CustomEvent<{ address: string, error: Error, retryInMs: number }>
  /** Failure detection moved an agent to another state (alive, suspect, offline, left). */
  'member:change': CustomEvent<MemberChange>
  /** A coordinator took office, or this node knows of none any more. */
  'coordinator:change': CustomEvent<CoordinatorChange>
  /** A negotiation this node took part in ended (awarded, agreed, rejected, late, NEG002...). */
  negotiation: CustomEvent<NegotiationEvent>
}

export interface Health {
  status: 'starting' | 'ok' | 'alone' | 'stopped'
  /** Liveness and readiness: started, has agent peers, and every subscribed topic has gossip mesh peers. */
  ready: { started: boolean, hasPeers: boolean, gossipMeshFormed: boolean, topicsWithoutMesh: string[] }
  peerId: string
  name: string
  mesh: string
  version: string
  addresses: string[]
  uptimeMs: number
  peers: Array<{ peerId: string, name: string, roles: string[] }>
  subscriptions: string[]
  commands: string[]
  /** Who coordinates, and whether this node's side of the mesh can elect anyone at all. */
  coordination: { situation: CoordinationStatus['situation'], term: number, leader?: string, inOffice: boolean, quorum: CoordinationStatus['quorum'] }
}

export interface CreateAgentNodeOptions extends AgentConfigInput {
  /** An identity to use instead of `identity` (a file) or a fresh one. */
  privateKey?: PrivateKey
  /** A pino logger to write to instead of the node's own (JSON on stderr at `logLevel`). */
  logger?: Logger
}

/** Create a node (not yet started) from options validated against the config schema. */
export async function createAgentNode (options: CreateAgentNodeOptions = {}): Promise<AgentNode> {
  const { privateKey, logger, ...rest } = options
  const config = parseConfig(rest)
  const id = privateKey !== undefined
    ? { privateKey }
    : config.identity !== undefined ? await loadOrCreateIdentity(config.identity) : await freshIdentity()
  const stats = new Stats()
  const libp2p = await buildLibp2p(config, id.privateKey, config.debug !== undefined ? stats.registry : undefined)
  const node = new AgentNode(config, libp2p, stats, logger)
  if (config.tracing.otlpEndpoint !== undefined) node.tracing = await installOtlpTracing(config.tracing.otlpEndpoint, config.tracing.serviceName)
  return node
}

const TERMINAL_TASK = new Set(['completed', 'failed', 'cancelled'])

export class AgentNode extends TypedEventEmitter<AgentNodeEvents> {
  readonly config: AgentConfig
  readonly libp2p: AgentLibp2p
  readonly stats: Stats
  readonly log: Logger
  readonly name: string
  private readonly rpc: RpcService
  private readonly pubsub: PubSubService
  private readonly membership: Membership
  private readonly memberView: MemberView
  /** Elections, directives and coordination rounds: `node.coordination.coordinate(...)` on the coordinator. */
  readonly coordination: CoordinationService
  /** Tasks: the executor, the scheduler (on the coordinator) and the submitter's client. */
  readonly tasks: TaskService
  /** Resources: the manager's table (on the coordinator) and this agent's allocations. */
  readonly resources: ResourceService
  /** Contract net and bilateral negotiation over /agentmesh/negotiate/1.0.0. */
  readonly negotiation: NegotiationService
  /** Metric reports on monitoring.metrics, alerts on monitoring.alerts.<severity>. */
  readonly monitoring: MonitoringService
  /** Model updates: announced on learning.model_update, fetched in chunks over /agentmesh/learning/1.0.0. */
  readonly learning: LearningService
  private readonly bootstrap: BootstrapDialer
  private readonly discovery: PeerDialer
  private debug?: DebugServer
  private events?: EventStream
  private readonly stopFeeds: Array<() => void> = []
  private meshMap?: MeshMap
  private announceTimer?: ReturnType<typeof setTimeout>
  private lastRates: Record<string, number> = {}
  private lastAnnounce = Date.now()
  /** Set when this node configured the OTLP exporter; stop() flushes it. */
  tracing?: TracingHandle
  private readonly routes: Record<string, Route>
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new'
  private readonly directiveTime: (labels: { directive_type: string }, seconds: number) => void
  private startedAt = 0
  debugUrl?: string

  constructor (config: AgentConfig, libp2p: AgentLibp2p, stats = new Stats(), log?: Logger) {
    super()
    this.config = config
    this.libp2p = libp2p
    this.stats = stats
    const id = libp2p.peerId.toString()
    this.name = config.name ?? `agent-${id.slice(-6)}`
    this.log = log ?? createLogger(config.logLevel, { peer_id: id, agent: this.name })
    stats.countConnections(() => libp2p.getConnections().length)
    stats.messages.keepRecords = config.debug !== undefined
    this.rpc = new RpcService({
      libp2p,
      stats: this.stats,
      log: this.log,
      maxMessageBytes: config.maxMessageBytes,
      window: config.rpc.window,
      timeoutMs: config.rpc.timeoutMs,
      stallTimeoutMs: config.rpc.stallTimeoutMs
    })
    this.pubsub = new PubSubService({
      libp2p,
      mesh: config.mesh,
      stats: this.stats,
      log: this.log,
      maxMessageBytes: config.maxMessageBytes,
      ...config.pubsub
    })
    this.membership = new Membership({
      libp2p,
      rpc: this.rpc,
      mesh: config.mesh,
      card: () => this.card(),
      dial: (peerId, addresses) => { this.dialHint(peerId, addresses) }
    })
    this.membership.addEventListener('peer:join', (e) => {
      this.stats.inc('peers_joined_total')
      this.log.info({ peer: e.detail.peerId, peer_name: e.detail.name, roles: e.detail.roles }, 'agent joined')
      this.safeDispatchEvent('peer:join', { detail: e.detail })
    })
    this.membership.addEventListener('peer:leave', (e) => {
      this.stats.inc('peers_left_total')
      this.log.info({ peer: e.detail.peerId, peer_name: e.detail.name }, 'agent left')
      this.safeDispatchEvent('peer:leave', { detail: e.detail })
    })
    this.bootstrap = new BootstrapDialer({
      libp2p,
      addresses: config.bootstrap,
      initialDelayMs: config.connections.bootstrapInitialDelayMs,
      maxDelayMs: config.connections.bootstrapMaxDelayMs,
      dialTimeoutMs: config.connections.dialTimeoutMs,
      onDialError: (address, error, retryInMs) => {
        this.log.warn({ address, error: error.message, retry_in_ms: retryInMs }, 'bootstrap peer unreachable')
        this.safeDispatchEvent('bootstrap:error', { detail: { address, error, retryInMs } })
      }
    })
    this.discovery = new PeerDialer(libp2p, () => config.connections.targetPeers)
    this.memberView = new MemberView({
      ...config.membership,
      self: { peerId: id, name: this.name, roles: config.roles, eligible: config.coordination.eligible },
      rpc: this.rpc,
      pubsub: this.pubsub,
      onError: (err) => { this.log.debug({ error: err.message }, 'member heartbeat not sent') }
    })
    this.membership.addEventListener('peer:join', (e) => { this.memberView.seen(e.detail.peerId, e.detail.card) })
    this.memberView.addEventListener('member:change', (e) => {
      const c = e.detail
      this.stats.inc('member_changes_total', { state: c.to })
      if (c.from !== c.to) this.log.info({ peer: c.peerId, peer_name: c.name, from: c.from, to: c.to, incarnation: c.incarnation }, 'member state changed')
      if (c.to === 'offline' || c.to === 'left') {
        this.tasks.scheduler.agentLost(c.peerId)
        if (this.coordination.inOffice) {
          this.resources.agentLost(c.peerId)
          if (c.to === 'offline' && this.state === 'started') this.monitoring.alert({ severity: 'warning', message: `agent ${c.name} (${c.peerId}) is offline`, labels: { agent: c.peerId, reason: 'offline' } }).catch(() => {})
        }
        this.monitoring.forget(c.peerId)
      }
      this.safeDispatchEvent('member:change', { detail: c })
    })
    const c = config.coordination
    this.coordination = new CoordinationService({
      self: { peerId: id, name: this.name, capabilities: config.capabilities },
      eligible: c.eligible,
      rpc: this.rpc,
      heartbeatIntervalMs: c.heartbeatIntervalMs,
      electionTimeoutMinMs: c.electionTimeoutMinMs,
      electionTimeoutMaxMs: c.electionTimeoutMaxMs,
      voterRemoveAfterMs: c.voterRemoveAfterMs,
      bootstrapExpect: c.bootstrapExpect,
      ...((c.stateFile ?? (config.identity !== undefined ? `${config.identity}.coordination.json` : undefined)) !== undefined ? { stateFile: c.stateFile ?? `${config.identity as string}.coordination.json` } : {}),
      requestTimeoutMs: c.requestTimeoutMs,
      members: this.memberView
    })
    this.coordination.addEventListener('rejected', ({ detail: { from, message, reason } }) => {
      this.stats.inc('coordination_rejected_total', { message, reason })
      this.log.warn({ peer: from, message_type: message, reason }, 'coordination message refused')
    })
    this.coordination.addEventListener('directive', ({ detail: { role, action, outcome, seconds } }) => {
      this.stats.inc('directives_total', { role, action, outcome })
      if (seconds !== undefined) this.directiveTime({ directive_type: action }, seconds)
    })
    this.coordination.addEventListener('report', ({ detail: report }) => {
      this.log.info({ round: report.roundId, outcome: report.outcome, duration_ms: report.durationMs, directives: report.directives.length }, 'coordination round finished')
      // With the latest metric report of each agent of the round (R-MON).
      const agentMetrics = this.monitoring.reports().filter(m => m.agent !== undefined)
      if (this.state === 'started') this.pubsub.publish('coordination.performance', { ...report, agentMetrics }).catch(() => {})
    })
    this.coordination.addEventListener('error', ({ detail: { error } }) => { this.log.warn({ error: error.message }, 'coordination') })
    this.negotiation = new NegotiationService({
      libp2p,
      maxMessageBytes: config.maxMessageBytes,
      onEvent: (e) => {
        this.stats.inc('negotiations_total', { kind: e.kind, role: e.role, outcome: e.outcome })
        this.log.debug({ ...e }, 'negotiation ended')
        this.safeDispatchEvent('negotiation', { detail: e })
      },
      onError: (err) => { this.log.warn({ error: err.message }, 'negotiation') }
    })
    this.monitoring = new MonitoringService({
      self: id,
      name: this.name,
      rpc: this.rpc,
      intervalMs: config.monitoring.metricsIntervalMs,
      figures: () => {
        const sum = (direction: string): number => (this.stats.snapshot().messages_total ?? []).filter(e => e.labels.direction === direction).reduce((a, e) => a + e.value, 0)
        return {
          messages_in: sum('in'),
          messages_out: sum('out'),
          active_connections: libp2p.getConnections().length,
          peers: this.peers().length,
          tasks_running: this.tasks.executor.held().filter(t => t.state === 'running').length
        }
      },
      publish: async (topic, payload) => { if (this.state === 'started') await this.pubsub.publish(topic, payload) },
      onAlert: (a: Alert) => {
        this.stats.inc('alerts_total', { severity: a.severity })
        this.log.info({ alert_id: a.alert_id, severity: a.severity, alert: a.message }, 'alert published')
      },
      onError: (err) => { this.log.debug({ error: err.message }, 'metric report not published') }
    })
    this.learning = new LearningService({
      self: id,
      libp2p,
      ...config.learning,
      publish: async (topic, payload) => { if (this.state === 'started') await this.pubsub.publish(topic, payload) },
      onOutcome: (m) => {
        this.stats.inc('model_updates_total', { outcome: m.status })
        const fields = { model_id: m.model_id, version: m.version, bytes: m.bytes, duration_ms: m.duration_ms, error: m.error?.message }
        if (m.status === 'applied') this.log.info(fields, 'model update applied')
        else this.log.warn({ ...fields, status: m.status }, 'model update not applied')
      },
      onError: (err) => { this.log.warn({ error: err.message }, 'learning') },
      // Only agents that take or publish models listen to the learning topics.
      listen: () => { this.listenForModels() }
    })
    const r = config.resources
    this.resources = new ResourceService({
      self: id,
      rpc: this.rpc,
      inOffice: () => this.coordination.inOffice,
      term: () => this.coordination.term,
      admits: (term, from) => this.coordination.election.admits(term, from),
      capacities: () => {
        const caps = new Map([[id, this.card().resources as NonNullable<AgentCard['resources']>]])
        for (const m of this.liveMembers()) {
          const card = this.membership.get(m.peerId)?.card
          if (m.state === 'alive' && card?.resources !== undefined) caps.set(m.peerId, card.resources)
        }
        return caps
      },
      coordinator: async (signal) => (await this.coordinatorElected({ signal })).leader,
      publish: (topic, status) => { if (this.state === 'started' && this.listened(topic)) this.pubsub.publish(topic, status).catch(() => {}) },
      onDenied: (from, reason) => {
        this.stats.inc('resource_denied_total')
        this.log.info({ peer: from, reason }, 'resource allocation denied')
      },
      onError: (err) => { this.log.warn({ error: err.message }, 'resources') },
      requestTimeoutMs: c.requestTimeoutMs
    })
    this.tasks = new TaskService({
      self: id,
      rpc: this.rpc,
      resources: { cpu_cores: r.cpuCores, memory_gb: r.memoryGb, storage_gb: r.storageGb, gpu_units: r.gpuUnits },
      inOffice: () => this.coordination.inOffice,
      term: () => this.coordination.term,
      leader: () => this.coordination.leader,
      admits: (term, from) => this.coordination.election.admits(term, from),
      voters: () => this.coordination.status().voters,
      agents: () => this.liveMembers().filter(m => m.state === 'alive').map(m => m.peerId),
      coordinator: async (signal) => (await this.coordinatorElected({ signal })).leader,
      publish: (topic, status) => {
        if (TERMINAL_TASK.has(status.status) && this.coordination.inOffice) this.stats.inc('tasks_finished_total', { status: status.status })
        if (this.state === 'started' && this.listened(topic)) this.pubsub.publish(topic, status).catch(() => {})
      },
      onRejected: (from, message, reason) => {
        this.stats.inc('coordination_rejected_total', { message, reason })
        this.log.warn({ peer: from, message_type: message, reason }, 'task message refused')
      },
      onError: (err) => { this.log.warn({ error: err.message }, 'tasks') },
      requestTimeoutMs: c.requestTimeoutMs,
      resourceManager: this.resources,
      negotiation: this.negotiation
    })
    this.coordination.addEventListener('coordinator:change', (e) => {
      this.tasks.coordinatorChanged()
      this.stats.inc('coordinator_changes_total')
      this.log.info({ leader: e.detail.leader, term: e.detail.term, self: e.detail.self }, e.detail.leader !== undefined ? 'coordinator in office' : 'no coordinator')
      this.safeDispatchEvent('coordinator:change', { detail: e.detail })
    })
    stats.gauge('coordinator_term', 'The newest coordinator term this node has seen', () => this.coordination.term)
    stats.gauge('coordinator_in_office', '1 while this node is the coordinator in office, else 0', () => this.coordination.inOffice ? 1 : 0)
    stats.gauge('coordination_success_rate', 'Coordination rounds of this coordinator that completed, over all its rounds (1 before any)', () => this.coordination.successRate())
    this.directiveTime = stats.histogram('directive_completion_time_seconds', 'From sending a directive to its completion or failure, on the coordinator', ['directive_type'])
    this.routes = {
      '/health': () => this.health(),
      '/stats': () => this.stats.snapshot(),
      '/metrics': async () => new RawBody(await this.stats.exposition()),
      '/peers': async () => await this.peerDetails(),
      '/topics': () => this.topicDetails(),
      '/messages': ({ url }) => {
        const asked = Number.parseInt(url.searchParams.get('limit') ?? '', 10)
        return this.stats.messages.recent(Number.isFinite(asked) ? Math.min(Math.max(asked, 1), this.stats.messages.capacity) : 100)
      },
      '/': () => new RawBody({ contentType: 'text/html; charset=utf-8', body: DEBUG_PAGE }),
      '/mesh': () => this.meshMap?.snapshot() ?? { nodes: [], edges: [], ageMs: 0, intervalMs: 0 },
      '/coordinator': () => this.coordinator(),
      '/members': () => this.members(),
      '/resources': () => this.resources.snapshot(),
      '/tasks': ({ url }) => this.tasks.snapshot(Math.min(1_000, Math.max(1, Number(url.searchParams.get('limit') ?? 100) || 100))),
      '/events': () => new Takeover((req, res) => {
        this.events?.attach(req, res, { peerId: this.peerId, name: this.name, peers: this.peers().map(p => ({ peerId: p.peerId, name: p.name, roles: p.roles })) })
      })
    }
  }

  get peerId (): string { return this.libp2p.peerId.toString() }

  /** Handlers may be registered before start(); everything that talks to the mesh may not. */
  private assertStarted (what: string): void {
    if (this.state !== 'started') throw new ConnectionError(`cannot ${what}: the node is ${this.state === 'new' ? 'not started' : this.state}`)
  }

  get started (): boolean { return this.state === 'started' }

  /** Start listening, join the mesh, and open the debug endpoint if configured. */
  async start (): Promise<void> {
    if (this.state === 'started' || this.state === 'starting') return
    if (this.state === 'stopped' || this.state === 'stopping') throw new ConnectionError('a stopped node cannot be started again; create a new one')
    this.state = 'starting'
    try {
      await this.libp2p.start()
      await this.rpc.start()
      this.pubsub.start()
      this.membership.start()
      this.memberView.start()
      this.coordination.start()
      this.resources.start()
      await this.negotiation.start()
      this.monitoring.start()
      await this.learning.start()
      this.listenForMetrics()
      this.tasks.start()
      this.discovery.start()
      this.bootstrap.start()
      this.startAnnouncing()
      if (this.config.debug !== undefined) {
        this.watchMesh()
        this.openEventFeed()
        this.debug = new DebugServer({
          listen: this.config.debug,
          routes: this.routes,
          ...(this.config.debugToken !== undefined ? { token: this.config.debugToken } : {})
        })
        this.debugUrl = await this.debug.start()
      }
      this.startedAt = Date.now()
      this.state = 'started'
      if (this.learning.wantsUpdates) this.listenForModels()
      this.log.info({ addresses: this.addresses(), debug: this.debugUrl, mesh: this.config.mesh }, 'node started')
    } catch (err) {
      this.state = 'started'
      await this.stop()
      throw err
    }
  }

  /** Leave the mesh: closes every stream, timer, socket and the debug endpoint. Idempotent. */
  async stop (): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping' || this.state === 'new') {
      this.state = 'stopped'
      return
    }
    this.state = 'stopping'
    this.bootstrap.stop()
    this.discovery.stop()
    this.tasks.stop()
    this.resources.stop()
    await this.negotiation.stop()
    this.monitoring.stop()
    await this.learning.stop()
    this.coordination.stop()
    await this.memberView.stop()
    this.membership.stop()
    // The "left" heartbeat goes out before gossip closes, so others need not time us out.
    await Promise.race([this.pubsub.flush(), new Promise(resolve => setTimeout(resolve, 500).unref())]).catch(() => {})
    await this.pubsub.stop()
    await this.rpc.stop()
    if (this.announceTimer !== undefined) clearTimeout(this.announceTimer)
    for (const stop of this.stopFeeds.splice(0)) stop()
    this.events?.close()
    await this.debug?.stop()
    await this.libp2p.stop()
    this.state = 'stopped'
    await this.tracing?.flush().catch((err) => { this.log.warn({ error: (err as Error).message }, 'traces could not be flushed') })
    this.log.info('node stopped')
    this.log.flush()
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.stop() }

  /** Addresses others can dial this node on, each ending in /p2p/<peer id>. */
  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  /** Dial a peer by multiaddr (bootstrap and mDNS do this on their own). */
  async dial (address: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    try {
      const conn = await this.libp2p.dial(multiaddr(address), options)
      return conn.remotePeer.toString()
    } catch (err) {
      throw new ConnectionError(`cannot dial ${address}: ${(err as Error).message}`, { cause: err })
    }
  }

  // --- publish-subscribe ---------------------------------------------------------------------

  /** Broadcast an event to the topic's subscribers in the mesh (and on this node). */
  async publish<S extends z.ZodType> (topic: Topic<S> | string, payload: z.input<S>, options?: PublishOptions): Promise<Envelope> {
    this.assertStarted('publish')
    reserved(topic)
    return await this.pubsub.publish(topic, payload, options)
  }

  /** Wait until everything published so far has left this node. */
  async flush (): Promise<void> { await this.pubsub.flush() }

  /** Messages of one topic, as an async iterable; `unsubscribe()` (or `break`) ends it. */
  subscribe<S extends z.ZodType> (topic: Topic<S> | string): Subscription<z.output<S>> {
    this.assertStarted('subscribe')
    reserved(topic)
    return this.pubsub.subscribe(topic)
  }

  /** Peers known to subscribe to a topic, and this node's gossip mesh peers for it. */
  topicPeers (topic: string): { subscribers: string[], mesh: string[] } {
    return { subscribers: this.pubsub.subscribers(topic), mesh: this.pubsub.meshPeers(topic) }
  }

  /** A peer's gossipsub score as this node sees it; negative once it sent invalid messages. */
  gossipScore (peerId: string): number {
    return this.pubsub.peerScore(peerIdFromString(peerId))
  }

  // --- request-response and commands ------------------------------------------------------

  /** Answer a command; returns a function that removes the handler. */
  handle<Req extends z.ZodType, Res extends z.ZodType> (command: Command<Req, Res> | string, handler: Handler<Req, Res>): () => void {
    const name = typeof command === 'string' ? command : command.name
    if (name.startsWith('$')) throw new TypeError(`command names starting with "$" are agentmesh's own: "${name}"`)
    return this.rpc.handle(command, handler)
  }

  /** Ask one peer; resolves with its typed answer or rejects with a typed error. */
  async request<Req extends z.ZodType, Res extends z.ZodType> (peer: string, command: Command<Req, Res> | string, payload: z.input<Req>, options?: RequestOptions): Promise<z.output<Res>> {
    this.assertStarted('request')
    return await this.rpc.request(peer, command, payload, options)
  }

  /** Direct command to one peer or several; each result says whether that peer acknowledged. */
  async send<Req extends z.ZodType, Res extends z.ZodType> (peers: string | readonly string[], command: Command<Req, Res> | string, payload: z.input<Req>, options?: RequestOptions): Promise<SendResult[]> {
    this.assertStarted('send')
    return await this.rpc.send(peers, command, payload, options)
  }

  // --- membership ----------------------------------------------------------------------------

  /** A peer another agent told of: addresses that do not parse are skipped, not fatal. */
  private dialHint (peerId: string, addresses: string[]): void {
    const multiaddrs = addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
    if (multiaddrs.length > 0) this.discovery.consider({ id: peerIdFromString(peerId), multiaddrs })
  }

  /** Agents this node is connected to, with what their cards say. */
  peers (): PeerInfo[] { return this.membership.peers() }

  /**
   * Resolves once this node sees at least `min` agents (or the one agent `peer`): `start()`
   * returns as soon as the node listens, before bootstrap and discovery have found anyone.
   */
  async joined (options: { min?: number, peer?: string, signal?: AbortSignal } = {}): Promise<void> {
    const min = options.min ?? 1
    const done = (): boolean => options.peer !== undefined ? this.membership.get(options.peer) !== undefined : this.peers().length >= min
    if (done()) return
    await new Promise<void>((resolve, reject) => {
      const onJoin = (): void => { if (done()) { cleanup(); resolve() } }
      const onAbort = (): void => { cleanup(); reject(abortReason(options.signal as AbortSignal)) }
      const cleanup = (): void => {
        this.removeEventListener('peer:join', onJoin)
        options.signal?.removeEventListener('abort', onAbort)
      }
      this.addEventListener('peer:join', onJoin)
      options.signal?.addEventListener('abort', onAbort, { once: true })
      if (options.signal?.aborted === true) onAbort()
    })
  }

  /** Every agent this node has heard of, with its failure-detection state (alive, suspect, offline, left). */
  members (): Member[] { return this.memberView.members() }

  private liveMembers (): Member[] { return this.members().filter(m => m.state === 'alive' || m.state === 'suspect') }

  /** Who coordinates: term, leader, voters, quorum, and this node's part in it. */
  coordinator (): CoordinationStatus & { leaderName?: string } {
    const s = this.coordination.status()
    const leaderName = s.leader === this.peerId ? this.name : s.leader !== undefined ? this.memberView.member(s.leader)?.name : undefined
    return { ...s, ...(leaderName !== undefined ? { leaderName } : {}) }
  }

  /**
   * Run tasks of one type on this agent. The handler gets the task, its dependencies' results,
   * the checkpoint to resume from, progress reporting, and a signal that fires on pause, cancel
   * or a missed deadline; what it returns is the task's result, what it throws fails the task.
   */
  onTask (type: string, handler: (ctx: TaskContext) => unknown): () => void { return this.tasks.onTask(type, handler as TaskHandler) }

  /**
   * Submit a task to the mesh's coordinator; resolves once a majority of the voters hold it.
   * Retried to whichever coordinator is in office (idempotent by task_id, generated if absent).
   */
  async submitTask (spec: TaskSpecInput, options?: { signal?: AbortSignal }): Promise<TaskHandle> { return await this.tasks.submit(spec, options) }

  /** Submit several tasks at once: a pipeline whose dependencies refer to each other. */
  async submitTasks (specs: TaskSpecInput[], options?: { signal?: AbortSignal }): Promise<TaskHandle[]> { return await this.tasks.submitAll(specs, options) }

  /**
   * `resource.allocate`: ask the resource manager (the coordinator in office) for units on one
   * agent (`agent`) or on any that has them free. Resolves with `resource.allocated` (the
   * resource ids) or `resource.denied` (the reason, code CRD003); the units are held until
   * `releaseResources` or until this agent leaves the mesh.
   */
  async allocateResources (request: AllocateRequest, options?: { signal?: AbortSignal }): Promise<AllocateAnswer> {
    this.assertStarted('allocate resources')
    return await this.resources.allocate(request, options)
  }

  /** `resource.release`: some of a task's units, or all of them; resolves with the ids released. */
  async releaseResources (taskId: string, resourceIds?: string[], options?: { signal?: AbortSignal }): Promise<string[]> {
    this.assertStarted('release resources')
    return await this.resources.release(taskId, resourceIds, options)
  }

  /** Carry out directives of one action when the coordinator sends them (see CoordinationService). */
  onDirective (action: DirectiveAction, handler: DirectiveHandler | DirectiveRun): () => void { return this.coordination.onDirective(action, handler) }

  /**
   * Resolves once a coordinator is in office as this node sees it (this node, or one it
   * follows), with its peer id and term.
   */
  async coordinatorElected (options: { signal?: AbortSignal } = {}): Promise<{ leader: string, term: number }> {
    const now = (): { leader: string, term: number } | undefined => {
      const s = this.coordination.status()
      return s.leader !== undefined && (s.inOffice || s.leader !== this.peerId) ? { leader: s.leader, term: s.term } : undefined
    }
    for (;;) {
      const got = now()
      if (got !== undefined) return got
      if (options.signal?.aborted === true) throw abortReason(options.signal)
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 50)
        const signal = options.signal
        function done (): void { clearTimeout(t); signal?.removeEventListener('abort', done); resolve() }
        signal?.addEventListener('abort', done, { once: true })
      })
    }
  }

  /** Agents with a capability, a role or a name, from the membership view. */
  findAgents (query: AgentQuery): PeerInfo[] { return this.membership.find(query) }

  card (): AgentCard {
    return {
      peerId: this.peerId,
      name: this.name,
      mesh: this.config.mesh,
      roles: this.config.roles,
      capabilities: this.config.capabilities,
      version: AGENTMESH_VERSION,
      protocols: [RPC_PROTOCOL, NEGOTIATE_PROTOCOL, LEARNING_PROTOCOL],
      addresses: this.addresses().slice(0, 32),
      startedAt: this.startedAt,
      resources: { cpu_cores: this.config.resources.cpuCores, memory_gb: this.config.resources.memoryGb, storage_gb: this.config.resources.storageGb, gpu_units: this.config.resources.gpuUnits }
    }
  }

  /** This node's part of the mesh map: its neighbours and message rates, told every interval. */
  private announcement (): MeshAnnouncement {
    return { peerId: this.peerId, name: this.name, roles: this.config.roles, peers: this.peers().map(p => p.peerId), rates: this.lastRates, at: Date.now() }
  }

  private startAnnouncing (): void {
    const every = this.config.meshAnnounceIntervalMs
    if (every <= 0) return
    const announce = (): void => {
      this.announceTimer = undefined
      if (this.state !== 'started' && this.state !== 'starting') return
      const seconds = Math.max(0.001, (Date.now() - this.lastAnnounce) / 1000)
      this.lastAnnounce = Date.now()
      this.lastRates = Object.fromEntries([...this.stats.messages.takeCounts()].map(([p, n]) => [p, Math.round(n / seconds * 10) / 10]))
      this.pubsub.publish(MESH_TOPIC, this.announcement()).catch(() => { /* stopping */ })
      this.announceTimer = setTimeout(announce, every)
      this.announceTimer.unref?.()
    }
    // Soon after start and after each join or leave (debounced), so the map follows quickly.
    const soon = (): void => {
      if (this.announceTimer !== undefined) clearTimeout(this.announceTimer)
      this.announceTimer = setTimeout(announce, 300 + Math.floor(Math.random() * 200))
      this.announceTimer.unref?.()
    }
    this.addEventListener('peer:join', soon)
    this.addEventListener('peer:leave', soon)
    this.stopFeeds.push(() => { this.removeEventListener('peer:join', soon); this.removeEventListener('peer:leave', soon) })
    soon()
  }

  /** Every agent's latest metric report, kept as heard: the coordinator's performance report uses them. */
  private listenForMetrics (): void {
    const sub = this.pubsub.subscribe(METRICS_TOPIC)
    void (async () => {
      for await (const m of sub) {
        const r = MetricReport.safeParse(m.payload)
        if (r.success && r.data.agent === m.from) this.monitoring.record(r.data)
      }
    })()
    this.stopFeeds.push(() => { sub.unsubscribe() })
  }

  private listeningForModels = false

  /**
   * Whether anyone listens on a topic (a peer announced the subscription, or this node has
   * one). Per-task and per-resource status topics are published only then: a topic per task
   * that nobody reads would cost gossip state and heartbeat work for every task ever run.
   */
  private listened (topic: string): boolean {
    return this.pubsub.subscribers(topic).length > 0 || this.pubsub.subscriptions().includes(topic)
  }

  /** Model updates and the agents' answers to them (R-LEARN); from the first applier or publish on. */
  private listenForModels (): void {
    if (this.listeningForModels || this.state !== 'started') return
    this.listeningForModels = true
    const updates = this.pubsub.subscribe(MODEL_UPDATE_TOPIC)
    void (async () => {
      for await (const m of updates) {
        const u = ModelUpdate.safeParse(m.payload)
        if (u.success) this.learning.announced(u.data, m.from)
        else this.stats.inc('model_updates_total', { outcome: 'invalid' })
      }
    })()
    const answers = this.pubsub.subscribe(LEARNING_METRICS_TOPIC)
    void (async () => {
      for await (const m of answers) {
        const a = LearningMetrics.safeParse(m.payload)
        if (a.success) this.learning.heard(a.data, m.from)
      }
    })()
    this.stopFeeds.push(() => { updates.unsubscribe(); answers.unsubscribe() })
  }

  /** Nodes with a debug endpoint assemble the map from everyone's announcements. */
  private watchMesh (): void {
    const map = new MeshMap(() => this.announcement(), Math.max(1_000, this.config.meshAnnounceIntervalMs))
    this.meshMap = map
    const sub = this.pubsub.subscribe(MESH_TOPIC)
    void (async () => { for await (const m of sub) if (m.from === m.payload.peerId) map.record(m.payload) })()
    const onLeave = (e: AgentNodeEvents['peer:leave']): void => { map.forget(e.detail.peerId) }
    this.addEventListener('peer:leave', onLeave)
    this.stopFeeds.push(() => { sub.unsubscribe(); this.removeEventListener('peer:leave', onLeave) })
  }

  /** What /events streams: joins and leaves, subscription changes, and sampled messages. */
  private openEventFeed (): void {
    const events = new EventStream({ onDrop: () => { this.stats.inc('streams_aborted_total', { protocol: 'debug-events', reason: 'slow_client' }) } })
    this.events = events
    const on = <K extends keyof AgentNodeEvents>(type: K, fn: (e: AgentNodeEvents[K]) => void): void => {
      this.addEventListener(type, fn as any)
      this.stopFeeds.push(() => { this.removeEventListener(type, fn as any) })
    }
    on('peer:join', (e) => { events.send('peer:join', { peerId: e.detail.peerId, name: e.detail.name, roles: e.detail.roles, capabilities: e.detail.capabilities }) })
    on('peer:leave', (e) => { events.send('peer:leave', e.detail) })
    on('coordinator:change', (e) => { events.send('coordinator', e.detail) })
    on('member:change', (e) => { events.send('member', e.detail) })
    const gossip = this.libp2p.services.pubsub
    const onSubs = (e: CustomEvent<{ peerId: { toString: () => string }, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
      events.send('topic', { peerId: e.detail.peerId.toString(), changes: e.detail.subscriptions.map(s => ({ topic: s.topic, subscribe: s.subscribe })) })
    }
    gossip.addEventListener('subscription-change', onSubs as any)
    this.stopFeeds.push(() => { gossip.removeEventListener('subscription-change', onSubs as any) })
    this.stopFeeds.push(this.stats.messages.listen((r) => { events.send('message', r) }))
  }

  /** /peers: each agent with its card and, per connection, direction, round-trip time and open streams. */
  private async peerDetails (): Promise<unknown[]> {
    return await Promise.all(this.peers().map(async ({ card: _card, connections: _c, ...p }) => {
      const conns = this.libp2p.getConnections(peerIdFromString(p.peerId))
      return {
        ...p,
        connections: await Promise.all(conns.map(async c => ({
          address: c.remoteAddr.toString(),
          direction: c.direction,
          // libp2p's connection monitor measures rtt every few seconds; ask once if it has not yet.
          rttMs: c.rtt ?? await this.libp2p.services.ping.ping(c.remotePeer, { signal: AbortSignal.timeout(1_000) }).catch(() => null),
          streams: c.streams.map(s => ({ protocol: s.protocol, direction: s.direction }))
        })))
      }
    }))
  }

  /** /topics: local subscriptions, the peers known to subscribe, gossip mesh peers and their scores. */
  private topicDetails (): unknown[] {
    return this.pubsub.subscriptions().filter(t => !t.startsWith('$')).map(topic => {
      const { subscribers, mesh } = this.topicPeers(topic)
      return { topic, subscribers, mesh, scores: Object.fromEntries(subscribers.map(p => [p, Math.round(this.gossipScore(p) * 100) / 100])) }
    })
  }

  health (): Health {
    const peers = this.peers()
    const status = this.state === 'started' ? (peers.length > 0 ? 'ok' : 'alone') : this.state === 'stopped' ? 'stopped' : 'starting'
    const subscriptions = this.pubsub.subscriptions().filter(t => !t.startsWith('$'))
    // A topic that other agents subscribe to but no gossip mesh peer is grafted for yet cannot
    // deliver to this node: gossip mesh formation is the readiness that counts for pub-sub.
    const topicsWithoutMesh = subscriptions.filter(t => this.pubsub.subscribers(t).length > 0 && this.pubsub.meshPeers(t).length === 0)
    return {
      status,
      ready: { started: this.state === 'started', hasPeers: peers.length > 0, gossipMeshFormed: topicsWithoutMesh.length === 0, topicsWithoutMesh },
      peerId: this.peerId,
      name: this.name,
      mesh: this.config.mesh,
      version: AGENTMESH_VERSION,
      addresses: this.addresses(),
      uptimeMs: this.startedAt > 0 ? Date.now() - this.startedAt : 0,
      peers: peers.map(p => ({ peerId: p.peerId, name: p.name, roles: p.roles })),
      subscriptions,
      commands: this.rpc.commands().filter(c => !c.startsWith('$')),
      coordination: (({ situation, term, leader, inOffice, quorum }) => ({ situation, term, ...(leader !== undefined ? { leader } : {}), inOffice, quorum }))(this.coordination.status())
    }
  }
}

/** Names starting with "$" are agentmesh's own (the mesh map, the card exchange). */
function reserved (topic: Topic | string): void {
  const name = typeof topic === 'string' ? topic : topic.name
  if (name.startsWith('$')) throw new TypeError(`topic names starting with "$" are agentmesh's own: "${name}"`)
}
