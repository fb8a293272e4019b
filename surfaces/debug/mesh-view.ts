/**
 * The mesh map (protocols/discovery/mesh-map.ts) as the debug endpoint serves it at scale: `/mesh` in pages
 * (filtered by a search or a group, sorted, with each agent's links, rate and, if asked, its
 * sparklines), and `/mesh/groups`, the whole map folded into a handful of groups (the
 * coordinator, the voters, then the other agents by their roles) with the links between groups:
 * a few hundred bytes whatever the size of the mesh, which the live page polls instead of the map.
 * Pure: the snapshot, the coordinator and the series are passed in.
 */
import { ValidationError } from '../../protocols/core/errors.js'
import { fnv1a } from '../../protocols/core/fnv1a.js'
import type { MeshEdge, MeshNode, MeshSnapshot } from '../../protocols/discovery/mesh-map.js'

/** Agents per page of /mesh when `limit` is not given, and the most one page holds. */
export const MESH_PAGE_DEFAULT = 100
export const MESH_PAGE_MAX = 500
/** Groups of other agents told apart by their roles; agents past them share OTHER_GROUP. */
export const MAX_ROLE_GROUPS = 8
export const OTHER_GROUP = 'role:(other roles)'
/** A group this small lists its members in /mesh/groups, so the page can draw them one by one. */
export const INLINE_MEMBERS = 8

export interface MeshQuery {
  offset: number
  limit: number
  /** Part of a name, peer id or role, any case. */
  q?: string
  group?: string
  sort: 'id' | 'name' | 'rate'
  series: boolean
  edges: boolean
}

/** Who holds office and who votes, as this node sees it. */
export interface MeshRoles { leader?: string, voters: readonly string[] }

export interface MeshViewNode extends MeshNode { group: string, links: number, rate: number, series?: unknown }
export interface MeshPage {
  version: string
  /** Agents in the map, and those matching `q` and `group`. */
  agents: number
  total: number
  offset: number
  limit: number
  /** The offset of the next page; null after the last. */
  nextOffset: number | null
  nodes: MeshViewNode[]
  /** Each link once: in the page holding its `a` end (the lesser peer id). */
  edges: MeshEdge[]
  ageMs: number
  intervalMs: number
}

export interface MeshGroup {
  id: string
  label: string
  count: number
  /** Messages per second over the links of its agents (a link inside the group counted once). */
  rate: number
  /** Agents whose last announcement is older than two intervals. */
  stale: number
  self: boolean
  members?: Array<Pick<MeshNode, 'peerId' | 'name' | 'roles' | 'self'>>
}
export interface MeshGroups {
  version: string
  agents: number
  links: number
  rate: number
  groups: MeshGroup[]
  /** Links between two groups (a === b: inside one), with their count and rate. */
  groupLinks: Array<{ a: string, b: string, links: number, rate: number }>
  ageMs: number
  intervalMs: number
}

const INT = /^\d{1,9}$/

/** /mesh's query; a bad value is a ValidationError (MSG001, HTTP 400) naming it. */
export function parseMeshQuery (p: URLSearchParams): MeshQuery {
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const v = p.get(name)
    if (v === null) return fallback
    const n = INT.test(v) ? Number(v) : Number.NaN
    if (!(n >= min && n <= max)) throw new ValidationError(`${name} must be an integer from ${min} to ${max}, got "${v}"`)
    return n
  }
  const flag = (name: string, fallback: boolean): boolean => {
    const v = p.get(name)
    if (v === null) return fallback
    if (v === '1' || v === 'true') return true
    if (v === '0' || v === 'false') return false
    throw new ValidationError(`${name} must be 1 or 0, got "${v}"`)
  }
  const sort = p.get('sort') ?? 'id'
  if (sort !== 'id' && sort !== 'name' && sort !== 'rate') throw new ValidationError(`sort must be id, name or rate, got "${sort}"`)
  const q = p.get('q')
  if (q !== null && q.length > 128) throw new ValidationError('q must be at most 128 characters')
  const group = p.get('group')
  return {
    offset: int('offset', 0, 0, 1_000_000),
    limit: int('limit', MESH_PAGE_DEFAULT, 1, MESH_PAGE_MAX),
    ...(q !== null && q !== '' ? { q: q.toLowerCase() } : {}),
    ...(group !== null && group !== '' ? { group } : {}),
    sort,
    series: flag('series', false),
    edges: flag('edges', true)
  }
}

/** Every agent's group: the coordinator in office, the voters, then by roles (the commonest first). */
export function groupsOf (nodes: readonly MeshNode[], roles: MeshRoles): Map<string, string> {
  const voters = new Set(roles.voters)
  const roleKey = (n: MeshNode): string => `role:${[...n.roles].sort().join(',') || '(none)'}`
  const counts = new Map<string, number>()
  for (const n of nodes) if (n.peerId !== roles.leader && !voters.has(n.peerId)) counts.set(roleKey(n), (counts.get(roleKey(n)) ?? 0) + 1)
  const kept = new Set([...counts].sort((x, y) => y[1] - x[1] || x[0].localeCompare(y[0])).slice(0, MAX_ROLE_GROUPS).map(([k]) => k))
  const out = new Map<string, string>()
  for (const n of nodes) {
    const key = roleKey(n)
    out.set(n.peerId, n.peerId === roles.leader ? 'coordinator' : voters.has(n.peerId) ? 'voters' : kept.has(key) ? key : OTHER_GROUP)
  }
  return out
}

/** Changes when an agent joins, leaves, is renamed or changes group: the page refetches its list then. */
export function meshVersion (nodes: readonly MeshNode[], groups: ReadonlyMap<string, string>): string {
  // FNV-1a over the sorted list: cheap, and a collision costs only a list not refetched once.
  const h = fnv1a(nodes.map(n => `${n.peerId}\t${n.name}\t${n.roles.join(',')}\t${groups.get(n.peerId) ?? ''}`).sort().join('\n'))
  return h.toString(16).padStart(8, '0') + '-' + nodes.length.toString(36)
}

function linkStats (edges: readonly MeshEdge[]): Map<string, { links: number, rate: number }> {
  const per = new Map<string, { links: number, rate: number }>()
  for (const e of edges) {
    for (const id of [e.a, e.b]) {
      const s = per.get(id) ?? { links: 0, rate: 0 }
      s.links++
      s.rate += e.rate
      per.set(id, s)
    }
  }
  return per
}

const round = (x: number): number => Math.round(x * 10) / 10

/** One page of the map: agents matching the query in its order, and the links whose `a` end is among them. */
export function meshPage (snap: MeshSnapshot, query: MeshQuery, roles: MeshRoles, series?: (peerId: string) => unknown): MeshPage {
  const groups = groupsOf(snap.nodes, roles)
  const stats = linkStats(snap.edges)
  let all: MeshViewNode[] = snap.nodes.map(n => ({
    ...n,
    group: groups.get(n.peerId) as string,
    links: stats.get(n.peerId)?.links ?? 0,
    rate: round(stats.get(n.peerId)?.rate ?? 0)
  }))
  const q = query.q
  const has = (text: string): boolean => q !== undefined && text.toLowerCase().includes(q)
  const hit = (n: MeshNode): boolean => has(n.name) || has(n.peerId) || n.roles.some(has)
  if (q !== undefined) all = all.filter(hit)
  if (query.group !== undefined) all = all.filter(n => n.group === query.group)
  const byId = (x: MeshViewNode, y: MeshViewNode): number => x.peerId < y.peerId ? -1 : x.peerId > y.peerId ? 1 : 0
  all.sort(query.sort === 'name'
    ? (x, y) => x.name.localeCompare(y.name, 'en', { numeric: true }) || byId(x, y)
    : query.sort === 'rate' ? (x, y) => y.rate - x.rate || byId(x, y) : byId)
  const nodes = all.slice(query.offset, query.offset + query.limit)
  if (series !== undefined) for (const n of nodes) n.series = series(n.peerId)
  const here = new Set(nodes.map(n => n.peerId))
  const end = query.offset + nodes.length
  return {
    version: meshVersion(snap.nodes, groups),
    agents: snap.nodes.length,
    total: all.length,
    offset: query.offset,
    limit: query.limit,
    nextOffset: end < all.length ? end : null,
    nodes,
    edges: query.edges ? snap.edges.filter(e => here.has(e.a)) : [],
    ageMs: snap.ageMs,
    intervalMs: snap.intervalMs
  }
}

const LABELS: Record<string, string> = { coordinator: 'coordinator', voters: 'voters' }

/** The map folded into groups, with the links between them: what the live page draws at any size. */
export function meshGroups (snap: MeshSnapshot, roles: MeshRoles): MeshGroups {
  const groups = groupsOf(snap.nodes, roles)
  const stale = 2 * snap.intervalMs
  const out = new Map<string, MeshGroup>()
  for (const n of snap.nodes) {
    const id = groups.get(n.peerId) as string
    const g = out.get(id) ?? { id, label: LABELS[id] ?? id.slice('role:'.length), count: 0, rate: 0, stale: 0, self: false, members: [] }
    g.count++
    if (n.ageMs > stale && !n.self) g.stale++
    if (n.self) g.self = true
    g.members?.push({ peerId: n.peerId, name: n.name, roles: n.roles, self: n.self })
    out.set(id, g)
  }
  const links = new Map<string, { a: string, b: string, links: number, rate: number }>()
  let rate = 0
  for (const e of snap.edges) {
    const ga = groups.get(e.a) as string
    const gb = groups.get(e.b) as string
    const [a, b] = ga <= gb ? [ga, gb] : [gb, ga]
    const l = links.get(`${a} ${b}`) ?? { a, b, links: 0, rate: 0 }
    l.links++
    l.rate += e.rate
    links.set(`${a} ${b}`, l)
    rate += e.rate
    ;(out.get(ga) as MeshGroup).rate += e.rate
    if (gb !== ga) (out.get(gb) as MeshGroup).rate += e.rate
  }
  const order = (g: MeshGroup): number => g.id === 'coordinator' ? 0 : g.id === 'voters' ? 1 : g.id === OTHER_GROUP ? 3 : 2
  const list = [...out.values()].sort((x, y) => order(x) - order(y) || y.count - x.count || x.id.localeCompare(y.id))
  for (const g of list) {
    g.rate = round(g.rate)
    if (g.members !== undefined && g.members.length > INLINE_MEMBERS) delete g.members
  }
  return {
    version: meshVersion(snap.nodes, groups),
    agents: snap.nodes.length,
    links: snap.edges.length,
    rate: round(rate),
    groups: list,
    groupLinks: [...links.values()].map(l => ({ ...l, rate: round(l.rate) })),
    ageMs: snap.ageMs,
    intervalMs: snap.intervalMs
  }
}
