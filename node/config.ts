/**
 * The node's configuration: one zod schema (R-CONF). It is read from a JSON file, then
 * AGENTMESH_* environment variables, then flags, each overriding the one before; unknown keys
 * and bad values fail with a message that names the key and its source.
 *
 * Each default is defined once, with its reason, in the constants file of the protocol it
 * belongs to (protocols/<name>/constants.ts, discovery/constants.ts); the schema imports it.
 * Only the node's own settings (connections, tracing, identity, ...) have their defaults here.
 * The timings of failure detection and election, and the security mode, come from a named
 * preset (node/presets.ts) unless given explicitly.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import * as coordination from '../protocols/coordination/constants.js'
import { ConfigError } from '../protocols/core/errors.js'
import * as envelope from '../protocols/envelope/constants.js'
import * as monitoring from '../protocols/monitoring/constants.js'
import * as pubsub from '../protocols/pubsub/constants.js'
import * as discovery from '../discovery/constants.js'
import { machineCpuCores, machineMemoryGb } from './machine.js'
import { DEFAULT_PRESET, PRESET_NAMES, presets, type PresetName } from './presets.js'
import { SecurityConfig } from './security-config.js'
import { RpcConfig } from './rpc-config.js'
import { LearningConfig, NegotiationConfig } from './conversation-config.js'

export { presets, PRESET_NAMES, type Preset, type PresetName } from './presets.js'

const Multiaddr = z.string()
  .regex(/^\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\//, 'expected a multiaddr such as /ip4/127.0.0.1/tcp/7001')
const HostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8001')

/** Batched gossip (protocols/pubsub/constants.ts says why each default). */
export const PubSubConfig = z.strictObject({
  /** Envelopes published within this window share one gossip message. */
  batchWindowMs: z.number().int().min(0).max(1_000).default(pubsub.DEFAULT_BATCH_WINDOW_MS),
  /** ... up to this many per gossip message. */
  batchMaxEnvelopes: z.number().int().min(1).max(10_000).default(pubsub.DEFAULT_BATCH_MAX_ENVELOPES),
  /** ... and up to this many bytes. */
  batchMaxBytes: z.number().int().min(1024).max(pubsub.MAX_BATCH_BYTES).default(pubsub.DEFAULT_BATCH_MAX_BYTES),
  /** Gossip messages one topic may cost per second before batches wait to fill further. */
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
  floodSeconds: z.number().int().min(0).max(3_600).default(pubsub.DEFAULT_GOSSIP_FLOOD_SECONDS)
})

export const ConnectionsConfig = z.strictObject({
  /** Peers each node tries to stay connected to, dialling ones its peers tell it of. */
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
  /** A dial that takes longer than this fails (COM002). */
  dialTimeoutMs: z.number().int().positive().default(10_000),
  /** Retry of bootstrap peers: first delay, doubled on each failure up to the maximum. */
  bootstrapInitialDelayMs: z.number().int().positive().default(500),
  bootstrapMaxDelayMs: z.number().int().positive().default(30_000)
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
 * Failure detection (discovery/constants.ts says why each default). The timings default to the
 * chosen preset's (node/presets.ts); the schema's own defaults are the `lan` preset.
 */
export const MembershipConfig = z.strictObject({
  /** How often each agent tells the mesh it is alive (gossip, with the suspicions it holds). */
  heartbeatIntervalMs: z.number().int().min(50).default(discovery.DEFAULT_HEARTBEAT_INTERVAL_MS),
  /** How often each agent probes one other agent directly (round robin), and how long it waits. */
  probeIntervalMs: z.number().int().min(50).default(discovery.DEFAULT_PROBE_INTERVAL_MS),
  probeTimeoutMs: z.number().int().min(10).default(discovery.DEFAULT_PROBE_TIMEOUT_MS),
  /** An agent not heard from this long is probed at once, out of turn. */
  silenceMs: z.number().int().min(100).default(discovery.DEFAULT_SILENCE_MS),
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
 * Defaults: this machine's cores and memory, cut to its cgroup's limits (node/machine.ts); limits: the card's (discovery/constants.ts).
 */
export const ResourcesConfig = z.strictObject({
  cpuCores: z.number().int().min(0).max(limits.cpuCores).default(() => Math.min(machineCpuCores(), limits.cpuCores)),
  memoryGb: z.number().min(0).max(limits.memoryGb).default(() => Math.min(machineMemoryGb(), limits.memoryGb)),
  storageGb: z.number().min(0).max(limits.storageGb).default(discovery.DEFAULT_STORAGE_GB),
  gpuUnits: z.number().int().min(0).max(limits.gpuUnits).default(discovery.DEFAULT_GPU_UNITS)
})

/** Monitoring (R-MON): how often this agent publishes its metric report; 0 = only on demand. */
export const MonitoringConfig = z.strictObject({
  metricsIntervalMs: z.number().int().min(0).default(monitoring.DEFAULT_METRICS_INTERVAL_MS)
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
   * Where the term, the vote and the voter set are kept across restarts (a vote must never be
   * given twice in one term). Defaults to "<identity>.coordination.json" when an identity file
   * is set; a node with a fresh identity is a new voter and needs none.
   */
  stateFile: z.string().min(1).optional(),
  /** How long the coordinator waits for an agent's answer to a directive or status request. */
  requestTimeoutMs: z.number().int().positive().default(coordination.DEFAULT_REQUEST_TIMEOUT_MS)
})

/** The configuration as given, before the preset fills the timings not given. */
export const ConfigObject = z.strictObject({
  /**
   * Named timings and security mode (node/presets.ts): 'local' (one host, tests; open), 'lan'
   * (the defaults; closed), 'wan' (real networks; closed). A value given explicitly wins over the preset's.
   */
  preset: z.enum(PRESET_NAMES).default(DEFAULT_PRESET),
  /** A readable name for this agent; defaults to "agent-" and the end of its peer id. */
  name: z.string().min(1).max(64).optional(),
  /** Agents only see agents of the same mesh (gossip topics and mDNS tags carry it). */
  mesh: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'expected 1-40 letters, digits, "_" or "-"')
    .default('default'),
  /**
   * A client joins the mesh to call agents and publish or read events, not as an agent: it never
   * votes or stands for coordinator, is offered no work, is neither listed by peers() nor
   * announced as joined, and sends no heartbeats or metric reports. The CLI's one-shot commands
   * (request, pub, sub) run as clients. Claiming it only gives up rights, so peers believe it.
   */
  client: z.boolean().default(false),
  /** Roles announced in the agent card (coordinator, managed_agent, resource_manager, ...). */
  roles: z.array(z.string().min(1).max(64)).max(32).default(['agent']),
  /** Capabilities announced in the agent card, matched by findAgents(). */
  capabilities: z.array(z.string().min(1).max(128)).max(256).default([]),
  /** Path of the identity file (created, mode 0600, if missing); none means a fresh identity. */
  identity: z.string().min(1).optional(),
  /** Addresses to listen on; add a /ws address for WebSockets. */
  listen: z.array(Multiaddr).default(['/ip4/0.0.0.0/tcp/0']),
  /** Addresses to announce instead of the listening ones (behind NAT, in containers). */
  announce: z.array(Multiaddr).default([]),
  /** Peers to join through: multiaddrs ending in /p2p/<peer id>, retried with backoff. */
  bootstrap: z.array(Multiaddr).default([]),
  /** Find and dial peers of the same mesh on the local network by multicast DNS. */
  mdns: z.boolean().default(true),
  /** host:port of the HTTP debug endpoint; none means no endpoint. */
  debug: HostPort.optional(),
  /** Bearer token the debug endpoint requires; mandatory when it binds beyond loopback. */
  debugToken: z.string().min(16).optional(),
  /** Largest encoded envelope sent or accepted (R-MSG: 1 MiB; protocols/envelope/constants.ts). */
  maxMessageBytes: z.number().int().min(1024).max(envelope.MAX_MAX_MESSAGE_BYTES).default(envelope.DEFAULT_MAX_MESSAGE_BYTES),
  logLevel: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
  /** How often the node tells the mesh its neighbours, for /mesh and the live page; 0 = never. */
  meshAnnounceIntervalMs: z.number().int().min(0).default(discovery.DEFAULT_MESH_ANNOUNCE_INTERVAL_MS),
  rpc: RpcConfig.prefault({}),
  pubsub: PubSubConfig.prefault({}),
  connections: ConnectionsConfig.prefault({}),
  tracing: TracingConfig.prefault({}),
  membership: MembershipConfig.prefault({}),
  coordination: CoordinationConfig.prefault({}),
  resources: ResourcesConfig.prefault({}),
  monitoring: MonitoringConfig.prefault({}),
  negotiation: NegotiationConfig.prefault({}),
  learning: LearningConfig.prefault({}),
  security: SecurityConfig.prefault({})
}).refine(c => {
  const t = c.coordination
  return t.heartbeatIntervalMs < t.electionTimeoutMinMs && t.electionTimeoutMinMs <= t.electionTimeoutMaxMs
}, {
  path: ['coordination', 'electionTimeoutMinMs'],
  message: 'expected heartbeatIntervalMs < electionTimeoutMinMs <= electionTimeoutMaxMs'
}).refine(c => c.membership.suspicionMinMs <= c.membership.suspicionMaxMs, {
  path: ['membership', 'suspicionMinMs'],
  message: 'expected suspicionMinMs <= suspicionMaxMs'
})

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/** The preset an input names, or undefined when it names none that exists (the schema says so). */
function presetOf (input: Record<string, unknown>): PresetName | undefined {
  const name = input.preset ?? DEFAULT_PRESET
  return (PRESET_NAMES as readonly unknown[]).includes(name) ? name as PresetName : undefined
}

/**
 * The input with its preset's timings filled in where it gives none (explicit values win). A
 * parsed configuration holds every timing, so parsing it again changes nothing.
 */
function withPreset (input: unknown): unknown {
  if (!isRecord(input)) return input
  const name = presetOf(input)
  return name === undefined ? input : merge(presets[name] as unknown as Record<string, unknown>, input)
}

/** The schema that parses a configuration: the preset's timings applied, then every default. */
export const ConfigSchema = z.preprocess(withPreset, ConfigObject)

export type AgentConfig = z.output<typeof ConfigObject>
export type AgentConfigInput = z.input<typeof ConfigObject>

type Source = Map<string, string> // config path -> where the value came from

/** Marks the keys the preset fills (the input gives no value for them) as coming from it. */
function markPreset (input: unknown, sources: Source): void {
  if (!isRecord(input)) return
  const name = presetOf(input)
  if (name === undefined) return
  for (const [group, values] of Object.entries(presets[name])) {
    const given = input[group]
    for (const key of Object.keys(values)) {
      const path = `${group}.${key}`
      if ((!isRecord(given) || given[key] === undefined) && !sources.has(path)) sources.set(path, `preset ${name}`)
    }
  }
}

/** Parse a configuration object; a bad one throws a ConfigError naming the key. */
export function parseConfig (input: unknown, sources: Source = new Map()): AgentConfig {
  const r = ConfigSchema.safeParse(input)
  if (r.success) return r.data
  markPreset(input, sources)
  const lines = r.error.issues.map(issue => {
    const keys = issue.code === 'unrecognized_keys' ? issue.keys.map(k => [...issue.path, k].join('.')) : [issue.path.join('.')]
    return keys.map(key => {
      const from = sources.get(key) ?? sources.get(key.split('.').slice(0, -1).join('.'))
      const what = issue.code === 'unrecognized_keys' ? 'unknown key' : issue.message
      return `${key === '' ? '(config)' : key}: ${what}${from !== undefined ? ` (from ${from})` : ''}`
    }).join('\n  ')
  })
  throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`)
}

// --- sources: file, environment, flags ------------------------------------------------------

type Leaf = 'string' | 'number' | 'boolean' | 'array' | 'enum'

function unwrap (s: z.ZodType): z.ZodType {
  let cur: any = s
  while (['optional', 'default', 'prefault', 'nullable'].includes(cur.def.type)) cur = cur.def.innerType
  return cur
}

function leafKind (s: z.ZodType): Leaf {
  const t = (unwrap(s) as any).def.type
  return (['number', 'boolean', 'array', 'enum'].includes(t) ? t : 'string') as Leaf
}

function envName (path: string[]): string {
  return 'AGENTMESH_' + path.map(p => p.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase()).join('_')
}

/** Every config path with its environment variable and leaf kind, derived from the schema. */
export function configKeys (): Array<{ path: string[], env: string, kind: Leaf }> {
  const out: Array<{ path: string[], env: string, kind: Leaf }> = []
  for (const [key, schema] of Object.entries(ConfigObject.shape)) {
    const inner: any = unwrap(schema as z.ZodType)
    if (inner.def.type === 'object') {
      for (const [sub, s] of Object.entries(inner.shape)) out.push({ path: [key, sub], env: envName([key, sub]), kind: leafKind(s as z.ZodType) })
    } else {
      out.push({ path: [key], env: envName([key]), kind: leafKind(schema as z.ZodType) })
    }
  }
  return out
}

function coerce (raw: string, kind: Leaf): unknown {
  switch (kind) {
    case 'number': { const n = Number(raw); return raw.trim() === '' || Number.isNaN(n) ? raw : n }
    case 'boolean': return ['true', '1', 'yes'].includes(raw.toLowerCase()) ? true : ['false', '0', 'no'].includes(raw.toLowerCase()) ? false : raw
    case 'array': return raw.split(',').map(s => s.trim()).filter(s => s.length > 0)
    default: return raw
  }
}

function setPath (obj: Record<string, any>, path: string[], value: unknown): void {
  let cur = obj
  for (const p of path.slice(0, -1)) cur = (cur[p] ??= {})
  cur[path[path.length - 1]] = value
}

/**
 * Variables the test suite reads (AGENTMESH_TEST_REQUIRE, ...): never config keys, so a shell
 * that runs the tests can also run a node.
 */
const RESERVED_ENV_PREFIX = 'AGENTMESH_TEST_'

/** Config values from AGENTMESH_* variables; an unknown AGENTMESH_ variable is an error. */
export function configFromEnv (env: NodeJS.ProcessEnv, sources: Source = new Map()): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const known = new Map(configKeys().map(k => [k.env, k]))
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('AGENTMESH_') || name.startsWith(RESERVED_ENV_PREFIX) || raw === undefined) continue
    const k = known.get(name)
    if (k === undefined) throw new ConfigError(`unknown environment variable ${name} (known: ${[...known.keys()].join(', ')})`)
    setPath(out, k.path, coerce(raw, k.kind))
    sources.set(k.path.join('.'), `environment ${name}`)
  }
  return out
}

export async function configFromFile (path: string, sources: Source = new Map()): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`config file ${path} must hold a JSON object`)
  const mark = (v: Record<string, unknown>, prefix: string[]): void => {
    for (const [k, x] of Object.entries(v)) {
      sources.set([...prefix, k].join('.'), `file ${path}`)
      if (typeof x === 'object' && x !== null && !Array.isArray(x)) mark(x as Record<string, unknown>, [...prefix, k])
    }
  }
  mark(value as Record<string, unknown>, [])
  return value as Record<string, unknown>
}

/** b over a, group by group; undefined in b leaves a's value. Keys are defined, not assigned: `out.__proto__ = v` (a file's
 *  "__proto__" key) would set out's prototype, whose values the schema would read past its unknown-key check. */
function merge (a: Record<string, any>, b: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue
    const value = isRecord(v) && Object.hasOwn(out, k) && isRecord(out[k]) ? merge(out[k], v) : v
    Object.defineProperty(out, k, { value, enumerable: true, writable: true, configurable: true })
  }
  return out
}

/** File, then environment, then flags (highest precedence), parsed into one configuration. */
/** `defaults`: values under the file's (a command's own defaults, such as a client's log level). */
export async function loadConfig (opts: {
  defaults?: Record<string, unknown>, file?: string, env?: NodeJS.ProcessEnv, flags?: Record<string, unknown>
}): Promise<AgentConfig> {
  const sources: Source = new Map()
  const fromFile = opts.file !== undefined ? await configFromFile(opts.file, sources) : {}
  const fromEnv = configFromEnv(opts.env ?? {}, sources)
  const flags = opts.flags ?? {}
  for (const k of Object.keys(flags)) if (flags[k] !== undefined) sources.set(k, 'flags')
  return parseConfig(merge(merge(merge(opts.defaults ?? {}, fromFile), fromEnv), flags), sources)
}
