/**
 * An agent's node in the mesh: libp2p underneath, and on top the envelope, pub-sub with
 * batching, request-response over one stream per peer, and the membership view built from
 * agent cards. This class holds the lifecycle and the public API: the services are built in
 * node/services.ts and kept in one ordered list, started in order and stopped in reverse;
 * node/observe.ts turns their events into metrics and log lines. What serves a node (the debug
 * endpoint, the gateway: surfaces/) is built outside it and attached (`attach`).
 */
import './polyfills.js'
import { peerIdOf } from '../protocols/core/peer-keys.js'
import { TypedEventEmitter } from 'main-event'
import type { z } from 'zod'
import type { AgentConfig } from './config.js'
import { listenError, type AgentLibp2p } from './libp2p.js'
import { nodeHealth, type NodeHealth } from './health.js'
import { MemoryStore, type Store } from '../protocols/core/store.js'
import { Stats } from './stats.js'
import { closeLogger, createLogger, type Logger } from './log.js'
import type { AgentNodeEvents, HandleOptions } from './types.js'
import { buildServices, offeredResources, type NodeServices } from './services.js'
import { createObserver, observe } from './observe.js'
import { ConnectionError } from '../protocols/core/errors.js'
import { dialPeer } from './admitted-dial.js'
import type { Startable } from '../protocols/core/service.js'
import { AGENTMESH_VERSION } from '../protocols/core/version.js'
import type { PublishOptions, Subscription, Topic } from '../protocols/pubsub/index.js'
import { until } from './until.js'
import { deadline } from '../protocols/core/deadline.js'
import type { Security } from './security-load.js'
import type { Keyring } from './keyring.js'
import { RPC_PROTOCOL, type Command, type Handler, type RequestOptions, type SendResult } from '../protocols/rpc/index.js'
import type { Envelope } from '../protocols/envelope/index.js'
import type { DeliveryService } from '../protocols/delivery/index.js'
import { checkPublishOptions, type TopicDelivery } from '../protocols/delivery/topic-delivery.js'
import { matches, type AgentQuery, type PeerInfo } from '../protocols/discovery/membership.js'
import type { AgentCard } from '../protocols/discovery/card.js'
import type { Member } from '../protocols/discovery/members.js'
import { NEGOTIATE_PROTOCOL, type NegotiationService } from '../protocols/negotiation/index.js'
import type { MonitoringService } from '../protocols/monitoring/index.js'
import { LEARNING_PROTOCOL, type LearningService } from '../protocols/learning/index.js'
import type { AllocateAnswer, AllocateRequest, ResourceService } from '../protocols/resource/index.js'
import type { TaskContext, TaskHandle, TaskHandler, TaskService, TaskSpecInput } from '../protocols/task/index.js'
import type { CoordinationService, CoordinationStatus, DirectiveAction, DirectiveHandler, DirectiveRun } from '../protocols/coordination/index.js'
import type { DeadLetters } from '../protocols/delivery/dead-letters.js'

export type { AgentNodeEvents, CreateAgentNodeOptions, HandleOptions, Health } from './types.js'

/** What createAgentNode hands the node besides its config and libp2p. */
export interface NodeParts {
  stats?: Stats
  log?: Logger
  security?: Security
  /** Closed by the node's stop(). */
  store?: Store
  /** The mesh keys its connections are protected with (node/keyring.ts), when it has any. */
  keyring?: Keyring
}

export class AgentNode extends TypedEventEmitter<AgentNodeEvents> {
  readonly config: AgentConfig
  readonly libp2p: AgentLibp2p
  readonly stats: Stats
  readonly log: Logger
  readonly name: string
  /** Elections, directives and coordination rounds: `node.coordination.coordinate(...)` on the coordinator. */
  readonly coordination: CoordinationService
  /** Reliable delivery: `delivery.breakers()` (circuit breakers per destination), `delivery.resend(envelope, peer)` (replay). */
  readonly delivery: DeliveryService
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
  /** What reliable delivery gave up on: list, get, replay, purge (docs/dead-letters.md). */
  readonly deadLetters: DeadLetters
  /** Set by the application that installed a tracing SDK for this node (the CLI: surfaces/cli/otlp.ts); stop() flushes it. */
  tracing?: { flush: () => Promise<void> }
  /** The debug endpoint's and the gateway's URLs (http://host:port) once started, set by them when configured (surfaces/). */
  debugUrl?: string
  gatewayUrl?: string
  private readonly s: NodeServices
  /** Every service in start order, then what was attached (`attach`); stopped in reverse. */
  private readonly ordered: Startable[]
  private state: 'new' | 'starting' | 'started' | 'stopping' | 'stopped' = 'new'
  private startedAt = 0
  /** The start in progress, for a stop() that comes meanwhile to wait for (it would otherwise stop services still starting). */
  private starting?: Promise<void>
  /**
   * Aborted as stop() begins: the waits on the mesh (joined, waitForAgent, waitForSubscribers,
   * coordinatorElected) end then with COM002 rather than pending for good (a program awaiting
   * one at its top level exited with code 13 on Ctrl-C, and a pending coordinatorElected kept a
   * timer of the stopped node's running).
   */
  private readonly lifetime = new AbortController()
  /** Whether this node made its logger (no `log` part given): then stop() closes it, and the host's logger is the host's. */
  private readonly ownsLog: boolean
  readonly security: Security
  /** What this node keeps across restarts: the data directory's store, or memory without one (node/store.ts). */
  readonly store: Store
  /** The mesh keys (`agentmesh keyring`, node/keyring.ts); undefined on a node with no mesh key. */
  readonly keyring?: Keyring

  constructor (config: AgentConfig, libp2p: AgentLibp2p, parts: NodeParts = {}) {
    super()
    const { stats = new Stats(), log, security = {}, store = new MemoryStore() } = parts
    this.config = config
    this.security = security
    this.store = store
    if (parts.keyring !== undefined) this.keyring = parts.keyring
    this.libp2p = libp2p
    this.stats = stats
    this.name = config.name ?? `agent-${this.peerId.slice(-6)}`
    this.log = log ?? createLogger(config.logLevel, { peer_id: this.peerId, agent: this.name }, config.logFormat)
    this.ownsLog = log === undefined
    stats.messages.keepRecords = config.debug !== undefined
    const observer = createObserver(stats, this.log)
    const s = buildServices(this, observer)
    this.s = s
    ;({ coordination: this.coordination, tasks: this.tasks, resources: this.resources, delivery: this.delivery } = s)
    ;({ negotiation: this.negotiation, monitoring: this.monitoring, learning: this.learning } = s)
    this.deadLetters = s.deadLetters
    const shown = { meshKey: this.keyring !== undefined, client: config.client, bootstrap: config.bootstrap, credential: security.credential !== undefined }
    observe(s, stats, this.log, this, observer, shown)
    this.ordered = [...s.ordered]
  }

  /**
   * Run `parts` with this node, before start(): started after every service (they may call any), stopped before them.
   * What serves the node from outside (surfaces/: the debug endpoint, the gateway) is attached so; the node knows no more of it.
   */
  attach (...parts: Startable[]): void {
    if (this.state !== 'new') throw new ConnectionError(`cannot attach to a node that is ${this.state}`)
    this.ordered.push(...parts)
  }

  /** The services the node is built of, for what serves it (surfaces/); not a stable API. */
  get internals (): NodeServices { return this.s }

  /** The services in start order, for tests that walk them (not a public API). */
  get services (): readonly Startable[] { return this.ordered }

  get peerId (): string { return this.libp2p.peerId.toString() }

  /** Handlers may be registered before start(); everything that talks to the mesh may not. */
  private assertStarted (what: string): void {
    if (this.state !== 'started') throw new ConnectionError(`cannot ${what}: the node is ${this.state === 'new' ? 'not started' : this.state}`)
  }

  get started (): boolean { return this.state === 'started' }

  /** `wait` given a signal that fires with the caller's or when this node stops (its `clear` run after). */
  private async untilStopped<T> (signal: AbortSignal | undefined, wait: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const both = deadline(Infinity, signal, this.lifetime.signal)
    try {
      return await wait(both.signal)
    } finally {
      both.clear()
    }
  }

  /**
   * Start listening, join the mesh, and start what was attached (the debug endpoint, the gateway).
   * `signal` (a process asked to stop while it starts: SIGTERM before the node is up) gives the
   * start up between two services: what started is stopped, and it rejects with the signal's
   * reason. A stop() meanwhile does the same, and returns once the node is stopped. A second
   * start() while one is under way settles with that one (its own `signal` is not looked at).
   */
  async start (options: { signal?: AbortSignal } = {}): Promise<void> {
    if (this.state === 'started') return
    // A second start() while one is under way waits for it, and fails as it does: returning at
    // once let a host use a node that was not listening yet (or never would be).
    if (this.state === 'starting') { await this.starting; return }
    if (this.state === 'stopped' || this.state === 'stopping') throw new ConnectionError('a stopped node cannot be started again; create a new one')
    this.state = 'starting'
    this.starting = this.startServices(options.signal)
    try {
      await this.starting
    } finally {
      this.starting = undefined
    }
  }

  private async startServices (signal: AbortSignal | undefined): Promise<void> {
    try {
      for (const service of this.ordered) {
        signal?.throwIfAborted()
        this.lifetime.signal.throwIfAborted()
        await service.start()
      }
      signal?.throwIfAborted()
      this.startedAt = Date.now()
      this.state = 'started'
      this.log.info({ addresses: this.addresses(), debug: this.debugUrl, mesh: this.config.mesh }, 'node started')
    } catch (err) {
      // Every stop() is safe before its start(): stopping them all stops what started.
      this.lifetime.abort(new ConnectionError('the node stopped'))
      this.state = 'started'
      await this.stopServices()
      throw listenError(err) ?? err
    }
  }

  /** Leave the mesh: stops what was attached and closes every stream, timer and socket. Idempotent. */
  async stop (): Promise<void> {
    // First: the waits on the mesh end at once, whatever state the node is in (again, a no-op);
    // a start in progress gives up at its next service, and is waited for.
    this.lifetime.abort(new ConnectionError('the node stopped'))
    if (this.state === 'starting') await this.starting?.catch(() => {})
    await this.stopServices()
  }

  private async stopServices (): Promise<void> {
    if (this.state === 'stopped' || this.state === 'stopping' || this.state === 'new') {
      const never = this.state === 'new'
      this.state = 'stopped'
      // A node never started made its logger and opened its store all the same (the data directory's LOCK).
      if (never) {
        await this.store.close()
        await this.releaseLog()
      }
      return
    }
    this.state = 'stopping'
    this.s.rpc.draining()
    for (const service of [...this.ordered].reverse()) await service.stop()
    await this.store.close()
    this.state = 'stopped'
    await this.tracing?.flush().catch((err) => { this.log.warn({ error: (err as Error).message }, 'traces could not be flushed') })
    // Only a node that started says it stopped: a failed start reports its error and nothing else.
    if (this.startedAt > 0) this.log.info('node stopped')
    await this.releaseLog()
  }

  /**
   * The logger last: one this node made is closed: what it queued is written (2 s at most), and
   * with it goes the process 'exit' listener its stderr writer holds while lines are queued
   * (node/log-destination.ts), so an embedding process is left as it was; a line logged after is
   * still written. A logger the host gave is flushed and left to the host.
   */
  private async releaseLog (): Promise<void> {
    if (this.ownsLog) await closeLogger(this.log)
    else this.log.flush()
  }

  async [Symbol.asyncDispose] (): Promise<void> { await this.stop() }

  /** Addresses others can dial this node on, each ending in /p2p/<peer id>. */
  addresses (): string[] {
    return this.libp2p.getMultiaddrs().map(a => a.toString())
  }

  /**
   * Dial a peer by multiaddr (bootstrap and mDNS do this on their own). In a closed mesh it
   * resolves once the peer admitted this node, and rejects with SEC001 when it did not.
   */
  async dial (address: string, options: { signal?: AbortSignal } = {}): Promise<string> {
    const admission = this.s.admission.closed ? { membership: this.s.membership, timeoutMs: this.config.security.admissionTimeoutMs + 2_000 } : undefined
    return await dialPeer(this.libp2p, address, admission, options.signal, this.config.connections.dialTimeoutMs)
  }

  // --- publish-subscribe ---------------------------------------------------------------------

  /**
   * Broadcast an event to the topic's subscribers in the mesh (and on this node); with
   * `encryptFor` (peer ids or `{ role }`), sealed so that only those recipients can read it.
   * With `delivery` at-least-once or exactly-once and `recipients`, resolves once each recipient
   * acknowledged it, or rejects with TopicDeliveryError naming those that did not (docs/delivery.md).
   */
  async publish<S extends z.ZodType> (topic: Topic<S> | string, payload: z.input<S>, options?: PublishOptions): Promise<Envelope> {
    this.assertStarted('publish')
    reserved(topic)
    checkPublishOptions(options)
    // The config's delivery.guarantee is not applied here: a reliable publish needs recipients.
    if (options?.delivery !== undefined && options.delivery !== 'at-most-once') return await (this.s.delivery.topics as TopicDelivery).publish(topic, payload, options)
    return await this.s.pubsub.publish(topic, payload, options)
  }

  /** Wait until everything published so far has left this node. */
  async flush (): Promise<void> { await this.s.pubsub.flush() }

  /** Messages of one topic, as an async iterable; `unsubscribe()` (or `break`) ends it. */
  subscribe<S extends z.ZodType> (topic: Topic<S> | string): Subscription<z.output<S>> {
    this.assertStarted('subscribe')
    reserved(topic)
    return this.s.pubsub.subscribe(topic)
  }

  /**
   * Subscribers of a topic connected here, gossip mesh peers, `relayed`: subscribers beyond this node's peers that those
   * told of (docs/benchmarks.md), and `stated`: every agent whose member statement says it subscribes (docs/pubsub.md).
   */
  topicPeers (topic: string): { subscribers: string[], mesh: string[], relayed: string[], stated: string[] } {
    const { pubsub: p, topicLinks } = this.s
    return { subscribers: p.subscribers(topic), mesh: p.meshPeers(topic), relayed: p.relayedSubscribers(topic), stated: topicLinks.stating(topic) }
  }

  /**
   * Resolves with the peers known to subscribe to a topic once there are at least `min` (1).
   * Subscriptions spread by gossip a moment after peers connect: an event published before any
   * subscriber is known reaches only this node's own subscribers. Rejects with the signal's
   * reason, or COM002 once the node stops.
   */
  async waitForSubscribers (topic: Topic | string, options: { min?: number, signal?: AbortSignal } = {}): Promise<string[]> {
    this.assertStarted('wait for subscribers')
    const name = typeof topic === 'string' ? topic : topic.name
    const min = options.min ?? 1
    return await this.untilStopped(options.signal, async signal => await until(this.libp2p.services.pubsub, 'subscription-change', () => {
      const subs = this.s.pubsub.subscribers(name)
      return subs.length >= min ? subs : undefined
    }, signal))
  }

  /** A peer's gossipsub score as this node sees it; negative once it sent invalid messages. */
  gossipScore (peerId: string): number {
    return this.s.pubsub.peerScore(peerIdOf(peerId))
  }

  // --- request-response and commands ------------------------------------------------------

  /**
   * Answer a command; returns a function that removes the handler. With `allow`, only callers
   * holding one of its roles (and one of its capabilities, if listed) reach the handler; others
   * get SEC002 (ForbiddenError). Closed mesh: the credential's; open mesh: the card's claims.
   */
  handle<Req extends z.ZodType, Res extends z.ZodType> (command: Command<Req, Res> | string, handler: Handler<Req, Res>, options?: HandleOptions): () => void {
    const name = typeof command === 'string' ? command : command.name
    if (name.startsWith('$')) throw new TypeError(`command names starting with "$" are agentmesh's own: "${name}"`)
    return this.s.rpc.handle(command, handler, options)
  }

  /**
   * Ask one peer; resolves with its typed answer or rejects with a typed error. With `delivery`
   * at-least-once or exactly-once (default: the config's), retried until answered, then rejected
   * with DeliveryFailedError naming its dead letter (docs/delivery.md).
   */
  async request<Req extends z.ZodType, Res extends z.ZodType> (
    peer: string, command: Command<Req, Res> | string, payload: z.input<Req>, options?: RequestOptions
  ): Promise<z.output<Res>> {
    this.assertStarted('request')
    return await this.s.delivery.request(peer, command, payload, options)
  }

  /** Direct command to one peer or several; each result says whether that peer acknowledged. */
  async send<Req extends z.ZodType, Res extends z.ZodType> (
    peers: string | readonly string[], command: Command<Req, Res> | string, payload: z.input<Req>, options?: RequestOptions
  ): Promise<SendResult[]> {
    this.assertStarted('send')
    return await this.s.delivery.send(peers, command, payload, options)
  }

  // --- membership ----------------------------------------------------------------------------

  /** Agents this node is connected to, with what their cards say. */
  peers (): PeerInfo[] { return this.s.membership.peers() }

  /**
   * Peers this node met that are of another mesh name, ignored (a node started without the
   * `mesh` of the others is the likeliest mistake, and is otherwise silent): each is logged once.
   */
  foreignPeers (): Array<{ peer: string, mesh: string }> { return this.s.membership.foreignPeers() }

  /**
   * Resolves once this node sees at least `min` agents (or the one agent `peer`): `start()`
   * returns as soon as the node listens, before bootstrap and discovery have found anyone.
   * Rejects with the signal's reason, or COM002 once the node stops.
   */
  async joined (options: { min?: number, peer?: string, signal?: AbortSignal } = {}): Promise<void> {
    const done = (): boolean => options.peer !== undefined ? this.s.membership.get(options.peer) !== undefined : this.peers().length >= (options.min ?? 1)
    await this.untilStopped(options.signal, async signal => await until(this, 'peer:join', () => done() ? true : undefined, signal))
  }

  /** Every agent this node has heard of, with its state (alive, suspect, offline, left); `member`: one by peer id, the others' entries not built. */
  members (): Member[] { return this.s.memberView.members() }
  member (peerId: string): Member | undefined { return this.s.memberView.member(peerId) }
  /**
   * Whether this node's member view has been matched with another agent's in a full exchange:
   * until then `members()` may list only the agents it met (a client just joined, its seed).
   */
  membersSynced (): boolean { return this.s.memberView.synced() }

  /** Who coordinates: term, leader, voters, quorum, and this node's part in it. */
  coordinator (): CoordinationStatus & { leaderName?: string } {
    const s = this.coordination.status()
    const leaderName = s.leader === this.peerId ? this.name : s.leader !== undefined ? this.member(s.leader)?.name : undefined
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
   * follows), with its peer id and term. This node's own win counts once a majority answered
   * its first heartbeat, and again after a lapse of its lease once acks renew it
   * (CoordinationService.coordinator says how it waits for both). Rejects with the signal's
   * reason, or COM002 once the node stops.
   */
  async coordinatorElected (options: { signal?: AbortSignal } = {}): Promise<{ leader: string, term: number }> {
    const leader = await this.untilStopped(options.signal, async signal => await this.coordination.coordinator({ signal }))
    return { leader, term: this.coordination.term }
  }

  /** Agents with a capability, a role or a name, from the membership view. */
  findAgents (query: AgentQuery): PeerInfo[] { return this.s.membership.find(query) }

  /**
   * Resolves with the first agent that has the capability, the role and the name the query asks
   * for (each if given): at once if one is known, else when one joins. Rejects with the
   * signal's reason when it fires, and with COM002 (`ConnectionError`) when the node stops.
   */
  async waitForAgent (query: AgentQuery, options: { signal?: AbortSignal } = {}): Promise<PeerInfo> {
    return await this.untilStopped(options.signal, async signal => await until(this, 'peer:join', (e?: Event) => {
      const joined = (e as AgentNodeEvents['peer:join'] | undefined)?.detail
      return joined !== undefined ? (matches(joined, query) ? joined : undefined) : this.findAgents(query)[0]
    }, signal))
  }

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
      // A client offers nothing to run tasks with, and says it is a client.
      ...(this.config.client ? { client: true as const } : { resources: offeredResources(this.config.resources) })
    }
  }

  /**
   * `warnings`: what an operator should know is unsafe or unusual about this node, one sentence
   * each (today: open mode); empty when there is nothing to say, so a program can test its length.
   */
  health (): NodeHealth { return nodeHealth(this, this.s, this.state, this.startedAt) }
}

/** Names starting with "$" are agentmesh's own (the mesh map, the card exchange). */
function reserved (topic: Topic | string): void {
  const name = typeof topic === 'string' ? topic : topic.name
  if (name.startsWith('$')) throw new TypeError(`topic names starting with "$" are agentmesh's own: "${name}"`)
}
