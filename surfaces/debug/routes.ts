/**
 * What the debug endpoint (server.ts) serves: the route table (/health, /peers, /topics,
 * /gossip, /mesh and /rates (live-routes.ts), /tasks, /audit, /dead-letters, /events ...) and the /events feed (joins and
 * leaves, subscription changes, sampled messages, dead letters, gossip rates each second). Built
 * over a node from outside (surfaces/index.ts) when `debug` is configured.
 */
import { peerIdOf } from '../../protocols/core/peer-keys.js'
import type { AgentNode } from '../../node/agent-node.js'
import type { AgentNodeEvents } from '../../node/types.js'
import type { NodeServices } from '../../node/services.js'
import type { Startable } from '../../protocols/core/service.js'
import { z } from 'zod'
import { DebugServer, HttpError, RawBody, Takeover, type DebugRequest, type Route } from './server.js'
import { ValidationError } from '../../protocols/core/errors.js'
import type { DeadLetters, DeadLettersEvents } from '../../protocols/delivery/dead-letters.js'
import type { DeadLetterReason } from '../../protocols/delivery/types.js'
import { EventStream } from '../http/event-stream.js'
import { TopicRates } from './topic-rates.js'
import { DEBUG_PAGE } from './page.js'
import { LiveRates } from './live-rates.js'
import { liveRoutes } from './live-routes.js'
import type { TaskRecord } from '../../protocols/task/index.js'
import type { HttpServer } from '../http/server.js'
import { replayDeadLetters } from '../operations/dead-letters.js'

/** How often the gossip rates are sampled and sent on /events. */
const GOSSIP_TICK_MS = 1_000

export interface DebugEndpoint {
  server: DebugServer
  events: EventStream
  /** The feed, the event stream and the server, in start order. */
  ordered: Startable[]
}

export interface DebugEndpointInit {
  /** host:port; port 0 picks a free one. */
  listen: string
  token?: string
  /** The server to mount on (shared with the other surfaces on its host:port); else one of its own. */
  http?: HttpServer
}

/** The debug endpoint of a node (config `debug`), built over it from outside: attach `ordered` to the node. */
export function debugEndpoint (node: AgentNode, init: DebugEndpointInit): DebugEndpoint {
  const { listen, token, http } = init
  const s = node.internals
  const { stats } = node
  const events = new EventStream({ onDrop: () => { stats.inc('streams_aborted_total', { protocol: 'debug-events', reason: 'slow_client' }) } })
  const gossip = new TopicRates()
  const live = new LiveRates({
    topicTotals: () => stats.messages.topicTotals(),
    mesh: () => s.announcer.snapshot(),
    tasks: () => s.tasks.scheduler.records.values()
  })
  const limit = (url: URL, fallback: number, max: number): number => {
    const asked = Number.parseInt(url.searchParams.get('limit') ?? '', 10)
    return Number.isFinite(asked) ? Math.min(Math.max(asked, 1), max) : fallback
  }
  const routes: Record<string, Route> = {
    '/health': () => node.health(),
    '/stats': () => stats.snapshot(),
    '/metrics': async () => new RawBody(await stats.exposition()),
    '/peers': async () => await peerDetails(node),
    '/topics': () => topicDetails(node, s),
    '/messages': ({ url }) => stats.messages.recent(limit(url, 100, stats.messages.capacity)),
    '/gossip': () => ({ windowMs: gossip.windowMs, topics: gossip.rates() }),
    '/': () => new RawBody({ contentType: 'text/html; charset=utf-8', body: DEBUG_PAGE }),
    // /mesh (paged), /mesh/groups, /rates: live-routes.ts.
    ...liveRoutes(node, s, live),
    // Every destination's breaker, connected or not (an open one is often for a peer that is gone).
    '/breakers': () => node.delivery.breakers(),
    '/coordinator': () => node.coordinator(),
    '/members': () => node.members(),
    '/resources': () => s.resources.snapshot(),
    '/tasks': ({ url }) => {
      const n = limit(url, 100, 1_000)
      return { ...s.tasks.snapshot(n), recent: recentTasks(s.tasks.scheduler.records.values(), n) }
    },
    // The audit trail, newest first: ?kind= (a kind, or its area: "admission"), ?peer=, ?limit=.
    '/audit': ({ url }) => {
      const q = url.searchParams
      const max = Math.max(s.audit.capacity, 1)
      return s.audit.recent({ kind: q.get('kind') ?? undefined, peer: q.get('peer') ?? undefined, limit: limit(url, Math.min(100, max), max) })
    },
    ...deadLetterRoutes(s.deadLetters),
    '/events': () => new Takeover((req, res) => {
      events.attach(req, res, { peerId: node.peerId, name: node.name, peers: node.peers().map(p => ({ peerId: p.peerId, name: p.name, roles: p.roles })) })
    })
  }
  const server = new DebugServer({ listen, routes, ...(token !== undefined ? { token } : {}), ...(http !== undefined ? { http } : {}) })
  const listening: Startable = { start: async () => { node.debugUrl = await server.start() }, stop: async () => { await server.stop() } }
  return { server, events, ordered: [eventFeed(node, s, events, gossip), live, events, listening] }
}

/** Ids in a replay or purge body: at most this many in one call. */
const MAX_IDS = 10_000
const Ids = z.array(z.string().min(1).max(128)).min(1).max(MAX_IDS)

/**
 * /dead-letters (?limit ?after ?reason ?peer ?newest), /dead-letters/<id>, and the POSTs replay
 * {ids} and purge {ids?} (every letter when `ids` is absent; the body must still be an object).
 */
function deadLetterRoutes (dead: DeadLetters): Record<string, Route> {
  const ids = async (r: DebugRequest, required: boolean): Promise<string[] | undefined> => {
    const body = z.strictObject({ ids: required ? Ids : Ids.optional() }).safeParse(await r.body())
    if (!body.success) throw new ValidationError(`expected a JSON body {"ids": ["<id>", ...]}${required ? '' : ' (or {} for every letter)'}: ${body.error.issues[0]?.message ?? ''}`)
    return body.data.ids
  }
  return {
    '/dead-letters': ({ url }) => {
      const q = url.searchParams
      const limit = q.get('limit')
      if (limit !== null && !/^\d+$/.test(limit)) throw new ValidationError(`limit must be a positive integer, got "${limit}"`)
      const page = dead.list({
        ...(limit !== null ? { limit: Number(limit) } : {}),
        ...(q.get('after') !== null ? { after: q.get('after') as string } : {}),
        ...(q.get('reason') !== null ? { reason: q.get('reason') as DeadLetterReason } : {}),
        ...(q.get('peer') !== null ? { peer: q.get('peer') as string } : {}),
        newest: q.get('newest') === '1' || q.get('newest') === 'true'
      })
      return { ...page, evicted: dead.evictedCount, enabled: dead.enabled, maxEntries: dead.maxEntries, maxAgeMs: dead.maxAgeMs }
    },
    '/dead-letters/*': ({ rest }) => {
      const letter = rest !== undefined ? dead.get(rest) : undefined
      if (letter === undefined) throw new HttpError(404, { error: 'no such dead letter', id: rest })
      return letter
    },
    // Replayed as every binding replays (surfaces/operations), once the body has this endpoint's shape.
    'POST /dead-letters/replay': async (r) => await replayDeadLetters(dead, { ids: await ids(r, true) }),
    'POST /dead-letters/purge': async (r) => await dead.purge(await ids(r, false))
  }
}

/** /tasks' `recent`: the task table's records (this replica's) that changed last, newest first, with state and agent. */
function recentTasks (records: Iterable<TaskRecord>, limit: number): Array<Record<string, unknown>> {
  // The table is pruned of finished tasks after a while, so a sort per call stays small.
  const kept = Array.from(records, r => ({ at: Date.parse(r.status.timestamp), r })).sort((x, y) => y.at - x.at).slice(0, limit)
  return kept.map(({ r }) => ({
    task_id: r.spec.task_id,
    type: r.spec.type,
    status: r.status.status,
    ...(r.status.agent !== undefined ? { agent: r.status.agent } : {}),
    attempt: r.status.attempt,
    progress: r.status.progress,
    updated_at: r.status.timestamp,
    ...(r.status.reason !== undefined ? { reason: r.status.reason } : {})
  }))
}

/**
 * What /events streams: joins and leaves, coordinator and member changes, subscription changes,
 * sampled messages, and each second the per-topic gossip rates (sampled for /gossip too).
 */
function eventFeed (node: AgentNode, s: NodeServices, events: EventStream, rates: TopicRates): Startable {
  let stops: Array<() => void> = []
  const on = <K extends keyof AgentNodeEvents>(type: K, fn: (e: AgentNodeEvents[K]) => void): void => {
    node.addEventListener(type, fn as any)
    stops.push(() => { node.removeEventListener(type, fn as any) })
  }
  return {
    start: () => {
      if (stops.length > 0) return
      on('peer:join', (e) => {
        const { peerId, name, roles, capabilities } = e.detail
        events.send('peer:join', { peerId, name, roles, capabilities })
      })
      on('peer:leave', (e) => { events.send('peer:leave', e.detail) })
      on('coordinator:change', (e) => { events.send('coordinator', e.detail) })
      on('member:change', (e) => { events.send('member', e.detail) })
      const onDead = (e: DeadLettersEvents['dead']): void => {
        const { reason, kept, letter: l } = e.detail
        events.send('dead-letter', { reason, kept, total: s.deadLetters.count, ...(l !== undefined ? { id: l.id, peer: l.peer, topic: l.topic, subject: l.envelope.subject, deadAt: l.deadAt } : {}) })
      }
      s.deadLetters.addEventListener('dead', onDead)
      stops.push(() => { s.deadLetters.removeEventListener('dead', onDead) })
      const gossip = s.libp2p.services.pubsub
      const onSubs = (e: CustomEvent<{ peerId: { toString: () => string }, subscriptions: Array<{ topic: string, subscribe: boolean }> }>): void => {
        events.send('topic', { peerId: e.detail.peerId.toString(), changes: e.detail.subscriptions.map(s => ({ topic: s.topic, subscribe: s.subscribe })) })
      }
      gossip.addEventListener('subscription-change', onSubs as any)
      stops.push(() => { gossip.removeEventListener('subscription-change', onSubs as any) })
      stops.push(node.stats.messages.listen((r) => { events.send('message', r) }))
      const { messages } = node.stats
      rates.sample(messages.topicTotals(), Date.now())
      const tick = setInterval(() => {
        rates.sample(messages.topicTotals(), Date.now())
        if (events.size > 0) events.send('gossip', { windowMs: rates.windowMs, topics: rates.rates() })
      }, GOSSIP_TICK_MS)
      tick.unref()
      stops.push(() => { clearInterval(tick) })
    },
    stop: () => {
      for (const stop of stops) stop()
      stops = []
    }
  }
}

/** /peers: each agent with its card and, per connection, direction, round-trip time and open streams. */
async function peerDetails (node: AgentNode): Promise<unknown[]> {
  const { libp2p } = node
  return await Promise.all(node.peers().map(async ({ card: _card, connections: _c, ...p }) => {
    const conns = libp2p.getConnections(peerIdOf(p.peerId))
    return {
      ...p,
      // Reliable delivery's circuit breaker for this peer (closed when it never failed).
      breaker: node.delivery.breaker(p.peerId) ?? { peer: p.peerId, state: 'closed', failures: 0 },
      connections: await Promise.all(conns.map(async c => ({
        address: c.remoteAddr.toString(),
        direction: c.direction,
        // libp2p's connection monitor measures rtt every few seconds; ask once if it has not yet.
        rttMs: c.rtt ?? await libp2p.services.ping.ping(c.remotePeer, { signal: AbortSignal.timeout(1_000) }).catch(() => null),
        streams: c.streams.map(s => ({ protocol: s.protocol, direction: s.direction }))
      })))
    }
  }))
}

/** /topics: local subscriptions, the peers known to subscribe, gossip mesh peers and their scores. */
function topicDetails (node: AgentNode, s: NodeServices): unknown[] {
  return s.pubsub.subscriptions().filter(t => !t.startsWith('$')).map(topic => {
    const { subscribers, mesh, relayed, stated } = node.topicPeers(topic)
    return { topic, subscribers, mesh, relayed, stated, scores: Object.fromEntries(subscribers.map(p => [p, Math.round(node.gossipScore(p) * 100) / 100])) }
  })
}
