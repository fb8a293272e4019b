/** Assembles the libp2p node an agent runs on, from the agent's configuration. */
import { STATED_ADDRESS_AGE_MS, StatedAddresses } from '../protocols/discovery/member-addresses.js'
import './polyfills.js'
import { libp2pLogger } from './libp2p-logger.js'
import { corkSends, halfWindowYamux, quickNoiseLengths } from './adaptations/index.js'
import { createLibp2p, type Libp2p, type Libp2pOptions } from 'libp2p'
import { noise, type ICryptoInterface } from '@chainsafe/libp2p-noise'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import type { PrivateKey } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from '../protocols/core/peer-keys.js'
import type { Registry } from 'prom-client'
import { maxMembersOf, type AgentConfig } from './config.js'
import { AGENTMESH_VERSION } from '../protocols/core/version.js'
import { ConfigError } from '../protocols/core/errors.js'
import { PeerLimiter } from '../protocols/rpc/limits.js'
import { gossipLimiter } from '../protocols/pubsub/gossip-limits.js'
import type { StreamLimitSettings } from '../protocols/negotiation/stream-guard.js'
import { ConnectionGate } from './connection-gate.js'
import { JOIN_DIAL_TIMEOUT_MAX_FACTOR } from '../protocols/discovery/bootstrap.js'

export { PerPeerConnections, ConnectionGate, CONNECTION_GATE_SERVICE, type RefusalReason } from './connection-gate.js'

export type AgentLibp2p = Libp2p<{
  identify: ReturnType<ReturnType<typeof identify>>
  ping: ReturnType<ReturnType<typeof ping>>
  pubsub: GossipSub
  /** Per-peer request limits (LIMITER_SERVICE): the rpc protocol charges them, the gater below enforces their cool-downs. */
  rpcLimits: PeerLimiter
  /** Per-publisher gossip limits (GOSSIP_LIMITER_SERVICE): the pubsub validator charges them, the gater enforces their cool-downs. */
  gossipLimits: PeerLimiter
  /** Per-peer limits of negotiation and model fetches (STREAM_LIMITS_SERVICE), from the config. */
  streamLimits: StreamLimitSettings
  /** What the connection gater asks (CONNECTION_GATE_SERVICE): caps, cool-downs, revoked peers. */
  connectionGate: ConnectionGate
  /** The addresses members stated, libp2p's peer routing for a member never dialled (discovery/member-addresses.ts). */
  statedAddresses: StatedAddresses
}>

/**
 * Gossipsub keeps one stream per peer and direction; a few more cover a stream replaced on
 * reconnect. libp2p's default of 32 per protocol and connection only serves a flooder.
 */
const GOSSIP_MAX_INBOUND_STREAMS = 4

/**
 * libp2p's connection monitor pings every connection on a new stream every 10 s by default and
 * aborts a connection whose ping is not answered in 5 s. For an idle agent that was a third of
 * its CPU (50 agents at rest in one process, lan, 20-s windows: 0.57-0.67% of a core per agent
 * with it, 0.39-0.48% without), more than all its membership traffic: each ping is a stream
 * opened, negotiated, echoed and closed, both ways on every connection, ~0.9 ms of CPU. And a
 * process that stalls for seconds (200 agents on two cores) lost healthy connections to it.
 * Liveness is the failure detector's (discovery/: suspicion, local health): a connection to an
 * agent it has held offline for 30 s, and that does not answer a ping on it in 15 s, is closed
 * (discovery/offline-hangup.ts). The monitor stays as the backstop for connections to peers it
 * does not follow (clients, peers that never showed a card): every five minutes, 15 s to answer
 * at least.
 */
const CONNECTION_PING_INTERVAL_MS = 300_000
const CONNECTION_PING_MIN_TIMEOUT_MS = 15_000

/**
 * Gossipsub's score thresholds (its defaults in @libp2p/gossipsub 17, written out): a peer below
 * `gossipThreshold` gets no gossip (IHAVE) and its IWANTs are not answered, below
 * `publishThreshold` no published message (flood publish, fanout), below 0 no mesh link, and
 * below `graylistThreshold` every RPC it sends is dropped, its subscriptions included.
 */
const GOSSIP_SCORE_THRESHOLDS = { gossipThreshold: -10, publishThreshold: -50, graylistThreshold: -80, acceptPXThreshold: 10, opportunisticGraftThreshold: 20 }

/**
 * The score of a peer not admitted (closed mesh): under the publish and gossip thresholds, so it
 * is sent nothing of any topic, and above the graylist, so the subscriptions it sends while its
 * card exchange runs are still read (dropped, they would never be sent again, and an agent
 * admitted a moment later would be nobody's subscriber). Gossipsub caches a score for a
 * heartbeat (1 s): an agent just admitted is sent messages by gossip from then on, by the
 * fan-out streams at once (protocols/pubsub/fanout.ts), and what it missed in between by gossip.
 */
const NOT_ADMITTED_SCORE = -60

/** The per-peer limits of rpc, from its config keys (protocols/rpc/limits.ts). */
export function rpcLimiter (config: AgentConfig): PeerLimiter {
  const { requestsPerSec, bytesPerSec, internalPerSec, floodSeconds, cooldownMs } = config.rpc
  return new PeerLimiter({ requestsPerSec, bytesPerSec, internalPerSec, floodSeconds, cooldownMs, maxMessageBytes: config.maxMessageBytes })
}

/**
 * Gossipsub's own message ids for signed messages are publisher + sequence number; the same
 * pair, cheaply concatenated, serves as the fast id, so a duplicate is dropped before its
 * signature is checked again (the notes measured ~15% more throughput from this alone).
 */
function fastMsgId (msg: { from?: Uint8Array, seqno?: Uint8Array, data?: Uint8Array }): string {
  if (msg.from !== undefined && msg.seqno !== undefined) {
    return Buffer.from(msg.from.buffer, msg.from.byteOffset, msg.from.byteLength).toString('base64') +
      Buffer.from(msg.seqno.buffer, msg.seqno.byteOffset, msg.seqno.byteLength).toString('base64')
  }
  return 'u' + Buffer.from(msg.data ?? new Uint8Array()).toString('base64').slice(0, 64)
}

/**
 * The per-peer limits of the stream protocols with a stream per conversation, from their config
 * keys; a peer refused in every second for rpc.floodSeconds is cooled down as an rpc flooder is.
 */
export function streamLimits (config: AgentConfig, gate?: ConnectionGate): StreamLimitSettings {
  const { floodSeconds, cooldownMs } = config.rpc
  const coolDown = gate !== undefined ? { floodSeconds, coolDown: (peer: string) => { gate.coolDown(peer, cooldownMs) } } : {}
  return {
    negotiation: { perSec: config.negotiation.conversationsPerSec, concurrent: config.negotiation.conversationsPerPeer, ...coolDown },
    learning: { perSec: config.learning.fetchesPerSec, concurrent: config.learning.fetchesPerPeer, ...coolDown }
  }
}

/**
 * How a node reaches others, the part that differs between Node.js and a browser tab: its
 * transports, its peer discovery, the mesh key's protector, and the addresses it will not dial.
 * Node's (TCP, WebSockets, mDNS, the key file) are in node/libp2p-node.ts, a browser's in
 * node/browser/connectivity.ts; this file imports neither, so a browser bundle can use it.
 */
export interface Connectivity {
  transports: NonNullable<Libp2pOptions['transports']>
  peerDiscovery: NonNullable<Libp2pOptions['peerDiscovery']>
  connectionProtector?: Libp2pOptions['connectionProtector']
  /**
   * Addresses never dialled. Unset, libp2p's default applies: none in Node.js; in a browser, every
   * plain /ws and every private address (a browser node sets its own rule).
   */
  denyDialMultiaddr?: (address: Multiaddr) => boolean
  /** Noise's crypto where the platform has a faster one (Node.js: node/noise-crypto.ts); unset, Noise's default. */
  noiseCrypto?: ICryptoInterface
}

export async function buildLibp2p (config: AgentConfig, privateKey: PrivateKey, reach: Connectivity, registry?: Registry): Promise<AgentLibp2p> {
  const maxGossip = Math.max(config.pubsub.batchMaxBytes, config.maxMessageBytes) + 64 * 1024
  // Loaded only for nodes with a debug endpoint: short-lived CLI clients need not pay for it.
  const limiter = rpcLimiter(config)
  const { publishPerSec, floodSeconds } = config.pubsub
  const gossipLimits = gossipLimiter({ publishPerSec, floodSeconds, cooldownMs: config.rpc.cooldownMs })
  // Assigned below: the gater runs only once the node is built and listening.
  const built: { node?: AgentLibp2p } = {}
  const { maxPerPeer, maxPerHost, trustedHosts, maxInbound } = config.connections
  const gate = new ConnectionGate({ maxPerPeer, maxPerHost, trustedHosts, maxInbound }, () => built.node?.getConnections() ?? [],
    peer => { built.node?.hangUp(peerIdOf(peer)).catch(() => {}) })
  // A flooder (of requests or gossip) in its cool-down is refused right after Noise names it
  // (before any protocol runs), and this node does not dial it back either (membership or
  // bootstrap would).
  gate.rule((peer, now) => limiter.coolingDown(peer, now) || gossipLimits.coolingDown(peer, now) ? 'cooldown' : undefined)
  const logger = libp2pLogger()
  const metrics = registry !== undefined ? (await import('@libp2p/prometheus-metrics')).prometheusMetrics({ registry, collectDefaultMetrics: true }) : undefined
  const node = built.node = await createLibp2p({
    privateKey,
    start: false,
    ...(logger !== undefined ? { logger } : {}),
    addresses: { listen: config.listen, announce: config.announce },
    // Addresses stated in member statements (discovery/member-addresses.ts) stay dialable once merged.
    peerStore: { maxAddressAge: STATED_ADDRESS_AGE_MS },
    transports: reach.transports,
    // Noise and yamux as their packages make them, with our adaptations on these connections only
    // (node/adaptations/: quicker length prefixes, window updates at half the window).
    connectionEncrypters: [quickNoiseLengths(noise(reach.noiseCrypto !== undefined ? { crypto: reach.noiseCrypto } : {}))],
    streamMuxers: [halfWindowYamux()],
    ...(reach.connectionProtector !== undefined ? { connectionProtector: reach.connectionProtector } : {}),
    peerDiscovery: reach.peerDiscovery,
    connectionManager: {
      maxConnections: config.connections.maxConnections,
      inboundConnectionThreshold: config.connections.inboundConnectionThreshold,
      dialTimeout: config.connections.dialTimeoutMs,
      // libp2p also cuts each address's attempt at 6 s of its own (addressDialTimeout), under the
      // dial's timeout: a peer with one address (a seed) got 6 s, not dialTimeoutMs, and a
      // handshake with a process seconds behind was abandoned and redone (docs/benchmarks.md).
      // A dial's own signal bounds it (dialTimeoutMs, or libp2p's dialTimeout when it has none);
      // only a join's dial of a seed that timed out before is given longer (discovery/bootstrap.ts).
      addressDialTimeout: config.connections.dialTimeoutMs * JOIN_DIAL_TIMEOUT_MAX_FACTOR
    },
    connectionGater: {
      // Each new connection is shown to corkSends (node/adaptations/tcp-cork.ts): its own sends corked.
      denyInboundConnection: (maConn) => { corkSends(maConn); return gate.denyInboundConnection(maConn.remoteAddr) },
      denyOutboundConnection: (_peer, maConn) => { corkSends(maConn); return false },
      denyInboundEncryptedConnection: (peer) => gate.denyInboundEncrypted(peer),
      denyOutboundEncryptedConnection: (peer) => gate.denyOutbound(peer),
      denyDialPeer: (peer) => gate.denyOutbound(peer),
      ...(reach.denyDialMultiaddr !== undefined ? { denyDialMultiaddr: reach.denyDialMultiaddr } : {})
    },
    connectionMonitor: { pingInterval: CONNECTION_PING_INTERVAL_MS, pingTimeout: { minTimeout: CONNECTION_PING_MIN_TIMEOUT_MS } },
    nodeInfo: { name: 'agentmesh', version: AGENTMESH_VERSION },
    // libp2p's own metrics (connections, streams, bytes per protocol, gossipsub internals) go
    // into the node's registry only when something can scrape them: the debug endpoint.
    ...(metrics !== undefined ? { metrics } : {}),
    services: {
      identify: identify(),
      ping: ping(),
      rpcLimits: () => limiter,
      gossipLimits: () => gossipLimits,
      streamLimits: () => streamLimits(config, gate),
      connectionGate: () => gate,
      statedAddresses: (components: ConstructorParameters<typeof StatedAddresses>[0]) => new StatedAddresses(components, { remembered: maxMembersOf(config) }),
      pubsub: gossipsub({
        maxInboundStreams: GOSSIP_MAX_INBOUND_STREAMS,
        allowPublishToZeroTopicPeers: true,
        emitSelf: false,
        fastMsgIdFn: fastMsgId as any,
        maxInboundDataLength: maxGossip,
        D: config.pubsub.meshDegree,
        Dlo: Math.max(1, config.pubsub.meshDegree - 2),
        Dhi: config.pubsub.meshDegree * 2,
        Dout: Math.max(1, Math.floor(config.pubsub.meshDegree / 3)),
        floodPublish: config.pubsub.floodPublish,
        scoreParams: {
          IPColocationFactorWeight: config.pubsub.ipColocationFactorWeight,
          // Closed mesh: a peer not (yet) admitted scores NOT_ADMITTED_SCORE, so gossipsub sends
          // it no message and no gossip while still reading its subscriptions (issue 43).
          appSpecificScore: (peer: string) => gate.admitted(peer) ? 0 : NOT_ADMITTED_SCORE,
          appSpecificWeight: 1
        },
        // Gossipsub's own defaults, written here because NOT_ADMITTED_SCORE is placed between them.
        scoreThresholds: GOSSIP_SCORE_THRESHOLDS
      })
    }
  }) as AgentLibp2p
  node.addEventListener('connection:open', (e) => { gate.opened(e.detail) })
  return node
}

/**
 * libp2p's error for listen addresses it could not bind lists each address with a stack trace
 * and advice about `transportManager.faultTolerance`; a person needs the address and the cause.
 * A ConfigError (CFG001), like a debug port already taken; undefined for any other error.
 */
export function listenError (err: unknown): ConfigError | undefined {
  if ((err as Error)?.name !== 'UnsupportedListenAddressesError') return undefined
  const failed = [...String((err as Error).message).matchAll(/^\s*(\/\S+): (?:\w*Error: )?(.+)$/gm)]
    .map(([, address, cause]) => `${address}: ${cause.replace(/^listen \w+: /, '').replace(/ \S+:\d+$/, '')}`)
  const what = failed.length > 0 ? failed.join('; ') : (err as Error).message.split('\n')[0]
  return new ConfigError(`cannot listen on ${what}`, { cause: err })
}
