/**
 * The debug endpoint's routes for the live page at scale: /mesh in pages, /mesh/groups (the map
 * folded into groups) and /rates (sparkline series per topic and for the whole mesh). Answered as
 * compact JSON, unlike the other routes' indented JSON: the page polls them, and indentation
 * doubles a series' size (`curl ... | jq` reads them as well).
 */
import type { AgentNode } from '../../node/agent-node.js'
import type { NodeServices } from '../../node/services.js'
import { RawBody, type Route } from './server.js'
import { ValidationError } from '../../protocols/core/errors.js'
import { meshGroups, meshPage, parseMeshQuery, type MeshRoles } from './mesh-view.js'
import { MESH_KEY, type LiveRates } from './live-rates.js'

/** Topics in /rates when `limit` is not given, and the most it lists. */
export const RATES_TOPICS_DEFAULT = 20
export const RATES_TOPICS_MAX = 256

const compact = (x: unknown): RawBody => new RawBody({ contentType: 'application/json; charset=utf-8', body: JSON.stringify(x) })

export function liveRoutes (node: AgentNode, s: NodeServices, rates: LiveRates): Record<string, Route> {
  const roles = (): MeshRoles => {
    const c = node.coordinator()
    const inOffice = c.situation === 'coordinator' || c.situation === 'following'
    return { ...(inOffice && c.leader !== undefined ? { leader: c.leader } : {}), voters: c.voters }
  }
  const agentSeries = (peerId: string): { messages: number[], tasks: number[] } => {
    const now = Date.now()
    return { messages: rates.messages.series(peerId, now), tasks: rates.tasks.series(peerId, now) }
  }
  return {
    // ?offset= &limit= (default 100, at most 500) &q= &group= &sort=id|name|rate &series=1 &edges=0
    '/mesh': ({ url }) => {
      const query = parseMeshQuery(url.searchParams)
      return compact(meshPage(s.announcer.snapshot(), query, roles(), query.series ? agentSeries : undefined))
    },
    '/mesh/groups': () => compact(meshGroups(s.announcer.snapshot(), roles())),
    // ?limit= topics, busiest first over the window (default 20, at most 256).
    '/rates': ({ url }) => {
      const v = url.searchParams.get('limit')
      const limit = v === null ? RATES_TOPICS_DEFAULT : /^\d{1,4}$/.test(v) ? Number(v) : Number.NaN
      if (!(limit >= 1 && limit <= RATES_TOPICS_MAX)) throw new ValidationError(`limit must be an integer from 1 to ${RATES_TOPICS_MAX}, got "${v ?? ''}"`)
      const now = Date.now()
      const topics = new Set([...rates.topicsIn.keys(), ...rates.topicsOut.keys()])
      const rows = [...topics].map(topic => ({ topic, in: rates.topicsIn.series(topic, now), out: rates.topicsOut.series(topic, now) }))
      const sum = (r: { in: number[], out: number[] }): number => r.in.reduce((a, x) => a + x, 0) + r.out.reduce((a, x) => a + x, 0)
      rows.sort((x, y) => sum(y) - sum(x) || x.topic.localeCompare(y.topic))
      return compact({
        bucketMs: rates.messages.bucketMs,
        buckets: rates.messages.buckets,
        at: now,
        mesh: { messages: rates.messages.series(MESH_KEY, now), tasks: rates.tasks.series(MESH_KEY, now) },
        topics: rows.slice(0, limit),
        moreTopics: Math.max(0, rows.length - limit)
      })
    }
  }
}
