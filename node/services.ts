/**
 * Every service of a node, built in one place and kept in one ordered list: the node starts the
 * list in order and stops it in reverse, as libp2p does with its components. Each service gets
 * what it needs to act (rpc, pubsub, the membership); what it reports goes out as typed events
 * that node/observe.ts turns into metrics and log lines.
 */
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from '../protocols/core/peer-keys.js'
import type { Observer } from './observe.js'
import type { Startable } from '../protocols/core/service.js'
import { PubSubService } from '../protocols/pubsub/index.js'
import { RpcService } from '../protocols/rpc/index.js'
import { Membership } from '../protocols/discovery/membership.js'
import { BootstrapDialer } from '../protocols/discovery/bootstrap.js'
import { PeerDialer } from '../protocols/discovery/dialer.js'
import { MeshAnnouncer } from '../protocols/discovery/mesh-announcer.js'
import { buildMemberView } from './member-view.js'
import { handOffs as handOffsOf, mapLinks, memberConnections, targetOf, topicLinks as linksOfTopics, viewLinksOf, voterConnections } from './member-connections.js'
import { NegotiationService } from '../protocols/negotiation/index.js'
import { METRICS_TOPIC, MonitoringService } from '../protocols/monitoring/index.js'
import { LearningService } from '../protocols/learning/index.js'
import type { TaskService } from '../protocols/task/index.js'
import { buildOffice, listened } from './office.js'
export { offeredResources } from './office.js'
import { Admission } from './admission.js'
import { handleRevocations } from './revocation-command.js'
import { handleKeyring } from './keyring-command.js'
import { privateKeyOf } from '../protocols/coordination/election-keys.js'
import type { Grants } from '../protocols/rpc/commands.js'
import { AuditLog } from './audit.js'
import { until } from './until.js'
import type { AuditSink } from '../protocols/core/audit.js'
import { SealingService } from '../protocols/sealing/index.js'
import { buildDeadLetters, buildDelivery } from './delivery-services.js'
import type { NodeHost, NodeServices } from './service-types.js'

export type { NodeHost, NodeServices } from './service-types.js'

export function buildServices (host: NodeHost, observer: Observer): NodeServices {
  const { config, libp2p, stats, log } = host
  // Built after the services that report to it; read only once running (closures below read
  // pubsub and membership the same way: they run after everything is built).
  const later: { tasks?: TaskService } = {}
  const { auditLog, auditKeep } = config.security
  const audit = new AuditLog({ node: host.peerId, keep: auditKeep, stats, log, ...(auditLog !== undefined ? { path: auditLog } : {}) })
  const deadLetters = buildDeadLetters(host, audit)
  const admission = new Admission({ libp2p, log, config, security: host.security, pubsub: (): PubSubService => pubsub, audit, stats })
  // One sealing service: the same keys seal topics' payloads and direct messages' (`encryptFor`).
  const sealer = sealing(host, () => membership, audit)
  const rpc = new RpcService({
    sealer,
    admits: (peer, command) => admission.admitsCommand(peer, command),
    // `allow`: a closed mesh's credential; an open mesh trusts the card's claims.
    // This node calling itself holds what its own credential (closed) or config (open) gives it.
    grants: (peer): Grants | undefined | Promise<Grants | undefined> => peer === host.peerId
      ? (admission.closed ? host.security.credential : { roles: config.roles, capabilities: config.capabilities })
      : admission.closed ? admission.credentialOf(peer) : claimsOf(membership, peer),
    audit,
    libp2p,
    stats,
    log,
    maxMessageBytes: config.maxMessageBytes,
    window: config.rpc.window,
    timeoutMs: config.rpc.timeoutMs,
    dialTimeoutMs: config.connections.dialTimeoutMs,
    stallTimeoutMs: config.rpc.stallTimeoutMs
  })
  handleRevocations(rpc, admission, audit) // `agentmesh revocation publish` hands a list to this node
  handleKeyring(rpc, host, audit) // `agentmesh keyring install|use|remove|list`, operators only
  const delivery = buildDelivery(host, rpc, deadLetters, audit)
  const pubsub = new PubSubService({
    ...config.pubsub,
    libp2p,
    mesh: config.mesh,
    stats,
    log,
    maxMessageBytes: config.maxMessageBytes,
    admits: (from, publisher) => admission.admitsGossip(from, publisher),
    // Closed mesh: not a payload byte to a peer not admitted (issue 43).
    ...(admission.closed ? { admitted: (peer: string) => admission.admits(peer) } : {}),
    audit,
    sealer
  })
  admission.onChange(() => { pubsub.admissionChanged() })
  delivery.publishWith({
    self: host.peerId,
    pubsub,
    withRole: role => membership.find({ role }).map(p => p.peerId),
    ackTimeoutMs: config.delivery.topicAckTimeoutMs
  })
  // Not an agent whose connection was just closed by agreement, either way (handOffs: made below, asked only once running).
  const discovery = new PeerDialer(libp2p, () => targetOf(config), peer => handOffs.expects(peer))
  const membership = new Membership({
    libp2p,
    rpc,
    mesh: config.mesh,
    card: () => host.card(),
    admission,
    // A peer another agent told of: addresses that do not parse are skipped, not fatal.
    dial: (peerId, addresses) => {
      const multiaddrs = addresses.flatMap(a => { try { return [multiaddr(a)] } catch { return [] } })
      if (multiaddrs.length > 0) discovery.consider({ id: peerIdOf(peerId), multiaddrs })
    }
  })
  const views = config.connections.graph === 'views' && !config.client
    ? viewLinksOf(libp2p, rpc, config, stats, { member: peer => isMember(peer), members: () => memberView.peersIn('alive'), keep: peer => keep(peer) })
    : undefined
  const bootstrap = new BootstrapDialer({
    libp2p,
    addresses: config.bootstrap,
    initialDelayMs: config.connections.bootstrapInitialDelayMs,
    maxDelayMs: config.connections.bootstrapMaxDelayMs,
    dialTimeoutMs: config.connections.dialTimeoutMs,
    knows: peer => memberView.stateOf(peer) !== undefined,
    // With views, a seed that let this node's connection go once it had neighbours is not dialled back.
    handedOff: peer => handOffs.expects(peer) || (views !== undefined && views.active().length > 0)
  })
  const agreed = (peer: string): boolean => handOffs.expects(peer)
  // With views, member rumours and probes go to the active view (while it is empty: to every agent connected).
  const neighbours = views === undefined ? undefined : (): Iterable<string> => { const a = views.active(); return a.length > 0 ? a : membership.peerIds() }
  const viewed = neighbours !== undefined ? { neighbours } : {}
  // A member first heard of by rumour is a candidate for the peer dialer (the dialer graph; with
  // views its target is 0), dialled by id through its stated addresses.
  const learnt = (peer: string): void => { discovery.consider({ id: peerIdOf(peer), multiaddrs: [] }) }
  const memberView = buildMemberView(host, { rpc, membership, admission, audit, topics: () => topicLinks.stated(), agreed, learnt, ...viewed }, observer)
  const topicLinks = linksOfTopics(libp2p, config, pubsub, memberView)
  pubsub.reachWith(topicLinks) // pubsub's own interface (topic-reach.ts): it no longer calls a node closure that reads it back
  membership.addEventListener('peer:join', (e) => { memberView.seen(e.detail.peerId, e.detail.card) })
  // A connection closed by agreement (a seed handing this agent on, or this node handing one on) tells nothing of the agent.
  membership.addEventListener('peer:leave', (e) => {
    const peer = e.detail.peerId
    if (views !== undefined) {
      // With views, a connection outside the active view ends when it is idle: that says nothing of the agent.
      const neighbour = views.isActive(peer)
      views.disconnected(peer)
      if (!neighbour) return
    }
    if (!handOffs.expects(peer)) memberView.lost(peer)
  })
  if (views !== undefined) memberView.addEventListener('member:change', (e) => { views.membersChanged(e.detail) })
  const [hangUps, reconnect] = memberConnections(libp2p, memberView, config, agreed)
  // Views: a member is an agent alive (or suspected, not yet declared dead) in the member view; a
  // connection is kept outside the active view for a voter's links, a topic's subscribers and a watcher's map.
  // An agent connected here whose card (and in a closed mesh, credential) was checked counts before
  // its statement arrives: a newcomer's join reaches its contact first (ignored, the newcomer held
  // the contact as a neighbour the contact did not hold back, for good: seen at 12 agents).
  const isMember = (peer: string): boolean => {
    if (membership.isClient(peer)) return false
    const st = memberView.stateOf(peer)
    return st === 'alive' || st === 'suspect' || membership.card(peer) !== undefined
  }
  const keep = (peer: string): boolean => {
    if (config.debug !== undefined) return true
    // A voter's links to the other voters and the coordinator (voter-links.ts); an agent that is none needs none.
    const voters = coordination.votersOrProposed()
    if (voters.includes(host.peerId) && (voters.includes(peer) || coordination.leader === peer)) return true
    // The application's topics' subscribers (topic-links.ts): every agent reads the mesh's own topics.
    return topicLinks.stated().some(t => pubsub.subscribers(t).includes(peer))
  }
  const negotiation = new NegotiationService({ libp2p, maxMessageBytes: config.maxMessageBytes, admits: peer => admission.admits(peer), stats, audit })
  const monitoring = new MonitoringService({
    self: host.peerId,
    name: host.name,
    rpc,
    pubsub,
    // A client reports no metrics: it is no agent of the mesh.
    intervalMs: config.client ? 0 : config.monitoring.metricsIntervalMs,
    scaleFrom: config.monitoring.metricsScaleFrom,
    // 'voters': from the first voter set this node holds on (below).
    hears: config.monitoring.hearReports === 'all',
    listened: () => listened(pubsub, METRICS_TOPIC),
    // The whole mesh (the member view), not the peers this node is connected to.
    agents: () => memberView.liveCount() + 1,
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
  const fetching = { ...config.learning, dialTimeoutMs: config.connections.dialTimeoutMs }
  const learning = new LearningService({ self: host.peerId, libp2p, pubsub, ...fetching, admits: peer => admission.admits(peer), stats, audit })
  const office = buildOffice(host, { rpc, pubsub, membership, memberView, negotiation, monitoring, admission, audit, topicLinks }, observer)
  const { coordination, resources, tasks } = office
  const handOffs = handOffsOf(libp2p, rpc, memberView, coordination, config, stats)
  later.tasks = tasks
  const announcer = new MeshAnnouncer({
    self: { peerId: host.peerId, name: host.name, roles: admission.credential?.roles ?? config.roles },
    pubsub,
    membership,
    ...(admission.closed ? { rolesOf: (peer: string) => memberView.member(peer)?.roles ?? [] } : {}),
    members: { ids: () => memberView.peersIn('alive', 'suspect'), info: peer => memberView.member(peer) },
    intervalMs: config.client ? 0 : config.meshAnnounceIntervalMs,
    takeCounts: () => stats.messages.takeCounts(),
    watch: config.debug !== undefined
  })
  const ordered: Startable[] = [
    // First and stopped last: it opens the file before any decision, and writes the last ones.
    audit,
    // Before delivery sends anything, stopped after it: its last dead letters are written before the store closes.
    deadLetters,
    libp2p,
    rpc,
    pubsub,
    // After pubsub (it subscribes to the revocation lists), before anyone exchanges cards.
    admission,
    // Stopped between the membership and pubsub: what was published last (the member view tells
    // its neighbours it leaves over rpc, stopped later still) goes out before gossip closes.
    { start: () => {}, stop: async () => { await settleWithin(pubsub.flush(), 500) } },
    membership,
    memberView,
    hangUps,
    reconnect,
    office.ordered[0],
    voterConnections(libp2p, coordination, config),
    office.ordered[1],
    negotiation,
    monitoring,
    learning,
    office.ordered[2],
    discovery,
    ...(views !== undefined ? [views] : []),
    bootstrap,
    handOffs,
    announcer, mapLinks(libp2p, memberView, announcer, config), topicLinks,
    // Last: what its outbox held at start is resent once the node can find its peers.
    delivery
  ]
  const protocols = { rpc, pubsub, membership, memberView, coordination, resources, negotiation, monitoring, learning, tasks }
  const graph = views !== undefined ? { views } : {}
  return { audit, libp2p, admission, delivery, ...protocols, discovery, ...graph, bootstrap, announcer, topicLinks, deadLetters, ordered }
}

/** How long a request of a peer whose card has not arrived yet waits for it, for `allow` in an open mesh. */
const CARD_WAIT_MS = 2_000

/**
 * An open mesh's roles and capabilities of a caller: its card's claims. A request may overtake
 * the card exchange of a peer that just connected: it waits for the card a moment.
 */
async function claimsOf (membership: Membership, peer: string): Promise<Grants | undefined> {
  if (membership.isClient(peer)) return membership.get(peer)
  return await until(membership, 'peer:join', () => membership.get(peer), AbortSignal.timeout(CARD_WAIT_MS)).catch(() => membership.get(peer))
}

/**
 * Sealed payloads (`encryptFor`): a role's recipients are the connected agents whose credential
 * (closed mesh) or card (open: a claim) gives it, and this node if its own credential or config does.
 */
function sealing (host: NodeHost, membership: () => Membership, audit: AuditSink): SealingService {
  const { config } = host
  const ownRoles = host.security.credential?.roles ?? config.roles
  return new SealingService({
    privateKey: privateKeyOf(host.libp2p),
    mesh: config.mesh,
    rotationMs: config.security.keyRotationMs,
    graceMs: config.security.keyGraceMs,
    withRole: role => [...membership().find({ role }).map(p => p.peerId), ...(ownRoles.includes(role) ? [host.peerId] : [])],
    audit
  })
}

/** Wait for `p` (its failure ignored), no longer than `ms`. */
async function settleWithin (p: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  await Promise.race([p.catch(() => {}), new Promise(resolve => { timer = setTimeout(resolve, ms) })])
  clearTimeout(timer)
}
