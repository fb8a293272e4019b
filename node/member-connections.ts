/**
 * Connections kept in step with the member view: a connection to an agent held offline that does
 * not answer is closed (protocols/discovery/offline-hangup.ts), and agents held offline are dialled one at a
 * time so a healed partition joins up (protocols/discovery/reconnect.ts), as are agents alive and
 * unconnected while this node has fewer peers than its target. And with the voter set: voters keep
 * a connection to each other (protocols/coordination/voter-links.ts). And what the election learns
 * from connections: when the last one to a peer closes, and whether the peer's process exited.
 *
 * A process that exits has its sockets closed by the kernel: its peers see the connection end at
 * once, and a dial to its address is refused (ECONNREFUSED) while its host stays up. A host that
 * is lost, or cut off by a partition, closes nothing and refuses nothing: the dial times out or
 * fails otherwise, and the election's timeouts decide as before. So only a refusal at every
 * address counts as an exit.
 */
import { peerIdOf } from '../protocols/core/peer-keys.js'
import type { AgentConfig } from './config.js'
import type { AgentLibp2p } from './libp2p.js'
import type { MemberView } from '../protocols/discovery/members.js'
import { OFFLINE_PING_TIMEOUT_MS, OfflineHangUp } from '../protocols/discovery/offline-hangup.js'
import { Reconnector } from '../protocols/discovery/reconnect.js'
import { VoterLinks } from '../protocols/coordination/voter-links.js'
import { VOTER_LINK_INTERVAL_MS } from '../protocols/coordination/constants.js'
import type { CoordinationService } from '../protocols/coordination/index.js'
import type { MeshAnnouncer } from '../protocols/discovery/mesh-announcer.js'
import type { PeerLinks } from '../protocols/coordination/election-types.js'
import type { PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { refusedEverywhere } from './tcp-probe.js'
import { TOPIC_LINK_INTERVAL_MS, TopicLinks } from './topic-links.js'
import type { PubSubService } from '../protocols/pubsub/index.js'
import type { RpcService } from '../protocols/rpc/index.js'
import { HandOffs } from '../protocols/discovery/hand-off.js'
import { ViewLinks } from '../protocols/discovery/view-links.js'
import { HYPARVIEW_DEFAULTS } from '../protocols/discovery/hyparview.js'
import type { Stats } from './stats.js'

/** The peers the dialers top up to: none with HyParView's views, which keep their own (view-links.ts). */
export const targetOf = (config: AgentConfig): number => config.connections.graph === 'views' ? 0 : config.connections.targetPeers

/** Under nine tenths of the connection cap: past it libp2p's manager prunes, and links made past it would go round. */
const underCap = (libp2p: AgentLibp2p, config: AgentConfig): boolean => libp2p.getConnections().length < 0.9 * config.connections.maxConnections

/** Whether this node holds a connection to `peer`, and a dial of it by peer id (its addresses are in the peer store). */
const connectedTo = (libp2p: AgentLibp2p) => (peer: string): boolean => libp2p.getConnections(peerIdOf(peer)).length > 0
const dialById = (libp2p: AgentLibp2p) => async (peer: string, signal: AbortSignal): Promise<void> => { await libp2p.dial(peerIdOf(peer), { signal }) }

/**
 * `handedOff`: agents whose connection was just closed by agreement (protocols/discovery/hand-off.ts),
 * not dialled back to fill this node's peers.
 */
export function memberConnections (
  libp2p: AgentLibp2p, memberView: MemberView, config: AgentConfig, handedOff: (peer: string) => boolean = () => false
): [OfflineHangUp, Reconnector] {
  const connected = connectedTo(libp2p)
  const hangUps = new OfflineHangUp({
    changes: memberView,
    stateOf: peer => memberView.stateOf(peer),
    afterMs: config.membership.hangUpAfterMs,
    hangUp: peer => { libp2p.hangUp(peerIdOf(peer)).catch(() => {}) },
    // A ping on the connection there is (none: nothing to keep); it rejects when unanswered.
    answers: async peer => {
      if (!connected(peer)) return false
      await libp2p.services.ping.ping(peerIdOf(peer), { signal: AbortSignal.timeout(OFFLINE_PING_TIMEOUT_MS) })
      return true
    }
  })
  const reconnect = new Reconnector({
    intervalMs: config.membership.reconnectIntervalMs,
    // The agents held offline; and, while this node has fewer peers than its target, the agents
    // alive that it holds no connection to. The peer dialer dials each agent it is told of once:
    // one whose dial timed out in a join wave (nine agents starting together beside other work on
    // two cores) stayed unconnected for good although alive, and a mesh of nine settled with some
    // agents holding one or two links (election-scale.test, live-page-scale.test in CI). Never an
    // agent just handed on, even one this node has come to hold offline: with the connection gone,
    // a loaded host's detector can call it offline within the 2 s after (local timings), and the
    // reconnector dialled it straight back (hand-off.test, in the loop at load 7).
    candidates: () => {
      const offline = memberView.peersIn('offline').filter(p => !handedOff(p))
      return libp2p.getPeers().length >= targetOf(config) ? offline : [...offline, ...memberView.peersIn('alive').filter(p => !handedOff(p))]
    },
    connected,
    dial: dialById(libp2p),
    dialTimeoutMs: config.connections.dialTimeoutMs
  })
  return [hangUps, reconnect]
}

/**
 * A node watching the mesh map dials the agents alive that it has not heard from and is not
 * connected to, two each announcement interval: their announcements reach only watchers they are
 * connected to (protocols/discovery/mesh-announcer.ts), and an agent joins through one seed and dials
 * only some of the peers told of (protocols/discovery/dialer.ts), so nothing else connects it to the watcher.
 * Seen in CI at 50 agents: one agent with 14 connections, none to the watcher, off its map for 4 minutes.
 * An agent picked is not picked again for ten intervals: one that stays silent (its announcements
 * off), refuses, or prunes the watcher's connection is not dialled round after round.
 */
export function mapLinks (libp2p: AgentLibp2p, memberView: MemberView, announcer: MeshAnnouncer, config: AgentConfig): Reconnector {
  const interval = config.meshAnnounceIntervalMs
  return new Reconnector({
    // Off with no endpoint, and in a mesh whose announcements are off (this node's setting stands for it).
    intervalMs: config.debug === undefined || interval <= 0 ? 0 : Math.max(1_000, interval),
    candidates: () => !underCap(libp2p, config)
      ? []
      : memberView.peersIn('alive').filter(p => announcer.misses(p)),
    perRound: 2,
    repickAfterMs: 10 * Math.max(1_000, interval),
    connected: connectedTo(libp2p),
    dial: dialById(libp2p),
    dialTimeoutMs: config.connections.dialTimeoutMs
  })
}

/** Links between the subscribers of a topic, and from its publishers to one (node/topic-links.ts); a client only reaches; off: `pubsub.topicLinks` false. */
export function topicLinks (libp2p: AgentLibp2p, config: AgentConfig, pubsub: PubSubService, memberView: MemberView): TopicLinks {
  return new TopicLinks({
    self: libp2p.peerId.toString(),
    subscriptions: () => pubsub.subscriptions(),
    subscribers: topic => pubsub.subscribers(topic),
    sendsTo: peer => pubsub.sendsTo(peer),
    members: memberView,
    live: () => memberView.liveCount(),
    connected: connectedTo(libp2p),
    dial: dialById(libp2p),
    room: () => underCap(libp2p, config),
    intervalMs: config.pubsub.topicLinks ? TOPIC_LINK_INTERVAL_MS : 0,
    states: !config.client,
    dialTimeoutMs: config.connections.dialTimeoutMs,
    reachWaitMs: config.pubsub.reachWaitMs
  })
}

/** Inbound connections handed on past three quarters of the gater's cap (protocols/discovery/hand-off.ts); a client takes none and hands none on. */
export function handOffs (
  libp2p: AgentLibp2p, rpc: RpcService, memberView: MemberView, coordination: CoordinationService, config: AgentConfig, stats: Stats
): HandOffs {
  return new HandOffs({
    libp2p,
    rpc,
    maxInbound: config.client ? 0 : config.connections.maxInbound,
    afterMs: config.connections.handOffAfterMs,
    enough: Math.ceil(config.connections.targetPeers / 2),
    alive: peer => memberView.stateOf(peer) === 'alive',
    voters: () => coordination.voters(),
    leader: () => coordination.leader,
    bootstrapContacts: () => coordination.bootstrapContacts(),
    members: () => memberView.peersIn('alive'),
    dial: dialById(libp2p),
    dialTimeoutMs: config.connections.dialTimeoutMs,
    count: what => { stats.inc('hand_offs_total', { what }) }
  })
}

/** HyParView's views over libp2p and rpc (protocols/discovery/view-links.ts), `connections.graph: 'views'`. */
export function viewLinksOf (
  libp2p: AgentLibp2p, rpc: RpcService, config: AgentConfig, stats: Stats,
  s: { member: (peer: string) => boolean, members: () => string[], keep: (peer: string) => boolean }
): ViewLinks {
  const self = libp2p.peerId.toString()
  return new ViewLinks({
    self,
    rpc,
    config: {
      activeSize: config.connections.activeView,
      passiveSize: config.connections.passiveView,
      swapIntervalMs: config.connections.viewSwapMs,
      // The backstop for islands no closed neighbourhood shows: 20 times as rare (10 min).
      randomSwapMs: 20 * config.connections.viewSwapMs,
      // A view message to a peer not connected opens a connection first: its answer may take the
      // dial's time besides. With 5 s for both, on a loaded host (40 agents beside a test suite,
      // dials p50 11 s) most neighbour requests failed and were asked of another, which failed too.
      neighbourTimeoutMs: config.connections.dialTimeoutMs + HYPARVIEW_DEFAULTS.neighbourTimeoutMs
    },
    member: s.member,
    members: s.members,
    connected: () => [...new Set(libp2p.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()))],
    connectedSince: peer => {
      let since: number | undefined
      try {
        for (const c of libp2p.getConnections(peerIdOf(peer))) if (c.status === 'open') since = Math.min(since ?? Infinity, c.timeline.open)
      } catch { return undefined }
      return since
    },
    quietFor: peer => rpc.quietFor(peer),
    dial: dialById(libp2p),
    hangUp: peer => { libp2p.hangUp(peerIdOf(peer)).catch(() => {}) },
    keep: s.keep,
    dialTimeoutMs: config.connections.dialTimeoutMs,
    count: (what, type) => { stats.inc('view_messages_total', { what, type: type ?? '' }) }
  })
}

/** Links between the voters, checked again whenever the voter set changes. */
export function voterConnections (libp2p: AgentLibp2p, coordination: CoordinationService, config: AgentConfig): VoterLinks {
  const links = new VoterLinks({
    self: libp2p.peerId.toString(),
    // With views, before a set exists the voters this node would propose link up too: a bootstrap
    // campaign needs every proposed vote, and over a bounded graph each question to a voter not
    // connected was a dial (40 agents on a loaded host: dials p50 11 s, no coordinator in 90 s).
    voters: () => config.connections.graph === 'views' ? coordination.votersOrProposed() : coordination.voters(),
    connected: connectedTo(libp2p),
    dial: dialById(libp2p),
    intervalMs: config.client ? 0 : VOTER_LINK_INTERVAL_MS,
    dialTimeoutMs: config.connections.dialTimeoutMs
  })
  coordination.addEventListener('voters:change', () => { links.check() })
  return links
}

/** PeerLinks (protocols/coordination/election-types.ts) over libp2p. */
export function peerLinks (libp2p: AgentLibp2p): PeerLinks {
  return {
    onClose: (fn) => {
      const listener = (e: CustomEvent<PeerId>): void => { fn(e.detail.toString()) }
      libp2p.addEventListener('peer:disconnect', listener)
      return () => { libp2p.removeEventListener('peer:disconnect', listener) }
    },
    exited: async (peer, signal) => {
      // What a connection taught the peer store, and what the peer stated (member-addresses.ts), which a peer never dialled has alone.
      const known = await libp2p.peerStore.get(peerIdOf(peer)).catch(() => undefined)
      return await refusedEverywhere(tcpEndpoints([...(known?.addresses ?? []).map(a => a.multiaddr), ...libp2p.services.statedAddresses.find(peer)]), signal)
    },
    connected: (peer) => {
      // The election asks about members (valid peer ids); a malformed one is simply not connected.
      try { return libp2p.getConnections(peerIdOf(peer)).some(c => c.status === 'open') } catch { return false }
    }
  }
}

/** The TCP endpoints of a peer's addresses, TCP and WebSocket ones alike (both listen on TCP). */
export function tcpEndpoints (addrs: Multiaddr[]): Array<{ host: string, port: number }> {
  const out = new Map<string, { host: string, port: number }>()
  for (const a of addrs) {
    const [host, tcp] = a.getComponents()
    if (host === undefined || !['ip4', 'ip6', 'dns', 'dns4', 'dns6'].includes(host.name) || tcp?.name !== 'tcp') continue
    out.set(`${String(host.value)}:${String(tcp.value)}`, { host: String(host.value), port: Number(tcp.value) })
  }
  return [...out.values()]
}
