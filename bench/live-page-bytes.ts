/**
 * node dist/bench/live-page-bytes.js [--agents 50,200,1000] [--links 8]
 *
 * What the live page pulls per refresh as the mesh grows, from the debug endpoint's own code
 * (surfaces/debug/mesh-view.ts, surfaces/debug/rate-rings.ts) over a map like a real one: N agents, each linked to
 * about `links` others (connections.targetPeers), every agent and link with traffic, 5 voters.
 * The routes whose size does not grow with the mesh (/coordinator, /tasks?limit=10,
 * /dead-letters, /breakers) are measured on a live mesh by `npm run bench:scale -- --page`.
 */
import { benchArgs } from './args.js'
import { meshGroups, meshPage, parseMeshQuery } from '../surfaces/debug/mesh-view.js'
import { RateRings } from '../surfaces/debug/rate-rings.js'
import type { MeshSnapshot } from '../protocols/discovery/mesh-map.js'

const { values } = benchArgs({ options: { agents: { type: 'string', default: '50,200,1000' }, links: { type: 'string', default: '8' } } })

function map (n: number, links: number): MeshSnapshot {
  let seed = 15
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  const id = (i: number): string => `12D3KooW${(i * 7919).toString(36).padStart(44, 'Q')}`
  const nodes = Array.from({ length: n }, (_, i) => ({ peerId: id(i), name: `agent-${i}`, roles: i % 10 === 0 ? ['agent', 'gpu'] : ['agent'], ageMs: Math.floor(rnd() * 5_000), self: i === 0 }))
  const edges = new Map<string, { a: string, b: string, rate: number }>()
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < links / 2; k++) {
      const j = Math.floor(rnd() * n)
      if (j === i) continue
      const [a, b] = id(i) < id(j) ? [id(i), id(j)] : [id(j), id(i)]
      edges.set(`${a} ${b}`, { a, b, rate: Math.round(rnd() * 200) / 10 })
    }
  }
  return { nodes, edges: [...edges.values()], ageMs: 5_000, intervalMs: 5_000 }
}

const rows = []
for (const n of values.agents.split(',').map(Number)) {
  const snap = map(n, Number(values.links))
  const roles = { leader: snap.nodes[1].peerId, voters: snap.nodes.slice(1, 6).map(x => x.peerId) }
  // Five minutes of traffic in every ring, so the series are as long as they get.
  const rings = new RateRings()
  const now = Date.now()
  for (const x of snap.nodes) for (let t = 0; t < 300_000; t += 5_000) rings.add(x.peerId, 1 + Math.floor(Math.random() * 400), now - t)
  const series = (p: string): unknown => ({ messages: rings.series(p, now), tasks: rings.series(p, now).map(v => Math.round(v / 10)) })
  const list = JSON.stringify(meshPage(snap, parseMeshQuery(new URLSearchParams('edges=0&series=1&sort=rate&limit=25')), roles, series)).length
  const groups = JSON.stringify(meshGroups(snap, roles)).length
  const topics = Array.from({ length: 10 }, (_, i) => ({ topic: `topic-${i}`, in: rings.series(snap.nodes[i].peerId, now), out: rings.series(snap.nodes[i + 1].peerId, now) }))
  const rates = JSON.stringify({ bucketMs: 5_000, buckets: 60, at: now, mesh: series(snap.nodes[0].peerId), topics, moreTopics: 0 }).length
  const whole = { nodes: snap.nodes, edges: snap.edges, ageMs: snap.ageMs, intervalMs: snap.intervalMs }
  rows.push({
    agents: n,
    links: snap.edges.length,
    groupsBytes: groups,
    listPageBytes: list,
    ratesBytes: rates,
    // Every 2 s the groups, every 5 s the list's page and /rates.
    perRefreshBytes: Math.round(groups + (list + rates) * 2 / 5),
    // What the page before paging pulled every 2 s: the whole map, indented.
    wholeMapIndentedBytes: JSON.stringify(whole, null, 2).length,
    wholeMapCompactBytes: JSON.stringify(whole).length
  })
}
console.table(rows)
console.log(JSON.stringify(rows))
