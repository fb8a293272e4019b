// What the live page reads at scale, without a browser: the rate rings behind its sparklines
// (surfaces/debug/rate-rings.ts, a clock passed in), and /mesh's pages and groups (surfaces/debug/mesh-view.ts) over a
// 200-agent map: every agent and link exactly once across pages, bad paging values refused with
// MSG001, groups that add up, and /mesh/groups staying small where the whole map is not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { RateRings, OTHER_KEYS } from '../../../surfaces/debug/rate-rings.js'
import { meshGroups, meshPage, parseMeshQuery, MESH_PAGE_DEFAULT, MESH_PAGE_MAX, type MeshRoles } from '../../../surfaces/debug/mesh-view.js'
import type { MeshSnapshot } from '../../../protocols/discovery/mesh-map.js'
import { ValidationError } from '../../../protocols/core/errors.js'
import { seededRandom } from '../../helpers.js'

test('rate rings: counts land in 5-s buckets, the one still filling is left out, old buckets fall off, keys are capped', { timeout: 3 * 60_000 }, () => {
  const r = new RateRings(5_000, 4, 2)
  const t = 1_000_000 // a bucket boundary
  r.add('a', 10, t)
  r.add('a', 15, t + 4_999)
  r.add('a', 5, t + 5_000)
  assert.deepEqual(r.series('a', t + 5_000), [0, 0, 0, 5], 'the first bucket complete: 25 in 5 s')
  assert.deepEqual(r.series('a', t + 10_000), [0, 0, 5, 1])
  // Three quiet buckets later only the last count is left; one more and it is gone.
  assert.deepEqual(r.series('a', t + 25_000), [1, 0, 0, 0])
  assert.deepEqual(r.series('a', t + 30_000), [0, 0, 0, 0])
  r.add('a', 5, t + 60_000)
  assert.deepEqual(r.series('a', t + 65_000), [0, 0, 0, 1], 'a ring idle longer than its length starts clean')
  r.add('b', 5, t)
  r.add('c', 5, t)
  r.add('d', 5, t)
  assert.deepEqual(r.keys().sort(), ['(others)', 'a', 'b'].sort())
  assert.deepEqual(r.series(OTHER_KEYS, t + 5_000), [0, 0, 0, 2], 'keys past the cap share one series')
  r.prune(t + 100_000)
  assert.deepEqual(r.keys(), [], 'idle keys pruned')
})

/** A map like a 200-agent mesh's: each agent linked to about eight others, some with traffic. */
function bigMap (n: number): { snap: MeshSnapshot, roles: MeshRoles } {
  const rnd = seededRandom(15)
  const id = (i: number): string => `12D3KooW${String(i).padStart(44, 'x')}`
  const nodes = Array.from({ length: n }, (_, i) => ({ peerId: id(i), name: `a${i}`, roles: i % 10 === 0 ? ['agent', 'gpu'] : ['agent'], ageMs: 1_000, self: i === 7 }))
  const edges = new Map<string, { a: string, b: string, rate: number }>()
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 4; k++) {
      const j = Math.floor(rnd() * n)
      if (j === i) continue
      const [a, b] = id(i) < id(j) ? [id(i), id(j)] : [id(j), id(i)]
      edges.set(`${a} ${b}`, { a, b, rate: Math.round(rnd() * 30) / 10 })
    }
  }
  const roles = { leader: id(3), voters: [id(1), id(3), id(5), id(9), id(11)] }
  return { snap: { nodes, edges: [...edges.values()], ageMs: 4_000, intervalMs: 5_000 }, roles }
}

test('/mesh pages: every agent and every link exactly once across pages, in any order asked; filters; bad values refused', { timeout: 3 * 60_000 }, () => {
  const { snap, roles } = bigMap(200)
  for (const sort of ['id', 'name', 'rate']) {
    const agents: string[] = []
    const links: string[] = []
    for (let offset: number | null = 0; offset !== null;) {
      const page = meshPage(snap, parseMeshQuery(new URLSearchParams(`limit=33&offset=${offset}&sort=${sort}`)), roles)
      assert.equal(page.total, 200)
      agents.push(...page.nodes.map(n => n.peerId))
      links.push(...page.edges.map(e => `${e.a} ${e.b}`))
      offset = page.nextOffset
    }
    assert.equal(agents.length, 200, sort)
    assert.equal(new Set(agents).size, 200, sort)
    assert.deepEqual(new Set(links), new Set(snap.edges.map(e => `${e.a} ${e.b}`)), sort)
    assert.equal(links.length, snap.edges.length, sort)
  }
  const found = meshPage(snap, parseMeshQuery(new URLSearchParams('q=A137')), roles)
  assert.deepEqual(found.nodes.map(n => n.name), ['a137'])
  assert.equal(found.agents, 200)
  const gpu = meshPage(snap, parseMeshQuery(new URLSearchParams('group=role:agent,gpu&edges=0')), roles)
  assert.ok(gpu.nodes.every(n => n.roles.includes('gpu')) && gpu.total > 0 && gpu.edges.length === 0)
  assert.equal(parseMeshQuery(new URLSearchParams('')).limit, MESH_PAGE_DEFAULT)
  assert.equal(parseMeshQuery(new URLSearchParams(`limit=${MESH_PAGE_MAX}`)).limit, MESH_PAGE_MAX)
  for (const bad of ['limit=0', `limit=${MESH_PAGE_MAX + 1}`, 'limit=1.5', 'limit=', 'offset=-3', 'offset=x', 'sort=size', 'series=maybe', `q=${'x'.repeat(129)}`]) {
    assert.throws(() => parseMeshQuery(new URLSearchParams(bad)), (e: unknown) => e instanceof ValidationError && e.code === 'MSG001', bad)
  }
})

test('/mesh/groups: the coordinator, the voters, then roles; counts add up, links counted once; far smaller than the map', { timeout: 3 * 60_000 }, () => {
  const { snap, roles } = bigMap(200)
  const g = meshGroups(snap, roles)
  assert.deepEqual(g.groups.map(x => x.id), ['coordinator', 'voters', 'role:agent', 'role:agent,gpu'])
  assert.equal(g.groups.reduce((s, x) => s + x.count, 0), 200)
  assert.deepEqual(g.groups[0].members?.map(m => m.name), ['a3'])
  assert.equal(g.groups[1].members?.length, 4)
  assert.equal(g.groups.find(x => x.id === 'role:agent')?.members, undefined, 'a big group does not list its members')
  assert.ok(g.groups.find(x => x.id === 'role:agent')?.self, 'the group holding this node says so')
  assert.equal(g.groupLinks.reduce((s, l) => s + l.links, 0), snap.edges.length)
  const whole = JSON.stringify(snap).length
  const folded = JSON.stringify(g).length
  assert.ok(folded * 20 < whole, `groups ${folded} bytes, whole map ${whole} bytes`)
})
