/**
 * What the node counts and logs about its services, in one place: every service reports what
 * happened through typed events, and this file turns them into counters (stats.inc), gauges and
 * log lines, and passes the public ones on as the node's own events. No service carries a
 * callback that only exists to count or log.
 */
import type { TypedEventEmitter } from 'main-event'
import type { Stats } from './stats.js'
import type { Logger } from './log.js'
import type { AgentNodeEvents } from './types.js'
import type { NodeServices } from './service-types.js'
import type { CoordinationReport } from '../protocols/coordination/index.js'
import { explainDialError } from './handshake-cause.js'
import { AuditPacer } from '../protocols/core/audit.js'

/** What a service reports on its way, named for what the callbacks of coordination, tasks and resources say today. */
export interface Observer {
  /** A protocol message refused (coordination, tasks). */
  rejected: (service: 'coordination' | 'task', d: { from: string, message: string, reason: string, taskId?: string }) => void
  /** A directive sent or received, and how it ended (with its duration on the coordinator). */
  directive: (d: { role: string, action: string, outcome: string, seconds?: number }) => void
  /** A coordination round finished. */
  report: (r: CoordinationReport) => void
  /** The resource manager answered resource.denied. */
  denied: (d: { from: string, reason: string }) => void
  /** A task reached a terminal status while this node was in office. */
  taskFinished: (status: string) => void
  /** Something failed in the background. */
  error: (service: string, error: Error, level?: 'warn' | 'debug') => void
}

/** A refused message is logged once per REFUSAL_LOG_EVERY_MS per peer, message and reason (the count says how many). */
const REFUSAL_LOG_EVERY_MS = 60_000
const REFUSAL_LOG_KEYS = 1_024

/** Counters and log lines for what the services that still take callbacks report. */
export function createObserver (stats: Stats, log: Logger): Observer {
  const directiveTime = stats.histogram(
    'directive_completion_time_seconds', 'From sending a directive to its completion or failure, on the coordinator', ['directive_type'])
  // A peer whose messages are refused keeps sending them (a heartbeat every 100 ms-1 s, a voter
  // of a set this node does not share: 'not-a-voter' about three times a second was seen on a
  // terminal, issue 44): each is counted, and logged once a minute per peer, message and reason.
  const refusals = new AuditPacer(REFUSAL_LOG_EVERY_MS, REFUSAL_LOG_KEYS)
  return {
    rejected: (service, d) => {
      stats.inc('coordination_rejected_total', { message: d.message, reason: d.reason })
      const paced = refusals.pace(`${service} ${d.from} ${d.message} ${d.reason}`, Date.now())
      if (paced === undefined) return
      // 'unproven': a certificate this node cannot check yet (a tab or agent still learning who the
      // voters are refuses the announcement and asks them): expected while joining, not a warning.
      const level = d.reason === 'unproven' ? 'info' : 'warn'
      log[level]({ peer: d.from, message_type: d.message, reason: d.reason, ...(d.taskId !== undefined ? { task_id: d.taskId } : {}), ...(paced.refused > 1 ? { refusals: paced.refused } : {}) }, `${service} message refused`)
    },
    directive: (d) => {
      stats.inc('directives_total', { role: d.role, action: d.action, outcome: d.outcome })
      if (d.seconds !== undefined) directiveTime({ directive_type: d.action }, d.seconds)
    },
    report: (r) => {
      log.info({ round: r.roundId, outcome: r.outcome, duration_ms: r.durationMs, directives: r.directives.length }, 'coordination round finished')
    },
    denied: (d) => {
      stats.inc('resource_denied_total')
      log.info({ peer: d.from, reason: d.reason }, 'resource allocation denied')
    },
    taskFinished: (status) => { stats.inc('tasks_finished_total', { status }) },
    error: (service, error, level = 'warn') => { log[level]({ error: error.message }, service) }
  }
}

/** `meshKey`: whether the node holds a mesh key; `client`: a CLI client's node; `bootstrap`: its bootstrap addresses. */
/** `credential`: this node shows one in the card exchange (a closed mesh's). */
export interface ObserveOptions { meshKey: boolean, client: boolean, bootstrap: string[], credential: boolean }

/**
 * Listen to every service's events: counters, gauges and log lines, and the node's public
 * events (`emit`). Called after the services' glue has its listeners, so a node event is
 * dispatched once the services have taken the change into account.
 */
export function observe (s: NodeServices, stats: Stats, log: Logger, emit: TypedEventEmitter<AgentNodeEvents>, o: Observer, opts: ObserveOptions): void {
  const { bootstrap } = opts
  stats.countConnections(() => s.libp2p.getConnections().length)
  stats.gauge('coordinator_term', 'The newest coordinator term this node has seen', () => s.coordination.term)
  stats.gauge('coordinator_in_office', '1 while this node is the coordinator in office, else 0', () => s.coordination.inOffice ? 1 : 0)
  stats.gauge('coordination_success_rate', 'Coordination rounds of this coordinator that completed, over all its rounds (1 before any)',
    () => s.coordination.successRate())

  s.membership.addEventListener('peer:join', (e) => {
    stats.inc('peers_joined_total')
    log.info({ peer: e.detail.peerId, peer_name: e.detail.name, roles: e.detail.roles }, 'agent joined')
    emit.safeDispatchEvent('peer:join', { detail: e.detail })
  })
  s.membership.addEventListener('peer:leave', (e) => {
    stats.inc('peers_left_total')
    log.info({ peer: e.detail.peerId, peer_name: e.detail.name }, 'agent left')
    emit.safeDispatchEvent('peer:leave', { detail: e.detail })
  })
  s.membership.addEventListener('mesh:foreign', (e) => {
    const { peer, mesh } = e.detail
    // A bootstrap peer is named by the address it was given as (the one the operator wrote).
    const address = bootstrap.find(a => a.endsWith(`/p2p/${peer}`))
    const text = address !== undefined
      ? `the bootstrap peer at ${address} is in mesh "${mesh}", not "${s.membership.mesh}" (start this node with --mesh ${mesh} to join that mesh)`
      : `a peer of mesh "${mesh}" is ignored: this node is in mesh "${s.membership.mesh}" (start it with --mesh ${mesh} to join that mesh)`
    // A client's command says it when it gives up (surfaces/cli/join.ts): info there.
    log[opts.client && address !== undefined ? 'info' : 'warn']({ peer, peer_mesh: mesh, mesh: s.membership.mesh, ...(address !== undefined ? { address } : {}) }, text)
    emit.safeDispatchEvent('mesh:foreign', { detail: { peer, mesh, ...(address !== undefined ? { address } : {}) } })
  })
  // A peer that refused this node's card (SEC001) is said once: otherwise an open node (or one
  // with a credential another mesh's owner signed) only ever sees "agents seen: none".
  const refusedBy = new Set<string>()
  s.membership.addEventListener('error', (e) => {
    const { peer, error } = e.detail
    if ((error as { code?: string }).code !== 'SEC001' || refusedBy.has(peer)) return
    if (refusedBy.size >= 1_024) refusedBy.clear()
    refusedBy.add(peer)
    const address = bootstrap.find(a => a.endsWith(`/p2p/${peer}`))
    const hint = opts.credential
      ? 'its mesh does not admit this node\'s credential'
      : 'its mesh is closed and this node shows no credential (start it with --identity and --credential, docs/security.md)'
    const text = `${address !== undefined ? `the bootstrap peer at ${address}` : `peer ${peer}`} refused this node: ${hint}`
    log[opts.client && address !== undefined ? 'info' : 'warn']({ peer, error: error.message, ...(address !== undefined ? { address } : {}) }, text)
    emit.safeDispatchEvent('mesh:refused', { detail: { peer, error, ...(address !== undefined ? { address } : {}) } })
  })
  // One warning per bootstrap address and cause, not one per retry (a seed down for an hour is
  // said once, then again when its error changes); the retries go to debug. A client's command
  // says the cause itself when it gives up (surfaces/cli/join.ts): it logs them at info.
  const told = new Map<string, string>()
  s.bootstrap.addEventListener('dial:error', (e) => {
    const { address, retryInMs } = e.detail
    const error = explainDialError(e.detail.error, opts.meshKey)
    // The cause without libp2p's varying words (lengths, byte counts).
    const cause = error === e.detail.error ? error.message : error.message.replace(/ \[.*\]$/, '')
    const level = told.get(address) === cause ? 'debug' : opts.client ? 'info' : 'warn'
    told.set(address, cause)
    log[level]({ address, error: error.message, retry_in_ms: retryInMs }, 'bootstrap peer unreachable')
    emit.safeDispatchEvent('bootstrap:error', { detail: { ...e.detail, error } })
  })
  // Joined through it: a later failure is news again.
  s.membership.addEventListener('peer:join', (e) => { for (const a of told.keys()) if (a.endsWith(`/p2p/${e.detail.peerId}`)) told.delete(a) })
  s.memberView.addEventListener('member:change', (e) => {
    const c = e.detail
    stats.inc('member_changes_total', { state: c.to })
    if (c.from !== c.to) {
      log.info({ peer: c.peerId, peer_name: c.name, from: c.from, to: c.to, incarnation: c.incarnation }, 'member state changed')
    }
    emit.safeDispatchEvent('member:change', { detail: c })
  })
  s.coordination.addEventListener('coordinator:change', (e) => {
    stats.inc('coordinator_changes_total')
    const { leader, term, self } = e.detail
    log.info({ leader, term, self }, leader !== undefined ? 'coordinator in office' : 'no coordinator')
    emit.safeDispatchEvent('coordinator:change', { detail: e.detail })
  })
  s.negotiation.addEventListener('negotiation', (e) => {
    const n = e.detail
    stats.inc('negotiations_total', { kind: n.kind, role: n.role, outcome: n.outcome })
    log.debug({ ...n }, 'negotiation ended')
    emit.safeDispatchEvent('negotiation', { detail: n })
  })
  s.negotiation.addEventListener('error', (e) => { o.error('negotiation', e.detail.error) })
  s.monitoring.addEventListener('alert', (e) => {
    const a = e.detail
    stats.inc('alerts_total', { severity: a.severity })
    log.info({ alert_id: a.alert_id, severity: a.severity, alert: a.message }, 'alert published')
  })
  s.monitoring.addEventListener('error', (e) => { log.debug({ error: e.detail.error.message }, 'metric report not published') })
  s.learning.addEventListener('outcome', (e) => {
    const m = e.detail
    stats.inc('model_updates_total', { outcome: m.status })
    const fields = { model_id: m.model_id, version: m.version, bytes: m.bytes, duration_ms: m.duration_ms, error: m.error?.message }
    if (m.status === 'applied') log.info(fields, 'model update applied')
    else log.warn({ ...fields, status: m.status }, 'model update not applied')
  })
  s.learning.addEventListener('rejected', () => { stats.inc('model_updates_total', { outcome: 'invalid' }) })
  s.learning.addEventListener('error', (e) => { o.error('learning', e.detail.error) })
  observeDelivery(s, stats, log)
}

/** Reliable delivery: retries, outcomes, dedup, breakers and dead letters (protocols/delivery). */
function observeDelivery (s: NodeServices, stats: Stats, log: Logger): void {
  const d = s.delivery
  stats.gauge('breakers_open', 'Destinations whose circuit breaker is open or half-open', () => d.openBreakers())
  stats.gauge('outbox_messages', 'Reliable messages in this node\'s outbox, not yet answered nor given up', () => d.outbox.size)
  stats.gauge('dedup_entries', 'Idempotency keys this node remembers (exactly-once receiver)', () => d.dedupEntries)
  stats.gauge('topic_seen_entries', 'Envelope ids of exactly-once topics this node remembers delivering', () => d.topics?.seenEntries ?? 0)
  d.addEventListener('retry', (e) => {
    stats.inc('delivery_retries_total', { code: e.detail.error.code })
    log.debug({ peer: e.detail.peer, message_id: e.detail.id, attempt: e.detail.attempt, delay_ms: e.detail.delayMs, error: e.detail.error.message }, 'delivery attempt failed, retrying')
  })
  d.addEventListener('outcome', (e) => { stats.inc('delivery_outcomes_total', { guarantee: e.detail.guarantee, outcome: e.detail.outcome }) })
  d.addEventListener('dedup', (e) => { stats.inc('dedup_total', { result: e.detail.result }) })
  d.addEventListener('gap', (e) => {
    const { peer, from, to, initial, topic } = e.detail
    stats.inc('delivery_gaps_total', { initial: String(initial) })
    // A stream's start is a receiver that joined late or restarted: worth a debug line, not a warning.
    log[initial ? 'debug' : 'warn']({ peer, from, to, ...(topic !== undefined ? { topic } : {}) }, 'sequence gap: messages after it ran without it')
  })
  d.addEventListener('evicted', (e) => { stats.inc('dedup_evicted_total', { reason: e.detail.reason }, e.detail.count) })
  d.addEventListener('dead-letter', (e) => {
    stats.inc('delivery_given_up_total', { side: e.detail.side, reason: e.detail.reason, kept: e.detail.id !== undefined ? 'yes' : 'no' })
  })
  d.addEventListener('breaker', (e) => {
    const c = e.detail
    stats.inc('breaker_transitions_total', { to: c.to })
    const level = c.to === 'half-open' ? 'debug' : c.to === 'open' ? 'warn' : 'info'
    log[level]({ peer: c.peer, from: c.from, to: c.to, failures: c.state.failures, half_open_at: c.state.halfOpenAt, error: c.state.lastError?.message }, 'circuit breaker changed')
  })
}
