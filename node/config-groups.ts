/**
 * The groups of the node's configuration (node/config.ts puts them together): each default is
 * defined once, with its reason, in the constants file of the protocol it belongs to.
 */
import { z } from 'zod'
import * as coordination from '../protocols/coordination/constants.js'
import * as monitoring from '../protocols/monitoring/constants.js'
import * as pubsub from '../protocols/pubsub/constants.js'
import * as discovery from '../protocols/discovery/constants.js'
import { machineCpuCores, machineMemoryGb } from './machine.js'

/** Batched gossip (protocols/pubsub/constants.ts says why each default). */
export const PubSubConfig = z.strictObject({
  /** The longest an envelope waits in an open batch while the link is busy (on an idle link it goes at the end of its turn). */
  batchWindowMs: z.number().int().min(0).max(1_000).default(pubsub.DEFAULT_BATCH_WINDOW_MS),
  /** ... up to this many per gossip message. */
  batchMaxEnvelopes: z.number().int().min(1).max(10_000).default(pubsub.DEFAULT_BATCH_MAX_ENVELOPES),
  /** ... and up to this many bytes. */
  batchMaxBytes: z.number().int().min(1024).max(pubsub.MAX_BATCH_BYTES).default(pubsub.DEFAULT_BATCH_MAX_BYTES),
  /** Gossip messages one topic may cost per second before batches wait to fill further (batches over the direct fan-out streams are not held to it). */
  maxBatchesPerSec: z.number().min(1).max(10_000).default(pubsub.DEFAULT_MAX_BATCHES_PER_SEC),
  /** Envelopes held for gossip before publish() waits: the backpressure bound. */
  publishWindow: z.number().int().min(1).default(pubsub.DEFAULT_PUBLISH_WINDOW),
  /** Messages a subscription buffers for a consumer that is not reading; older ones are dropped. */
  subscriptionBuffer: z.number().int().min(1).default(pubsub.DEFAULT_SUBSCRIPTION_BUFFER),
  /** Gossipsub's penalty for many peers on one IP: 0 (off), or negative on a public mesh. */
  ipColocationFactorWeight: z.number().max(0).default(pubsub.DEFAULT_IP_COLOCATION_FACTOR_WEIGHT),
  /** Gossipsub's mesh degree D (Dlo = D - 2, Dhi = 2D, Dout = D / 3). */
  meshDegree: z.number().int().min(2).max(24).default(pubsub.DEFAULT_MESH_DEGREE),
  /** Send own messages to every subscriber known, not only mesh peers. */
  floodPublish: z.boolean().default(pubsub.DEFAULT_FLOOD_PUBLISH),
  /** Gossip messages per second one publisher may get this node to take (a batch of more than 50 envelopes counts one per 50); 0 = no limit. */
  publishPerSec: z.number().min(0).default(pubsub.DEFAULT_PUBLISH_PER_SEC),
  /** A publisher over its limit in every second for this many seconds is disconnected for rpc.cooldownMs; 0 = never. */
  floodSeconds: z.number().int().min(0).max(3_600).default(pubsub.DEFAULT_GOSSIP_FLOOD_SECONDS),
  /** Batches go straight to a topic's subscribers over the fan-out streams while it has at most this many, all connected here; 0 = always gossip. */
  directFanout: z.number().int().min(0).max(1_024).default(pubsub.DEFAULT_DIRECT_FANOUT),
  /** Compress fan-out batches (for peers that accept it): off, deflate or brotli (zlib, built into Node). */
  compression: z.enum(['off', 'deflate', 'brotli']).default(pubsub.DEFAULT_COMPRESSION),
  /** ... when the batch is at least this many bytes. */
  compressMinBytes: z.number().int().min(0).default(pubsub.DEFAULT_COMPRESS_MIN_BYTES),
  /**
   * State the topics this node subscribes to in its member statement, keep a connection to the next
   * subscriber of each, and dial a subscriber before publishing where none is connected (node/topic-links.ts).
   */
  topicLinks: z.boolean().default(true),
  /** How long a publish on a topic with no subscriber connected waits at most for one to be dialled and ready; 0 not at all. */
  reachWaitMs: z.number().int().min(0).max(60_000).default(2_000)
})

export const ConnectionsConfig = z.strictObject({
  /**
   * How an agent picks the agents it stays connected to. `dialer`: it dials the peers it is told
   * of until it has `targetPeers`, and its connections grow with the links other parts add.
   * `views`: HyParView's active view (protocols/discovery/view-links.ts), `activeView` symmetric
   * links repaired from a reserve of `passiveView` known agents, and a connection made for
   * anything else is let go once idle (issue 46: a bounded connection graph as the mesh grows).
   * Not the default: 12 and 50 agents hold in the tests, and on 2-core hosts 100 agents converged
   * in 47-62 s and 200 in 159-165 s on a fast one (and not at all on slower ones), against an aim
   * of 200 in 30 s; at 40 agents the dialer converged in half the time with twice the
   * connections (docs/benchmarks.md, issue 46's sections).
   */
  graph: z.enum(['dialer', 'views']).default('dialer'),
  /** `views`: agents in the active view (open links kept); HyParView's log10(N) + c, 6 holds 10,000. */
  activeView: z.number().int().min(1).max(32).default(6),
  /** `views`: known agents kept in reserve to repair the active view from. */
  passiveView: z.number().int().min(1).max(256).default(36),
  /**
   * `views`: the least time between two swaps an agent starts (protocols/discovery/hyparview.ts):
   * an agent whose neighbour's neighbours are all its own too (views that filled up among a few
   * agents, apart from the rest) trades a neighbour for a reserve agent; and every 20 times as
   * long on average anyway (the two sides of a healed partition show no closed neighbourhood); 0 never.
   */
  viewSwapMs: z.number().int().min(0).max(3_600_000).default(30_000),
  /** Peers each node tries to stay connected to, dialling ones its peers tell it of (`graph: 'dialer'`). */
  targetPeers: z.number().int().min(0).default(8),
  /** Hard cap on open connections (libp2p's connection manager). */
  maxConnections: z.number().int().min(1).default(300),
  /**
   * Inbound connections accepted per second from one host. libp2p's default of 5 makes a
   * mesh of agents started together on one host refuse each other (ECONNRESET in Noise).
   */
  inboundConnectionThreshold: z.number().int().min(1).default(100),
  /**
   * Inbound connections one peer may hold open; the gater refuses more after Noise. libp2p has
   * no cap per peer, and each connection brings its own stream limits. Two peers dialling each
   * other at once hold two, a reconnect briefly overlaps the old one: 4 leaves room for both.
   */
  maxPerPeer: z.number().int().min(1).default(4),
  /**
   * Inbound connections open at once from one host (IP address), whatever their peer ids; the
   * gater refuses more before Noise. 0: no cap. One host with many identities otherwise holds
   * as many connections as it likes (libp2p caps only their rate per host).
   */
  maxPerHost: z.number().int().min(0).default(64),
  /** Hosts maxPerHost does not apply to: by default this host's own agents (a local mesh runs many on one address). */
  trustedHosts: z.array(z.string().min(1)).default(['127.0.0.1', '::1']),
  /**
   * Inbound connections open at once, all hosts; the gater refuses more before Noise. 0: no cap.
   * Below maxConnections, so strangers cannot take every place and leave none for this node's own dials.
   */
  maxInbound: z.number().int().min(0).default(200),
  /**
   * An inbound connection older than this may be handed on: a node past three quarters of
   * maxInbound asks the agents connected to it longest to let go (protocols/discovery/hand-off.ts), so a
   * seed keeps taking newcomers. Younger ones are joining (their first full exchange, their
   * dials); an agent still short of connections says no anyway. bench:sim, 1,000 agents through
   * three seeds (newcomers retrying after up to 30 s then): every agent saw every other in 37.6 s
   * with 10 s here, 62.2 s with 30 s.
   */
  handOffAfterMs: z.number().int().min(0).default(10_000),
  /** A dial that takes longer than this fails (COM002). */
  dialTimeoutMs: z.number().int().positive().default(10_000),
  /** Retry of bootstrap peers: first delay, doubled on each failure up to the maximum. */
  bootstrapInitialDelayMs: z.number().int().positive().default(500),
  bootstrapMaxDelayMs: z.number().int().positive().default(discovery.DEFAULT_BOOTSTRAP_MAX_DELAY_MS)
})

export const TracingConfig = z.strictObject({
  /**
   * OTLP/HTTP endpoint for traces, e.g. http://127.0.0.1:4318/v1/traces. Unset (the default),
   * agentmesh exports nothing and only uses the OpenTelemetry API: spans then go wherever an SDK
   * the application registered sends them, or nowhere.
   */
  otlpEndpoint: z.url().optional(),
  /** service.name of the exported spans. */
  serviceName: z.string().min(1).default('agentmesh')
})

/**
 * Failure detection (protocols/discovery/constants.ts says why each default). The timings default to the
 * chosen preset's (node/presets.ts); the schema's own defaults are the `lan` preset.
 */
export const MembershipConfig = z.strictObject({
  /** How often each agent passes its news (joins, suspicions, refutations, leaves) to gossipFanout random neighbours; nothing without news. */
  heartbeatIntervalMs: z.number().int().min(50).default(discovery.DEFAULT_HEARTBEAT_INTERVAL_MS),
  /** Neighbours each gossip round tells. */
  gossipFanout: z.number().int().min(1).max(16).default(discovery.DEFAULT_GOSSIP_FANOUT),
  /** How often each agent probes one of its neighbours directly (round robin), and how long it waits. */
  probeIntervalMs: z.number().int().min(50).default(discovery.DEFAULT_PROBE_INTERVAL_MS),
  probeTimeoutMs: z.number().int().min(10).default(discovery.DEFAULT_PROBE_TIMEOUT_MS),
  /** A neighbour not heard from this long is probed out of turn (the one silent longest, one a round). */
  silenceMs: z.number().int().min(100).default(discovery.DEFAULT_SILENCE_MS),
  /** How often each agent makes a full exchange (a digest, then what differs) with one random neighbour (anti-entropy). */
  syncIntervalMs: z.number().int().min(100).default(discovery.DEFAULT_SYNC_INTERVAL_MS),
  /** Statements one neighbour's full exchanges may make this node handle per syncIntervalMs (at least 30 s); beyond, refused with RATE001. */
  // At least two of the largest full exchanges (4,096 statements each way), or one would never pass.
  syncStatementsPerInterval: z.number().int().min(8_192).default(discovery.DEFAULT_SYNC_STATEMENTS_PER_INTERVAL),
  /** An offline or left member is dropped this long after it went (a tombstone keeps replays of its old statements out). */
  reapAfterMs: z.number().int().min(100).default(discovery.DEFAULT_REAP_AFTER_MS),
  /** A connection to an agent offline this long is pinged, and closed if the ping goes unanswered; 0 never. */
  hangUpAfterMs: z.number().int().min(0).default(discovery.DEFAULT_HANG_UP_AFTER_MS),
  /** How often one agent held offline is dialled (what joins a healed partition); 0 never. */
  reconnectIntervalMs: z.number().int().min(0).default(discovery.DEFAULT_RECONNECT_INTERVAL_MS),
  /**
   * Members held at most; over it, statements of unknown agents from relays are refused (neighbours
   * are always taken). None: DEFAULT_MAX_MEMBERS (16,384) in a closed mesh, DEFAULT_OPEN_MAX_MEMBERS
   * (4,096) in an open one, where anyone may make members up (constants.ts).
   */
  maxMembers: z.number().int().min(16).max(1_000_000).optional(),
  /**
   * A suspicion becomes "offline" after suspicionMaxMs when one agent suspects; each other agent
   * that confirms shortens it, down to suspicionMinMs at confirmationsForMin (memberlist's rule).
   */
  suspicionMinMs: z.number().int().min(100).default(discovery.DEFAULT_SUSPICION_MIN_MS),
  suspicionMaxMs: z.number().int().min(100).default(discovery.DEFAULT_SUSPICION_MAX_MS),
  confirmationsForMin: z.number().int().min(0).max(discovery.MAX_CONFIRMATIONS_FOR_MIN).default(discovery.DEFAULT_CONFIRMATIONS_FOR_MIN)
})

const limits = discovery.RESOURCE_LIMITS
/**
 * What this agent offers to tasks (R-TASK requirements): a task runs here only while the tasks already running leave its requirements free.
 * Defaults: this machine's cores and memory, cut to its cgroup's limits (node/machine.ts); limits: the card's (protocols/discovery/constants.ts).
 */
export const ResourcesConfig = z.strictObject({
  cpuCores: z.number().int().min(0).max(limits.cpuCores).default(() => Math.min(machineCpuCores(), limits.cpuCores)),
  memoryGb: z.number().min(0).max(limits.memoryGb).default(() => Math.min(machineMemoryGb(), limits.memoryGb)),
  storageGb: z.number().min(0).max(limits.storageGb).default(discovery.DEFAULT_STORAGE_GB),
  gpuUnits: z.number().int().min(0).max(limits.gpuUnits).default(discovery.DEFAULT_GPU_UNITS)
})

/** Monitoring (R-MON): how often this agent publishes its metric report; 0 = only on demand. */
export const MonitoringConfig = z.strictObject({
  metricsIntervalMs: z.number().int().min(0).default(monitoring.DEFAULT_METRICS_INTERVAL_MS),
  /**
   * Beyond this many agents in the mesh the interval grows in proportion (at 50 agents and 10:
   * every 50 s), so the mesh publishes no more reports a second than this many agents at
   * `metricsIntervalMs`; 0 = a fixed interval whatever the mesh's size.
   */
  metricsScaleFrom: z.number().int().min(0).default(monitoring.DEFAULT_METRICS_SCALE_FROM),
  /**
   * Which agents hear every agent's report (subscribe to `monitoring.metrics` and keep the latest
   * of each): 'voters' (the coordinator comes from them and its performance report carries them)
   * or 'all'. An agent publishes its periodic report only while someone connected to it hears.
   */
  hearReports: z.enum(['voters', 'all']).default(monitoring.DEFAULT_HEAR_REPORTS)
})

/**
 * The coordinator election and the coordinator's requests (protocols/coordination/constants.ts
 * says why each default). The timings default to the chosen preset's (node/presets.ts).
 */
export const CoordinationConfig = z.strictObject({
  /** May this agent vote in coordinator elections and be elected (all agents by default). */
  eligible: z.boolean().default(true),
  /**
   * Eligible agents that must see each other before the first voter set forms (Consul's
   * bootstrap_expect). Set it above half the agents that start the mesh; later agents join the
   * voter set without it.
   */
  bootstrapExpect: z.number().int().min(1).max(coordination.MAX_BOOTSTRAP_EXPECT).default(coordination.DEFAULT_BOOTSTRAP_EXPECT),
  /** The coordinator's heartbeat to every agent; also renews its lease. */
  heartbeatIntervalMs: z.number().int().min(10).default(coordination.DEFAULT_HEARTBEAT_INTERVAL_MS),
  /** An agent that hears no coordinator for a random time in [min, max] calls an election. */
  electionTimeoutMinMs: z.number().int().min(20).default(coordination.DEFAULT_ELECTION_TIMEOUT_MIN_MS),
  electionTimeoutMaxMs: z.number().int().min(20).default(coordination.DEFAULT_ELECTION_TIMEOUT_MAX_MS),
  /** A voter silent this long is removed from the voter set (never below bootstrapExpect). */
  voterRemoveAfterMs: z.number().int().min(100).default(coordination.DEFAULT_VOTER_REMOVE_AFTER_MS),
  /**
   * Voters at most (Consul and etcd advise 3 or 5); the other eligible agents are non-voters,
   * promoted one at a time when a voter is lost, and learn the coordinator from its announcements.
   */
  maxVoters: z.number().int().min(1).max(coordination.MAX_MAX_VOTERS).default(coordination.DEFAULT_MAX_VOTERS),
  /** How often the coordinator announces itself (term, voters, proof of election) on gossip to every agent. */
  announceIntervalMs: z.number().int().min(10).default(coordination.DEFAULT_ANNOUNCE_INTERVAL_MS),
  /**
   * Where the term, the vote and the voter set are kept across restarts (a vote must never be
   * given twice in one term). Defaults to "<identity>.coordination.json" when an identity file
   * is set; a node with a fresh identity is a new voter and needs none.
   */
  stateFile: z.string().min(1).optional(),
  /** How long the coordinator waits for an agent's answer to a directive or status request. */
  requestTimeoutMs: z.number().int().positive().default(coordination.DEFAULT_REQUEST_TIMEOUT_MS)
})
