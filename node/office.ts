/** The office of a node (node/services.ts builds the rest), and what an agent offers to run tasks with. */
import type { AgentConfig } from './config.js'
import type { Observer } from './observe.js'
import type { NodeHost, NodeServices } from './service-types.js'
import type { Startable } from '../protocols/core/service.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import type { AgentCard } from '../protocols/discovery/card.js'
import { publishPerformance } from './performance-report.js'
import { ResourceService } from '../protocols/resource/index.js'
import { TaskService } from '../protocols/task/index.js'
import { CoordinationService } from '../protocols/coordination/index.js'
import { selfEligible } from './member-view.js'
import { peerLinks } from './member-connections.js'
import { electionKeys, privateKeyOf } from '../protocols/coordination/election-keys.js'
import type { TaskGrants } from '../protocols/task/access.js'
import type { Admission } from './admission.js'
import type { MemberView } from '../protocols/discovery/members.js'
import type { Membership } from '../protocols/discovery/membership.js'

/** What an agent offers to run tasks with, as its card (and the resource manager) spell it. */
export function offeredResources (r: AgentConfig['resources']): NonNullable<AgentCard['resources']> {
  return { cpu_cores: r.cpuCores, memory_gb: r.memoryGb, storage_gb: r.storageGb, gpu_units: r.gpuUnits }
}

/**
 * Whether anyone listens on a topic (a peer announced the subscription, or this node has one).
 * Per-task and per-resource status topics are published only then: a topic per task that nobody
 * reads would cost gossip state and heartbeat work for every task ever run.
 */
export function listened (pubsub: PubSubService, topic: string): boolean {
  return pubsub.subscribers(topic).length > 0 || pubsub.subscriptions().includes(topic)
}

const TERMINAL_TASK = new Set(['completed', 'failed', 'cancelled'])

/**
 * Coordination, resources and tasks: the services that act through the coordinator in office.
 * Resources and tasks take the coordination as their `Office` and the member view as their
 * `MemberSource` and follow both themselves; what they report goes to the observer. What is
 * left here belongs to no one protocol: the coordinator's performance report carries the
 * agents' metric reports, and the coordinator alerts when an agent goes offline.
 */
export function buildOffice (
  host: NodeHost,
  s: Pick<NodeServices, 'rpc' | 'pubsub' | 'membership' | 'memberView' | 'negotiation' | 'monitoring' | 'admission' | 'audit' | 'topicLinks'>,
  observer: Observer
): { coordination: CoordinationService, resources: ResourceService, tasks: TaskService, ordered: [Startable, Startable, Startable] } {
  const { config } = host
  const { rpc, pubsub, membership, memberView, negotiation, monitoring, audit } = s
  const id = host.peerId
  const c = config.coordination
  const stateFile = c.stateFile ?? (config.dataDir !== undefined ? `${config.dataDir}/coordination.json` : config.identity !== undefined ? `${config.identity}.coordination.json` : undefined)
  const publishIfListened = (topic: string, payload: unknown): void => {
    // A subscriber the member view knows of counts: the publish dials it first (node/topic-links.ts).
    if (host.started && (listened(pubsub, topic) || s.topicLinks.known(topic))) pubsub.publish(topic, payload).catch(() => {})
  }
  const coordination = new CoordinationService({
    self: { peerId: id, name: host.name, capabilities: config.capabilities },
    eligible: selfEligible(config, s.admission),
    client: config.client,
    rpc,
    heartbeatIntervalMs: c.heartbeatIntervalMs,
    electionTimeoutMinMs: c.electionTimeoutMinMs,
    electionTimeoutMaxMs: c.electionTimeoutMaxMs,
    voterRemoveAfterMs: c.voterRemoveAfterMs,
    bootstrapExpect: c.bootstrapExpect,
    maxVoters: c.maxVoters,
    announceIntervalMs: c.announceIntervalMs,
    pubsub,
    ...(stateFile !== undefined ? { stateFile } : {}),
    keys: electionKeys(privateKeyOf(host.libp2p), config.mesh),
    requestTimeoutMs: c.requestTimeoutMs,
    members: memberView,
    links: peerLinks(host.libp2p),
    audit
  })
  s.admission.onChange(() => { coordination.refreshMembers() })
  if (config.monitoring.hearReports === 'voters') {
    // The voters hear every agent's metric report: the coordinator comes from them. Its voter set is checked
    // when one is taken and when a coordinator is learned (a voter set stored before a restart is not announced again).
    const hearIfVoter = (): void => { monitoring.follow(coordination.status().voters.includes(id)) }
    coordination.addEventListener('voters:change', hearIfVoter)
    coordination.addEventListener('coordinator:change', hearIfVoter)
  }
  coordination.addEventListener('rejected', (e) => { observer.rejected('coordination', e.detail) })
  coordination.addEventListener('directive', (e) => { observer.directive(e.detail) })
  coordination.addEventListener('error', (e) => { observer.error('coordination', e.detail.error) })
  const alive = (): string[] => [id, ...memberView.peersIn('alive', 'suspect')]
  coordination.addEventListener('report', (e) => {
    observer.report(e.detail)
    publishPerformance(e.detail, { pubsub, monitoring, alive, timeoutMs: c.requestTimeoutMs, started: () => host.started }).catch(() => {})
  })
  const resources = new ResourceService({
    self: id,
    rpc,
    office: coordination,
    members: memberView,
    capacities: () => {
      const caps = new Map([[id, offeredResources(config.resources)]])
      for (const peer of memberView.peersIn('alive')) {
        const card = membership.card(peer)
        if (card?.resources !== undefined) caps.set(peer, card.resources)
      }
      return caps
    },
    publish: publishIfListened,
    requestTimeoutMs: c.requestTimeoutMs,
    audit
  })
  resources.addEventListener('denied', (e) => { observer.denied(e.detail) })
  resources.addEventListener('error', (e) => { observer.error('resources', e.detail.error) })
  const tasks = new TaskService({
    self: id,
    rpc,
    resources: offeredResources(config.resources),
    office: coordination,
    members: memberView,
    publish: publishIfListened,
    requestTimeoutMs: c.requestTimeoutMs,
    resourceManager: resources,
    negotiation,
    privateKey: privateKeyOf(host.libp2p),
    mesh: config.mesh, // in what the coordinator's record signatures cover (protocols/task/record-seal.ts)
    audit,
    // Its replica of the task table, on disk when the node has a data directory (issue 14).
    store: host.store,
    grants: taskGrants(id, config.capabilities, s.admission, memberView, membership)
  })
  // The voter set changes only once the task table is on a majority of the next set (protocols/task/catch-up.ts).
  coordination.gateVoterChanges((voters) => tasks.scheduler.catchUp.ready(voters))
  tasks.addEventListener('rejected', (e) => { observer.rejected('task', e.detail) })
  tasks.addEventListener('error', (e) => { observer.error('tasks', e.detail.error) })
  tasks.addEventListener('status', (e) => {
    const status = e.detail.status
    if (TERMINAL_TASK.has(status.status) && coordination.inOffice) observer.taskFinished(status.status)
  })
  memberView.addEventListener('member:change', (e) => {
    const m = e.detail
    if (m.to === 'offline' && coordination.inOffice && host.started) {
      const message = `agent ${m.name} (${m.peerId}) is offline`
      monitoring.alert({ severity: 'warning', message, labels: { agent: m.peerId, reason: 'offline' } }).catch(() => {})
    }
    if (m.to === 'offline' || m.to === 'left') monitoring.forget(m.peerId)
  })
  return { coordination, resources, tasks, ordered: [coordination, resources, tasks] }
}

/**
 * Who may run which tasks (protocols/task/access.ts, docs/security.md "Tasks"): in a closed mesh
 * what each agent's credential grants (this node's own, the member view's for the others: admitted
 * here or carried on their statements, signed by the owner either way), never what an agent
 * claims; in an open mesh the capabilities each card claims (there is nothing else to go by).
 */
function taskGrants (self: string, ownCapabilities: string[], admission: Admission, memberView: MemberView, membership: Membership): TaskGrants {
  if (admission.closed) {
    return {
      closed: true,
      held: (peer) => {
        const c = peer === self ? admission.credential : memberView.grants(peer)
        return c === undefined ? undefined : { capabilities: c.capabilities, serial: c.serial }
      }
    }
  }
  return { closed: false, held: (peer) => ({ capabilities: peer === self ? ownCapabilities : membership.card(peer)?.capabilities ?? [] }) }
}
