/**
 * What the node counts about itself, named as R-MON names it. The counters are plain labelled
 * numbers on the hot path (tests and /health read them); the Prometheus registry reads them only
 * when scraped, so a node nobody scrapes pays nothing for its metrics. Each node has its own
 * registry: several nodes may share a process.
 */
import { Counter, Gauge, Registry } from 'prom-client'
import { SeriesHistogram } from './series-histogram.js'
import { MessageLog } from './message-log.js'
import type { MessageMetrics } from '../protocols/envelope/metrics.js'

export type Labels = Record<string, string>

/** Counter names with their help text and label names: one place, read by the exposition. */
const COUNTERS = {
  messages_total: { help: 'Messages sent and received, by direction (in|out), type and status (ok|invalid|expired|error|dropped|late|unknown_command|not_admitted|forbidden|rate_limited|sealed)', labels: ['direction', 'type', 'status'] },
  rpc_errors_total: { help: 'Error answers and stream-level protocol errors on /agentmesh/rpc/1.0.0, by error code and class', labels: ['code', 'reason'] },
  gossip_rejected_total: { help: 'Gossip messages rejected by validation (the sender is penalised), by reason', labels: ['reason'] },
  rpc_rate_limited_total: { help: 'Requests refused unrun (RATE001) because their sender was over its per-peer limit, by peer (the first 64 limited peers by id, then "other") and limit (requests|bytes|internal|internal_bytes, or member_sync: full member exchanges over their budget)', labels: ['peer', 'limit'] },
  gossip_rate_limited_total: { help: 'Gossip messages refused (rejected when sent directly, ignored when relayed) because their publisher was over pubsub.publishPerSec, by publisher (the first 64 limited peers by id, then "other")', labels: ['peer'] },
  gossip_rpcs_dropped_total: { help: 'Gossipsub RPCs dropped unread (before decoding or signature checks), by peer (as in gossip_rate_limited_total) and reason (held: it sent gossip over its limit and is still over it|graylisted: its gossipsub score is under the graylist threshold|cooling: in its cool-down, being disconnected)', labels: ['peer', 'reason'] },
  broadcast_batches_total: { help: 'Batches of published envelopes, by direction (in|out) and way (direct: written on the fan-out streams|gossip)', labels: ['direction', 'via'] },
  gossip_flooders_disconnected_total: { help: 'Publishers disconnected and refused for the cool-down after staying over their gossip limit for pubsub.floodSeconds, by peer (as in gossip_rate_limited_total)', labels: ['peer'] },
  rpc_flooders_disconnected_total: { help: 'Peers disconnected and refused for the cool-down after staying over their rpc limits for rpc.floodSeconds, by peer (as in rpc_rate_limited_total)', labels: ['peer'] },
  stream_rate_limited_total: { help: 'Conversations (negotiation) and model fetches (learning) refused because their peer opened too many per second or held too many open, by peer (as in rpc_rate_limited_total) and protocol', labels: ['peer', 'protocol'] },
  admission_decisions_total: { help: 'Admission decisions in a closed mesh, by result (admitted|refused|expelled: its credential revoked while connected|expired: its credential expired while connected) and reason (credential; no_credential|timeout: none shown in security.admissionTimeoutMs|revoked|expired|invalid: malformed, another mesh, owner or peer, or a bad signature|left: gone during its card exchange)', labels: ['result', 'reason'] },
  connections_refused_total: { help: 'Connections refused by the connection gater, by reason (per_host: connections.maxPerHost|inbound: connections.maxInbound, both before Noise|per_peer: connections.maxPerPeer|cooldown: a flooder in its cool-down|revoked: a peer the revocation list names, after Noise or at this node\'s own dial|mesh_key: an inbound handshake under no key of the keyring, before Noise)', labels: ['reason'] },
  stream_flooders_disconnected_total: { help: 'Peers hung up on and refused for rpc.cooldownMs after their negotiation conversations or model fetches were refused in every second for rpc.floodSeconds, by peer (as in rpc_rate_limited_total) and protocol', labels: ['peer', 'protocol'] },
  streams_aborted_total: { help: 'Inbound streams closed by this node, by protocol and reason', labels: ['protocol', 'reason'] },
  peers_joined_total: { help: 'Agents that joined this node\'s membership view', labels: [] },
  peers_left_total: { help: 'Agents that left this node\'s membership view', labels: [] },
  view_messages_total: { help: 'HyParView messages (connections.graph views, protocols/discovery/view-links.ts), by what (in|out|dialled: sent to a peer not connected, a connection opened for it|failed: unanswered or refused|unknown: refused, its sender not known in time|idle-closed: connections outside the active view closed as idle) and message type', labels: ['what', 'type'] },
  hand_offs_total: { help: 'Inbound connections handed on (protocols/discovery/hand-off.ts), by what: asked (this node asked an agent to let go), given (one agreed and was closed), taken (this node agreed), refused (this node said no)', labels: ['what'] },
  member_statements_total: { help: 'Member statements this node signed (its own, when it says something new) and checked (others\', new to it)', labels: ['kind'] },
  member_changes_total: { help: 'Failure-detection state changes of other agents, by new state (alive|suspect|offline|left)', labels: ['state'] },
  coordination_rejected_total: { help: 'Election and coordination messages refused, by message and reason (stale-term, not-a-voter, forged-leader, not-coordinator, unproven, bad-certificate, term-too-far, bad-signature, malformed; task reads and controls by no party: TSK007)', labels: ['message', 'reason'] },
  coordinator_changes_total: { help: 'Times this node saw a new coordinator (or none) take office', labels: [] },
  housekeeping_messages_total: { help: 'The mesh\'s own periodic traffic (member gossip and sync, probes, election heartbeats and votes, coordinator announcements), by subject, direction and type; kept out of messages_total and the message log so they show the agents\' traffic', labels: ['subject', 'direction', 'type'] },
  tasks_finished_total: { help: 'Tasks that ended while this node was the coordinator, by final status (completed|failed|cancelled)', labels: ['status'] },
  resource_denied_total: { help: 'resource.allocate requests this node, as the resource manager, answered with resource.denied', labels: [] },
  negotiations_total: { help: 'Negotiations this node took part in, by kind (contract_net|bilateral), role (initiator|participant) and outcome', labels: ['kind', 'role', 'outcome'] },
  alerts_total: { help: 'Alerts this node published on monitoring.alerts.<severity>', labels: ['severity'] },
  model_updates_total: { help: 'Model updates this node received, by outcome (applied|stale|hash_mismatch|failed)', labels: ['outcome'] },
  directives_total: { help: 'Coordination directives, by role (sent|received), action and outcome (ack|reject|error|completed|failed)', labels: ['role', 'action', 'outcome'] },
  audit_events_total: { help: 'Audit events recorded, by kind (admission.refused, command.forbidden, ...); a flood counts here in full and writes one line a second', labels: ['kind'] },
  delivery_retries_total: { help: 'Attempts of at-least-once and exactly-once messages that failed and will be retried, by the failure\'s code (COM001|COM002|RATE001)', labels: ['code'] },
  delivery_outcomes_total: { help: 'Reliable messages ended, by guarantee and outcome (delivered|failed: answered with an error|given_up: retries ran out, a dead letter)', labels: ['guarantee', 'outcome'] },
  delivery_given_up_total: { help: 'Messages handed to dead letters, by side (sender|receiver), reason and kept (yes|no: dead letters off, logged only)', labels: ['side', 'reason', 'kept'] },
  dedup_total: { help: 'Exactly-once messages received, by result (first|duplicate: answered from the dedup window|conflict: same key, other body, MSG001)', labels: ['result'] },
  dedup_evicted_total: { help: 'Idempotency keys forgotten, by reason (age: past delivery.dedupWindowMs|count: past delivery.dedupMaxEntries)', labels: ['reason'] },
  delivery_gaps_total: { help: 'Sequence gaps of reliable direct messages open past delivery.gapTimeoutMs, after which the later messages ran without the missing ones (initial: at a stream\'s start, a receiver that joined late)', labels: ['initial'] },
  breaker_transitions_total: { help: 'Circuit breaker state changes, by new state (open|half-open|closed)', labels: ['to'] },
  dead_letters_total: { help: 'Messages reliable delivery gave up on, by reason (retries_exhausted|expired|handler_failed|refused|conflict|circuit_open) and kept (true; false while deadLetters.enabled is off: logged only)', labels: ['reason', 'kept'] },
  dead_letters_evicted_total: { help: 'Dead letters removed by a bound, by bound (entries: past deadLetters.maxEntries, oldest first; age: older than deadLetters.maxAgeMs)', labels: ['bound'] },
  audit_lines_dropped_total: { help: 'Audit lines left out of the audit log file because the disk did not keep up (still kept in memory for /audit)', labels: [] },
  gateway_requests_total: { help: 'Gateway requests answered, by route pattern (GET /v1/agents/{ref}, WS publish for a WebSocket operation; unmatched, refused) and HTTP status (499: the client went away)', labels: ['route', 'status'] },
  gateway_ws_dropped_total: { help: 'Gateway WebSocket clients dropped, by reason (slow_client: more than gateway.wsMaxBufferedBytes unread; ping_timeout: no pong to the last ping)', labels: ['reason'] }
} as const

export type CounterName = keyof typeof COUNTERS

/**
 * Subjects of the mesh's own periodic traffic. A follower answers ten election heartbeats a
 * second: counted as messages, they would drown the agents' own traffic in messages_total, in
 * the latency histograms and on the live page.
 */
const HOUSEKEEPING = new Set([
  '$agentmesh/members', '$agentmesh/probe', '$agentmesh/member-gossip', '$agentmesh/member-sync', '$agentmesh/member-digest', '$agentmesh/member-sums', '$agentmesh/member-cells', '$agentmesh/member-patch', '$agentmesh/hand-off', '$agentmesh/election', '$agentmesh/coordinator', '$agentmesh/mesh'
])

export function isHousekeeping (subject: string | undefined): boolean {
  return subject !== undefined && HOUSEKEEPING.has(subject)
}

/** A counter's series: its labels, in the declared order, and its count. */
interface Series { labels: Labels, value: number }

/**
 * One counter's series, found by their label values in the order COUNTERS declares the labels,
 * one map a label (a label not given stands apart from every value): no key is built per count.
 * Joining the values into one key string was 1-4% of a busy receiver's CPU (paced fan-out
 * profiles, issue 46), and sorting the label names before it ~1%; prom-client takes no label
 * it was not told of, so the declared ones are all. `all`: every series, in the order made.
 */
interface CounterSeries { names: readonly string[], root: Map<string, unknown>, all: Series[] }

const NOT_GIVEN = '\u0001'

function valueOf (labels: Labels, name: string): string {
  const v = labels[name] as unknown
  return v === undefined ? NOT_GIVEN : typeof v === 'string' ? v : String(v)
}

export class Stats implements MessageMetrics {
  private readonly counters = new Map<CounterName, CounterSeries>()
  /** The Prometheus registry of this node: its counters, latencies, and libp2p's own metrics. */
  readonly registry = new Registry()
  /** Recent messages for the debug endpoint (/messages, /events). */
  readonly messages = new MessageLog()
  private readonly latency: SeriesHistogram<'operation' | 'type'>
  private connections: () => number = () => 0

  constructor () {
    for (const [name, spec] of Object.entries(COUNTERS) as Array<[CounterName, typeof COUNTERS[CounterName]]>) {
      const read = (): Iterable<Series> => this.counters.get(name)?.all ?? []
      // eslint-disable-next-line no-new
      new Counter({
        name,
        help: spec.help,
        labelNames: [...spec.labels],
        registers: [this.registry],
        collect () {
          this.reset()
          for (const s of read()) this.inc(s.labels, s.value)
        }
      })
    }
    const connections = (): number => this.connections()
    // eslint-disable-next-line no-new
    new Gauge({
      name: 'active_connections',
      help: 'Open libp2p connections of this node',
      registers: [this.registry],
      collect () { this.set(connections()) }
    })
    this.latency = new SeriesHistogram({
      name: 'message_latency_seconds',
      help: 'Latency by operation: request (caller, send to answer), handle (handler run time), deliver (publish to receipt, sender clock)',
      labelNames: ['operation', 'type'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
    }).register(this.registry)
  }

  inc (name: CounterName, labels: Labels = {}, by = 1): void {
    let counter = this.counters.get(name)
    if (counter === undefined) { counter = { names: COUNTERS[name].labels, root: new Map(), all: [] }; this.counters.set(name, counter) }
    const { names } = counter
    let level = counter.root
    for (let i = 0; i < names.length - 1; i++) {
      const v = valueOf(labels, names[i])
      let next = level.get(v) as Map<string, unknown> | undefined
      if (next === undefined) { next = new Map(); level.set(v, next) }
      level = next
    }
    // A counter without labels keeps its one series under NOT_GIVEN.
    const v = names.length === 0 ? NOT_GIVEN : valueOf(labels, names[names.length - 1])
    const entry = level.get(v) as Series | undefined
    if (entry !== undefined) { entry.value += by; return }
    // Its labels in the declared order, as the scrape shows them, whatever order the first count gave.
    const ordered: Labels = {}
    for (const n of names) if (labels[n] !== undefined) ordered[n] = valueOf(labels, n)
    const made = { labels: ordered, value: by }
    level.set(v, made)
    counter.all.push(made)
  }

  /**
   * Counts a message that was handled normally: in messages_total (and the caller goes on to
   * log and time it), or for housekeeping subjects in housekeeping_messages_total only. Returns
   * whether the message is the agents' own traffic.
   */
  message (subject: string | undefined, labels: { direction: string, type: string, status: string }): boolean {
    if (isHousekeeping(subject)) {
      this.inc('housekeeping_messages_total', { subject: subject as string, direction: labels.direction, type: labels.type })
      return false
    }
    this.inc('messages_total', labels)
    return true
  }

  observe (operation: 'request' | 'handle' | 'deliver', type: string, seconds: number): void {
    if (seconds >= 0) this.latency.observe({ operation, type }, seconds)
  }

  /** A gauge read at scrape time. */
  gauge (name: string, help: string, read: () => number): void {
    // eslint-disable-next-line no-new
    new Gauge({ name, help, registers: [this.registry], collect () { this.set(read()) } })
  }

  /** A histogram in seconds with the given labels; returns its observe function. */
  histogram<L extends string> (name: string, help: string, labelNames: L[]): (labels: Record<L, string>, seconds: number) => void {
    const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]
    const h = new SeriesHistogram({ name, help, labelNames, buckets }).register(this.registry)
    return (labels, seconds) => { if (seconds >= 0) h.observe(labels, seconds) }
  }

  /** Where active_connections comes from (the node sets it once libp2p exists). */
  countConnections (fn: () => number): void { this.connections = fn }

  /** The sum of a counter over every series whose labels include `match`. */
  get (name: CounterName, match: Labels = {}): number {
    let sum = 0
    for (const { labels, value } of this.counters.get(name)?.all ?? []) {
      if (Object.entries(match).every(([k, v]) => labels[k] === v)) sum += value
    }
    return sum
  }

  snapshot (): Record<string, Array<{ labels: Labels, value: number }>> {
    const out: Record<string, Array<{ labels: Labels, value: number }>> = {}
    for (const [name, counter] of this.counters) out[name] = counter.all.map(e => ({ labels: { ...e.labels }, value: e.value }))
    return out
  }

  /** The Prometheus text exposition of everything in the registry. */
  async exposition (): Promise<{ contentType: string, body: string }> {
    return { contentType: this.registry.contentType, body: millisecondsToSeconds(fixTotalSuffix(await this.registry.metrics())) }
  }
}

/**
 * Some gauges of libp2p (libp2p_protocol_streams_total, ...) and of prom-client's default
 * metrics (nodejs_active_handles_total, ...) end in `_total`, which Prometheus reserves for
 * counters: `promtool check metrics` rejects the exposition. Their names cannot be changed at
 * the source, so here, at scrape time, such a family loses the suffix, or is left out where a
 * family of the shorter name already exists (prom-client's are sums of those).
 */
export function fixTotalSuffix (text: string): string {
  const types = new Map<string, string>()
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1], m[2])
  const wrong = [...types].filter(([name, type]) => name.endsWith('_total') && type !== 'counter').map(([name]) => name)
  if (wrong.length === 0) return text
  const rename = new Map(wrong.map(n => [n, types.has(n.slice(0, -6)) ? null : n.slice(0, -6)]))
  const out: string[] = []
  for (const line of text.split('\n')) {
    const name = /^(?:# (?:HELP|TYPE) )?([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line)?.[1]
    const to = name !== undefined ? rename.get(name) : undefined
    if (to === undefined) { out.push(line); continue }
    if (to === null) continue
    out.push(line.replace(name as string, to))
  }
  return out.join('\n')
}

const MS = '_milliseconds'

/**
 * libp2p measures some durations in milliseconds (libp2p_connection_monitor_ping_time_milliseconds,
 * once its monitor has pinged: ~30 s after start), which `promtool check metrics` rejects ("use
 * base unit seconds"). At scrape time such a family becomes `<name>_seconds`: bucket bounds, sums
 * and plain values divided by 1,000, counts unchanged.
 */
export function millisecondsToSeconds (text: string): string {
  const families = [...text.matchAll(/^# TYPE (\S+_milliseconds) \S+$/gm)].map(m => m[1])
  if (families.length === 0) return text
  return text.split('\n').map(line => {
    const family = families.find(f => line.startsWith(f) || line.startsWith(`# HELP ${f} `) || line.startsWith(`# TYPE ${f} `))
    if (family === undefined) return line
    const seconds = family.slice(0, -MS.length) + '_seconds'
    if (line.startsWith('#')) return line.replace(family, seconds)
    const m = /^(\S+?)(_bucket|_sum|_count)?(\{[^}]*\})? (\S+)(.*)$/.exec(line)
    if (m === null || m[1] !== family) return line
    const [, , suffix = '', labels = '', value, rest] = m
    const bounds = suffix === '_bucket' ? labels.replace(/le="([^"]+)"/, (_all, le: string) => `le="${le === '+Inf' ? le : String(Number(le) / 1000)}"`) : labels
    const scaled = suffix === '_count' || suffix === '_bucket' ? value : String(Number(value) / 1000)
    return `${seconds}${suffix}${bounds} ${scaled}${rest}`
  }).join('\n')
}
