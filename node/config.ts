/**
 * The node's configuration: one zod schema (R-CONF). It is read from a JSON file, then
 * AGENTMESH_* environment variables, then flags, each overriding the one before; unknown keys
 * and bad values fail with a message that names the key and its source.
 *
 * Each default is defined once, with its reason, in the constants file of the protocol it
 * belongs to (protocols/<name>/constants.ts, protocols/discovery/constants.ts); the schema imports it.
 * Only the node's own settings (connections, tracing, identity, ...) have their defaults here.
 * The timings of failure detection and election, and the security mode, come from a named
 * preset (node/presets.ts) unless given explicitly.
 */
import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { ConfigError } from '../protocols/core/errors.js'
import { nearest } from '../protocols/core/edit-distance.js'
import * as envelope from '../protocols/envelope/constants.js'
import * as discovery from '../protocols/discovery/constants.js'
import {
  ConnectionsConfig, CoordinationConfig, MembershipConfig, MonitoringConfig, PubSubConfig, ResourcesConfig, TracingConfig
} from './config-groups.js'
import { BreakerConfig, DeadLettersConfig, DeliveryConfig, RetryConfig } from './delivery-config.js'
import { DEFAULT_PRESET, PRESET_NAMES, presets, type PresetName } from './presets.js'
import { SecurityConfig } from './security-config.js'
import { RpcConfig } from './rpc-config.js'
import { LearningConfig, NegotiationConfig } from './conversation-config.js'
import { GatewayConfig, MIN_TOKEN_CHARS } from './gateway-config.js'

export { presets, PRESET_NAMES, type Preset, type PresetName } from './presets.js'
export * from './config-groups.js'
export * from './delivery-config.js'

const Multiaddr = z.string()
  .regex(/^\/(ip4|ip6|dns|dns4|dns6|dnsaddr)\//, 'expected a multiaddr such as /ip4/127.0.0.1/tcp/7001')
  // A placeholder copied from the docs as it is (`/p2p/<id>`): said plainly, not as a multibase decoder's error.
  .refine(a => !/<[^>]*>/.test(a), 'replace the <...> placeholder with the value it stands for (a peer id: the one the node prints at start, or leave /p2p/... out)')
const HostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:8001')

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
  /**
   * The node's data directory: everything it must not forget across a restart (identity key,
   * election state, its replica of the task table, outbox, dedup window, dead letters), in one
   * embedded store (docs/durability.md). None (the library's default): all of it in memory. The
   * CLI defaults it to ~/.agentmesh/<name>.
   */
  dataDir: z.string().min(1).optional(),
  /** Path of the identity file (created, mode 0600, if missing); none means a fresh identity, or <dataDir>/identity.key. */
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
  debugToken: z.string().min(MIN_TOKEN_CHARS).optional(),
  /** Largest encoded envelope sent or accepted (R-MSG: 1 MiB; protocols/envelope/constants.ts). */
  maxMessageBytes: z.number().int().min(1024).max(envelope.MAX_MAX_MESSAGE_BYTES).default(envelope.DEFAULT_MAX_MESSAGE_BYTES),
  logLevel: z.enum(['silent', 'error', 'warn', 'info', 'debug']).default('info'),
  /** How logs are written on stderr: `pretty` lines for a person, `json` (one object a line) for a collector; `auto`: pretty on a terminal, else json. */
  logFormat: z.enum(['auto', 'pretty', 'json']).default('auto'),
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
  security: SecurityConfig.prefault({}),
  delivery: DeliveryConfig.prefault({}),
  retry: RetryConfig.prefault({}),
  breaker: BreakerConfig.prefault({}),
  deadLetters: DeadLettersConfig.prefault({}),
  /** REST and WebSocket (and the other bindings) for clients that are not libp2p nodes (surfaces/gateway). */
  gateway: GatewayConfig.prefault({})
}).refine(c => {
  const t = c.coordination
  return t.heartbeatIntervalMs < t.electionTimeoutMinMs && t.electionTimeoutMinMs <= t.electionTimeoutMaxMs
}, {
  path: ['coordination', 'electionTimeoutMinMs'],
  message: 'expected heartbeatIntervalMs < electionTimeoutMinMs <= electionTimeoutMaxMs'
}).refine(c => c.retry.initialDelayMs <= c.retry.maxDelayMs, {
  path: ['retry', 'initialDelayMs'],
  message: 'expected initialDelayMs <= maxDelayMs'
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

/** Members a table holds at most: `membership.maxMembers`, or the security mode's default (constants.ts DEFAULT_MAX_MEMBERS, DEFAULT_OPEN_MAX_MEMBERS). */
export function maxMembersOf (config: Pick<AgentConfig, 'membership' | 'security'>): number {
  return config.membership.maxMembers ?? (config.security.mode === 'open' ? discovery.DEFAULT_OPEN_MAX_MEMBERS : discovery.DEFAULT_MAX_MEMBERS)
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
/** Variables read by the CLI's launcher (surfaces/cli/main.ts), before any config: not config keys. */
const LAUNCHER_ENV = new Set(['AGENTMESH_CLI_MODULES'])

/** Config values from AGENTMESH_* variables; an unknown AGENTMESH_ variable is an error. */
export function configFromEnv (env: NodeJS.ProcessEnv, sources: Source = new Map()): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  const known = new Map(configKeys().map(k => [k.env, k]))
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('AGENTMESH_') || name.startsWith(RESERVED_ENV_PREFIX) || LAUNCHER_ENV.has(name) || raw === undefined) continue
    const k = known.get(name)
    if (k === undefined) throw new ConfigError(unknownVariable(name, [...known.keys()]))
    setPath(out, k.path, coerce(raw, k.kind))
    sources.set(k.path.join('.'), `environment ${name}`)
  }
  return out
}

/**
 * The nearest known names, not all of them (over 4,000 characters, which hid the one meant: issue 44),
 * and where the whole list is.
 */
function unknownVariable (name: string, known: string[]): string {
  const prefix = 'AGENTMESH_'
  const guesses = nearest(name.slice(prefix.length), known.map(k => k.slice(prefix.length))).map(k => prefix + k)
  return `unknown environment variable ${name}${guesses.length > 0 ? `: did you mean ${guesses.join(', ')}?` : '.'} ` +
    `Each config key has one (rpc.timeoutMs is ${envName(['rpc', 'timeoutMs'])}), listed in README.md "Configuration"; unset ${name} or rename it`
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
