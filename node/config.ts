/**
 * The node's configuration: one zod schema, every default beside its key (R-CONF). It is read
 * from a JSON file, then AGENTMESH_* environment variables, then flags, each overriding the one
 * before; unknown keys and bad values fail with a message that names the key and its source.
 */
import { readFile } from 'node:fs/promises'
import { availableParallelism, totalmem } from 'node:os'
import { z } from 'zod'
import { ConfigError } from '../protocols/core/errors.js'

const Multiaddr = z.string().regex(/^\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\//, 'expected a multiaddr such as /ip4/127.0.0.1/tcp/7001')
const HostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8001')

export const RpcConfig = z.strictObject({
  /** Deadline of a request when the caller gives no signal (R-PATTERN). */
  timeoutMs: z.number().int().positive().default(30_000),
  /** Requests in flight per peer and direction before callers wait (R-REL flow control). */
  window: z.number().int().min(1).max(10_000).default(100),
  /** An inbound stream that sends nothing, or leaves a frame half-sent, this long is closed. */
  stallTimeoutMs: z.number().int().positive().default(10_000)
})

export const PubSubConfig = z.strictObject({
  /** Envelopes published within this window share one gossip message (R-REL: 10 ms). */
  batchWindowMs: z.number().int().min(0).max(1_000).default(10),
  /** ... up to this many per gossip message (R-REL: 50). */
  batchMaxEnvelopes: z.number().int().min(1).max(10_000).default(50),
  /** ... and up to this many bytes (gossip drops messages over ~4 MiB silently). */
  batchMaxBytes: z.number().int().min(1024).max(2 * 1024 * 1024).default(256 * 1024),
  /**
   * Gossip messages one topic may cost per second before batches wait to fill further. Every
   * gossip message costs each receiver a fixed few ms whatever its size (measured: ~100/s
   * saturate 5 processes on 2 cores), so a busy publisher sends fuller batches, not more.
   */
  maxBatchesPerSec: z.number().min(1).max(10_000).default(40),
  /** Envelopes held for gossip before publish() waits: the backpressure bound. */
  publishWindow: z.number().int().min(1).default(2_000),
  /** Messages a subscription buffers for a consumer that is not reading; older ones are dropped. */
  subscriptionBuffer: z.number().int().min(1).default(10_000),
  /**
   * Gossipsub's penalty for many peers on one IP. Off (0) by default: a mesh of agents on one
   * host, or behind one NAT, would otherwise score itself out of the gossip mesh (-405 past 10
   * peers) and deliver nothing. Set it negative (e.g. -53) on a public mesh to resist Sybils.
   */
  ipColocationFactorWeight: z.number().max(0).default(0),
  /**
   * Gossipsub's mesh degree D: how many peers each node forwards every message to. Each node
   * receives about D copies of each message, so D sets the price of redundancy; the other
   * degrees follow from it (Dlo = D - 2, Dhi = 2D, Dout = D / 3).
   */
  meshDegree: z.number().int().min(2).max(24).default(6),
  /** Send own messages to every subscriber known, not only mesh peers (faster first hop, more copies). */
  floodPublish: z.boolean().default(true)
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

export const MembershipConfig = z.strictObject({
  /** How often each agent tells the mesh it is alive (gossip, with the suspicions it holds). */
  heartbeatIntervalMs: z.number().int().min(50).default(1_000),
  /** How often each agent probes one other agent directly (round robin), and how long it waits. */
  probeIntervalMs: z.number().int().min(50).default(1_000),
  probeTimeoutMs: z.number().int().min(10).default(500),
  /** An agent not heard from this long is probed at once, out of turn. */
  silenceMs: z.number().int().min(100).default(3_000),
  /**
   * A suspicion becomes "offline" after suspicionMaxMs when one agent suspects; each other agent
   * that confirms shortens it, down to suspicionMinMs at confirmationsForMin (memberlist's rule).
   */
  suspicionMinMs: z.number().int().min(100).default(2_000),
  suspicionMaxMs: z.number().int().min(100).default(6_000),
  confirmationsForMin: z.number().int().min(0).max(64).default(3)
})

/**
 * What this agent offers to tasks (R-TASK requirements): a task runs here only while the tasks
 * already running leave its requirements free. Defaults: this machine's cores and memory.
 */
export const ResourcesConfig = z.strictObject({
  cpuCores: z.number().int().min(0).max(4096).default(() => availableParallelism()),
  memoryGb: z.number().min(0).max(65_536).default(() => Math.floor(totalmem() / 2 ** 30)),
  storageGb: z.number().min(0).max(1_048_576).default(100),
  gpuUnits: z.number().int().min(0).max(1024).default(0)
})

/** Monitoring (R-MON): how often this agent publishes its metric report; 0 = only on demand. */
export const MonitoringConfig = z.strictObject({
  metricsIntervalMs: z.number().int().min(0).default(10_000)
})

/** Model updates (R-LEARN): the chunk size of transfers, the largest model accepted, and the time a fetch may take. */
export const LearningConfig = z.strictObject({
  chunkBytes: z.number().int().min(1024).max(4 * 1024 * 1024).default(256 * 1024),
  maxModelBytes: z.number().int().min(1024).default(512 * 1024 * 1024),
  fetchTimeoutMs: z.number().int().min(100).default(120_000)
})

export const CoordinationConfig = z.strictObject({
  /** May this agent vote in coordinator elections and be elected (all agents by default). */
  eligible: z.boolean().default(true),
  /**
   * Eligible agents that must see each other before the first voter set forms (Consul's
   * bootstrap_expect). Set it above half the agents that start the mesh; later agents join the
   * voter set without it.
   */
  bootstrapExpect: z.number().int().min(1).max(64).default(3),
  /** The coordinator's heartbeat to every agent; also renews its lease. */
  heartbeatIntervalMs: z.number().int().min(10).default(100),
  /** An agent that hears no coordinator for a random time in [min, max] calls an election. */
  electionTimeoutMinMs: z.number().int().min(20).default(400),
  electionTimeoutMaxMs: z.number().int().min(20).default(800),
  /** A voter silent this long is removed from the voter set (never below bootstrapExpect). */
  voterRemoveAfterMs: z.number().int().min(100).default(30_000),
  /**
   * Where the term, the vote and the voter set are kept across restarts (a vote must never be
   * given twice in one term). Defaults to "<identity>.coordination.json" when an identity file
   * is set; a node with a fresh identity is a new voter and needs none.
   */
  stateFile: z.string().min(1).optional(),
  /** How long the coordinator waits for an agent's answer to a directive or status request. */
  requestTimeoutMs: z.number().int().positive().default(5_000)
})

export const ConfigSchema = z.strictObject({
  /** A readable name for this agent; defaults to "agent-" and the end of its peer id. */
  name: z.string().min(1).max(64).optional(),
  /** Agents only see agents of the same mesh (gossip topics and mDNS tags carry it). */
  mesh: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'expected 1-40 letters, digits, "_" or "-"').default('default'),
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
  /** Largest encoded envelope sent or accepted (R-MSG: 1 MiB). */
  maxMessageBytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(1024 * 1024),
  logLevel: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
  /** How often the node tells the mesh its neighbours, for /mesh and the live page; 0 = never. */
  meshAnnounceIntervalMs: z.number().int().min(0).default(5_000),
  rpc: RpcConfig.prefault({}),
  pubsub: PubSubConfig.prefault({}),
  connections: ConnectionsConfig.prefault({}),
  tracing: TracingConfig.prefault({}),
  membership: MembershipConfig.prefault({}),
  coordination: CoordinationConfig.prefault({}),
  resources: ResourcesConfig.prefault({}),
  monitoring: MonitoringConfig.prefault({}),
  learning: LearningConfig.prefault({})
}).refine(c => c.coordination.heartbeatIntervalMs < c.coordination.electionTimeoutMinMs && c.coordination.electionTimeoutMinMs <= c.coordination.electionTimeoutMaxMs, {
  path: ['coordination', 'electionTimeoutMinMs'],
  message: 'expected heartbeatIntervalMs < electionTimeoutMinMs <= electionTimeoutMaxMs'
}).refine(c => c.membership.suspicionMinMs <= c.membership.suspicionMaxMs, {
  path: ['membership', 'suspicionMinMs'],
  message: 'expected suspicionMinMs <= suspicionMaxMs'
})

export type AgentConfig = z.output<typeof ConfigSchema>
export type AgentConfigInput = z.input<typeof ConfigSchema>

type Source = Map<string, string> // config path -> where the value came from

/** Parse a configuration object; a bad one throws a ConfigError naming the key. */
export function parseConfig (input: unknown, sources: Source = new Map()): AgentConfig {
  const r = ConfigSchema.safeParse(input)
  if (r.success) return r.data
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
  for (const [key, schema] of Object.entries(ConfigSchema.shape)) {
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

/** Config values from AGENTMESH_* variables; an unknown AGENTMESH_ variable is an error. */
export function configFromEnv (env: NodeJS.ProcessEnv, sources: Source = new Map()): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const known = new Map(configKeys().map(k => [k.env, k]))
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('AGENTMESH_') || raw === undefined) continue
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

function merge (a: Record<string, any>, b: Record<string, any>): Record<string, any> {
  const out: Record<string, any> = { ...a }
  for (const [k, v] of Object.entries(b)) {
    if (v === undefined) continue
    out[k] = typeof v === 'object' && v !== null && !Array.isArray(v) && typeof out[k] === 'object' && out[k] !== null && !Array.isArray(out[k])
      ? merge(out[k], v)
      : v
  }
  return out
}

/** File, then environment, then flags (highest precedence), parsed into one configuration. */
export async function loadConfig (opts: { file?: string, env?: NodeJS.ProcessEnv, flags?: Record<string, unknown> }): Promise<AgentConfig> {
  const sources: Source = new Map()
  const fromFile = opts.file !== undefined ? await configFromFile(opts.file, sources) : {}
  const fromEnv = configFromEnv(opts.env ?? {}, sources)
  const flags = opts.flags ?? {}
  for (const k of Object.keys(flags)) if (flags[k] !== undefined) sources.set(k, 'flags')
  return parseConfig(merge(merge(fromFile, fromEnv), flags), sources)
}
