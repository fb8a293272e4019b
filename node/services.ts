/**
 * Every service of a node, built in one place and kept in one ordered list: the node starts the
 * list in order and stops it in reverse, as libp2p does with its components. Each service gets
 * what it needs to act (rpc, pubsub, the membership); what it reports goes out as typed events
 * that node/observe.ts turns into metrics and log lines.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import type { AgentConfig } from './config.js'
import type { AgentLibp2p } from './libp2p.js'
import type { Stats } from './stats.js'
import type { Logger } from './log.js'
import type { Observer } from './observe.js'
import type { Startable } from '../protocols/core/service.js'
import { PubSubService } from '../protocols/pubsub/index.js'
import { RpcService } from '../protocols/rpc/index.js'
import { Membership } from '../discovery/membership.js'
import { BootstrapDialer } from '../discovery/bootstrap.js'
import { PeerDialer } from '../discovery/dialer.js'
import type { AgentCard } from '../discovery/card.js'
import { MeshAnnouncer } from '../discovery/mesh-announcer.js'
import { MemberView } from '../discovery/members.js'
import { liveMembers } from '../discovery/member-source.js'
import { NegotiationService } from '../protocols/negotiation/index.js'
import { MonitoringService } from '../protocols/monitoring/index.js'
import { LearningService } from '../protocols/learning/index.js'
import { ResourceService } from '../protocols/resource/index.js'
import { TaskService } from '../protocols/task/index.js'
import { CoordinationService } from '../protocols/coordination/index.js'

/** What the services need of the node that holds them. */
export interface NodeHost {
  readonly config: AgentConfig
  readonly libp2p: AgentLibp2p
  readonly stats: Stats
  readonly log: Logger
  readonly name: string
  readonly peerId: string
  /** The node is started (not starting, not stopping). */
  readonly started: boolean
  card: () => AgentCard
  coordinatorElected: (options: { signal?: AbortSignal }) => Promise<{ leader: string, term: number }>
}

export interface NodeServices {
  libp2p: AgentLibp2p
  rpc: RpcService
  pubsub: PubSubService
  membership: Membership
  memberView: MemberView
  coordination: CoordinationService
  resources: ResourceService
  negotiation: NegotiationService
  monitoring: MonitoringService
  learning: LearningService
  tasks: TaskService
  discovery: PeerDialer
  bootstrap: BootstrapDialer
  announcer: MeshAnnouncer
  /** Every service above in start order (the node stops them in reverse), with the pubsub flush. */
  ordered: Startable[]
}

/** What an agent offers to run tasks with, as its card (and the resource manager) spell it. */
export function offeredResources (r: AgentConfig['resources']): NonNullable<AgentCard['resources']> {
  return { cpu_cores: r.cpuCores, memory_gb: r.memoryGb, storage_gb: r.storageGb, gpu_units: r.gpuUnits }
}

export function buildServices (host: NodeHost, observer: Observer): NodeServices {
  const { config, libp2p, stats, log } = host
  const rpc = new RpcService({
    libp2p,
    stats,
    log,
    maxMessageBytes: config.maxMessageBytes,
    window: config.rpc.window,
    timeoutMs: config.rpc.timeoutMs,
    stallTimeoutMs: config.rpc.stallTimeoutMs
  })
  const pubsub = new PubSubService({ libp2p, mesh: config.mesh, stats, log, maxMessageBytes: config.maxMessageBytes, ...config.pubsub })
  const discovery = new PeerDialer(libp2p, () => config.connections.targetPeers)
  const membership = new Membership({
    libp2p,
    rpc,
    mesh: config.mesh,
    card: () => host.card(),
    // A peer another agent told of: addresses that do not parse are skipped, not fatal.
    dial: (peerId, addresses) => {
      const multiaddrs = addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      if (multiaddrs.length > 0) discovery.consider({ id: peerIdFromString(peerId), multiaddrs })
    }
  })
  const bootstrap = new BootstrapDialer({
    libp2p,
    addresses: config.bootstrap,
    initialDelayMs: config.connections.bootstrapInitialDelayMs,
    maxDelayMs: config.connections.bootstrapMaxDelayMs,
    dialTimeoutMs: config.connections.dialTimeoutMs
  })
  const memberView = new MemberView({
    ...config.membership,
    self: { peerId: host.peerId, name: host.name, roles: config.roles, eligible: config.coordination.eligible },
    rpc,
    pubsub,
    onError: (err) => { observer.error('member heartbeat not sent', err, 'debug') }
  })
  membership.addEventListener('peer:join', (e) => { memberView.seen(e.detail.peerId, e.detail.card) })
  const negotiation = new NegotiationService({ libp2p, maxMessageBytes: config.maxMessageBytes })
  // Built with the office below; the figures are read only once the node runs.
  const later: { tasks?: TaskService } = {}
  const monitoring = new MonitoringService({
    self: host.peerId,
    name: host.name,
    rpc,
    pubsub,
    intervalMs: config.monitoring.metricsIntervalMs,
    figures: () => {
      const sum = (direction: string): number =>
        (stats.snapshot().messages_total ?? []).filter(e => e.labels.direction === direction).reduce((a, e) => a + e.value, 0)
      return {
        messages_in: sum('in'),
        messages_out: sum('out'),
        active_connections: libp2p.getConnections().length,
        peers: membership.peers().length,
        tasks_running: later.tasks?.executor.held().filter(t => t.state === 'running').length ?? 0
      }
    }
  })
  const learning = new LearningService({ self: host.peerId, libp2p, pubsub, ...config.learning })
  const office = buildOffice(host, { rpc, pubsub, membership, memberView, negotiation, monitoring }, observer)
  const { coordination, resources, tasks } = office
  later.tasks = tasks
  const announcer = new MeshAnnouncer({
    self: { peerId: host.peerId, name: host.name, roles: config.roles },
    pubsub,
    membership,
    intervalMs: config.meshAnnounceIntervalMs,
    takeCounts: () => stats.messages.takeCounts(),
    watch: config.debug !== undefined
  })
  const ordered: Startable[] = [
    libp2p,
    rpc,
    pubsub,
    // Stopped between the membership and pubsub: the "left" heartbeat goes out before gossip
    // closes, so the others need not time this node out.
    { start: () => {}, stop: async () => { await settleWithin(pubsub.flush(), 500) } },
    membership,
    memberView,
    office.ordered[0],
    office.ordered[1],
    negotiation,
    monitoring,
    learning,
    office.ordered[2],
    discovery,
    bootstrap,
    announcer
  ]
  return {
    libp2p, rpc, pubsub, membership, memberView, coordination, resources, negotiation, monitoring, learning, tasks, discovery, bootstrap, announcer, ordered
  }
}

/** Wait for `p` (its failure ignored), no longer than `ms`. */
async function settleWithin (p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([p.catch(() => {}), new Promise(resolve => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}

/**
 * Whether anyone listens on a topic (a peer announced the subscription, or this node has one).
 * Per-task and per-resource status topics are published only then: a topic per task that nobody
 * reads would cost gossip state and heartbeat work for every task ever run.
 */
function listened (pubsub: PubSubService, topic: string): boolean {
  return pubsub.subscribers(topic).length > 0 || pubsub.subscriptions().includes(topic)
}

const TERMINAL_TASK = new Set(['completed', 'failed', 'cancelled'])

/**
 * Start and stop once whatever the service does on a second call.
 * LEAD'S GLUE: only for coordination, resources and tasks until their rewrite (idempotent
 * start/stop) is merged; then put the services themselves in `ordered`.
 */
function once (service: Startable): Startable {
  let running = false
  return {
    start: async () => { if (!running) { running = true; await service.start() } },
    stop: async () => { if (running) { running = false; await service.stop() } }
  }
}

/*
 * ============================================================================================
 * THE LEAD'S GLUE (issue 12): coordination, resources and tasks with their CURRENT inits, and
 * the member-change glue. After merging the helpers that give them `office: Office` and
 * `members: MemberSource` and events ('rejected', 'error', 'directive', 'report', 'status',
 * 'denied'), this function is the one place to switch:
 *   - resources and tasks take `office: coordination, members: memberView` instead of
 *     inOffice/term/leader/admits/voters/agents/coordinator closures;
 *   - the on* callbacks below become listeners calling the same `observer` functions;
 *   - the member-change listener shrinks to what the services do not do themselves;
 *   - `once(...)` goes (see above).
 * ============================================================================================
 */
export function buildOffice (
  host: NodeHost,
  s: Pick<NodeServices, 'rpc' | 'pubsub' | 'membership' | 'memberView' | 'negotiation' | 'monitoring'>,
  observer: Observer
): { coordination: CoordinationService, resources: ResourceService, tasks: TaskService, ordered: [Startable, Startable, Startable] } {
  const { config } = host
  const { rpc, pubsub, membership, memberView, negotiation, monitoring } = s
  const id = host.peerId
  const c = config.coordination
  const stateFile = c.stateFile ?? (config.identity !== undefined ? `${config.identity}.coordination.json` : undefined)
  const coordinator = async (signal: AbortSignal): Promise<string> => (await host.coordinatorElected({ signal })).leader
  const coordination = new CoordinationService({
    self: { peerId: id, name: host.name, capabilities: config.capabilities },
    eligible: c.eligible,
    rpc,
    heartbeatIntervalMs: c.heartbeatIntervalMs,
    electionTimeoutMinMs: c.electionTimeoutMinMs,
    electionTimeoutMaxMs: c.electionTimeoutMaxMs,
    voterRemoveAfterMs: c.voterRemoveAfterMs,
    bootstrapExpect: c.bootstrapExpect,
    ...(stateFile !== undefined ? { stateFile } : {}),
    requestTimeoutMs: c.requestTimeoutMs,
    agents: () => liveMembers(memberView).map(m => m.peerId),
    onRejected: (from, message, reason) => { observer.rejected('coordination', { from, message, reason }) },
    onDirective: (role, action, outcome, seconds) => {
      observer.directive({ role, action, outcome, ...(seconds !== undefined ? { seconds } : {}) })
    },
    onReport: (report) => {
      observer.report(report)
      // With the latest metric report of each agent of the round (R-MON).
      const agentMetrics = monitoring.reports().filter(m => m.agent !== undefined)
      if (host.started) pubsub.publish('coordination.performance', { ...report, agentMetrics }).catch(() => {})
    },
    onError: (err) => { observer.error('coordination', err) }
  })
  const resources = new ResourceService({
    self: id,
    rpc,
    inOffice: () => coordination.inOffice,
    term: () => coordination.term,
    admits: (term, from) => coordination.election.admits(term, from),
    capacities: () => {
      const caps = new Map([[id, offeredResources(config.resources)]])
      for (const m of liveMembers(memberView)) {
        const card = membership.get(m.peerId)?.card
        if (m.state === 'alive' && card?.resources !== undefined) caps.set(m.peerId, card.resources)
      }
      return caps
    },
    coordinator,
    publish: (topic, status) => { if (host.started && listened(pubsub, topic)) pubsub.publish(topic, status).catch(() => {}) },
    onDenied: (from, reason) => { observer.denied({ from, reason }) },
    onError: (err) => { observer.error('resources', err) },
    requestTimeoutMs: c.requestTimeoutMs
  })
  const tasks = new TaskService({
    self: id,
    rpc,
    resources: offeredResources(config.resources),
    inOffice: () => coordination.inOffice,
    term: () => coordination.term,
    leader: () => coordination.leader,
    admits: (term, from) => coordination.election.admits(term, from),
    voters: () => coordination.status().voters,
    agents: () => liveMembers(memberView).filter(m => m.state === 'alive').map(m => m.peerId),
    coordinator,
    publish: (topic, status) => {
      if (TERMINAL_TASK.has(status.status) && coordination.inOffice) observer.taskFinished(status.status)
      if (host.started && listened(pubsub, topic)) pubsub.publish(topic, status).catch(() => {})
    },
    onRejected: (from, message, reason) => { observer.rejected('task', { from, message, reason }) },
    onError: (err) => { observer.error('tasks', err) },
    requestTimeoutMs: c.requestTimeoutMs,
    resourceManager: resources,
    negotiation
  })
  memberView.addEventListener('member:change', (e) => {
    const m = e.detail
    if (m.to === 'alive') coordination.agentAlive(m.peerId)
    if (m.to === 'offline' || m.to === 'left') {
      tasks.scheduler.agentLost(m.peerId)
      if (coordination.inOffice) {
        resources.agentLost(m.peerId)
        if (m.to === 'offline' && host.started) {
          monitoring.alert({ severity: 'warning', message: `agent ${m.name} (${m.peerId}) is offline`, labels: { agent: m.peerId, reason: 'offline' } })
            .catch(() => {})
        }
      }
      monitoring.forget(m.peerId)
    }
    coordination.election.setMembers(liveMembers(memberView).map(l => ({ peer: l.peerId, eligible: l.eligible })))
  })
  coordination.addEventListener('coordinator:change', () => { tasks.coordinatorChanged() })
  return { coordination, resources, tasks, ordered: [once(coordination), once(resources), once(tasks)] }
}
