// The mesh map (protocols/discovery/mesh-map.ts) ages agents by when this node heard them, not by the
// clock of the host that stamped the announcement: agents on hosts whose clocks are off still show,
// and leave once silent for three intervals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MeshMap, type MeshAnnouncement } from '../../../protocols/discovery/mesh-map.js'
import { MeshAnnouncer } from '../../../protocols/discovery/mesh-announcer.js'
import type { Membership } from '../../../protocols/discovery/membership.js'
import type { PubSubService } from '../../../protocols/pubsub/index.js'
import { createAgentNode, type CreateAgentNodeOptions } from '../../../surfaces/index.js'
import { nodeOptions, uniqueMesh, waitFor } from '../../helpers.js'
import { meshStatus } from '../../../surfaces/cli/status.js'

const HOUR = 3_600_000
const ann = (peerId: string, at: number, peers: string[] = []): MeshAnnouncement => ({ peerId, name: peerId, roles: [], peers, rates: {}, at })

test('mesh map: agents whose clocks are an hour behind or ahead show, and leave three intervals after they were last heard', { timeout: 3 * 60_000 }, () => {
  const t0 = 1_800_000_000_000
  const map = new MeshMap(() => ann('me', t0, ['behind', 'ahead']), 1_000)
  map.record(ann('behind', t0 - HOUR, ['me']), t0)
  map.record(ann('ahead', t0 + HOUR, ['me']), t0)
  const at = (now: number): string[] => map.snapshot(now).nodes.map(n => n.peerId).sort()
  assert.deepEqual(at(t0 + 500), ['ahead', 'behind', 'me'])
  assert.deepEqual(map.snapshot(t0 + 500).edges.length, 2)
  assert.equal(map.snapshot(t0 + 500).nodes.find(n => n.peerId === 'behind')?.ageMs, 500)
  // 'behind' speaks again (its clock still an hour off); 'ahead' falls silent.
  map.record(ann('behind', t0 - HOUR + 2_500), t0 + 2_500)
  assert.deepEqual(at(t0 + 3_001), ['behind', 'me'])
  // A copy of an announcement already held, or an older one, does not keep an agent on the map.
  map.record(ann('behind', t0 - HOUR + 2_500), t0 + 5_000)
  map.record(ann('behind', t0 - HOUR), t0 + 5_000)
  assert.deepEqual(at(t0 + 5_600), ['me'])
})

test('mesh map: an agent whose host clock steps back keeps its place on the others\' maps', { timeout: 3 * 60_000 }, (t) => {
  const t0 = 1_800_000_000_000
  t.mock.timers.enable({ apis: ['Date'], now: t0 })
  const announcer = new MeshAnnouncer({
    self: { peerId: 'stepper', name: 'stepper', roles: [] },
    membership: { peerIds: () => [] } as unknown as Membership,
    pubsub: undefined as unknown as PubSubService,
    intervalMs: 1_000,
    takeCounts: () => new Map(),
    watch: false
  })
  const map = new MeshMap(() => ann('me', t0), 1_000)
  const first = announcer.announcement()
  map.record(first, t0)
  t.mock.timers.tick(1_000)
  t.mock.timers.setTime(t0 - HOUR) // NTP stepped the clock back an hour
  const later = announcer.announcement()
  assert.ok(later.at > first.at, 'stamped after the one before')
  map.record(later, t0 + 2_500)
  map.record(announcer.announcement(), t0 + 5_000)
  assert.deepEqual(map.snapshot(t0 + 6_000).nodes.map(n => n.peerId).sort(), ['me', 'stepper'], 'heard at 5 s: still on the map at 6 s')
})

test('mesh map: an agent restarted with its clock behind its earlier life replaces that life once it is past its time', { timeout: 3 * 60_000 }, () => {
  const t0 = 1_800_000_000_000
  const map = new MeshMap(() => ann('me', t0), 1_000)
  map.record(ann('phoenix', t0, ['me']), t0)
  // Restarted at once, its clock an hour behind: the earlier life's entry is still current.
  map.record(ann('phoenix', t0 - HOUR + 1_000, []), t0 + 1_000)
  assert.deepEqual(map.snapshot(t0 + 1_500).edges.length, 1, 'the earlier life is shown while current')
  map.record(ann('phoenix', t0 - HOUR + 4_000, []), t0 + 4_000)
  const s = map.snapshot(t0 + 4_500)
  assert.deepEqual(s.nodes.map(n => n.peerId).sort(), ['me', 'phoenix'], 'still on the map')
  assert.equal(s.edges.length, 0, 'as its new life announced itself')
})

test('mesh map: an agent with no connection to the watching node is dialled by it and shows on its map', { timeout: 3 * 60_000 }, async (t) => {
  // w watches (debug endpoint); a joins through w, b through a. No peer dialer anywhere (targetPeers
  // 0), so only the watcher's own dial can connect b to w: b's announcements go to the watchers it is
  // connected to and nowhere else (gossip goes through subscribers, and only watchers subscribe).
  const mesh = uniqueMesh()
  const opts = (name: string, extra: CreateAgentNodeOptions = {}): CreateAgentNodeOptions =>
    nodeOptions(mesh, { name, preset: 'local', meshAnnounceIntervalMs: 1_000, connections: { targetPeers: 0 }, ...extra })
  const w = await createAgentNode(opts('w', { debug: '127.0.0.1:0' }))
  await w.start()
  t.after(async () => { await w.stop() })
  const a = await createAgentNode(opts('a', { bootstrap: [w.addresses()[0]] }))
  await a.start()
  t.after(async () => { await a.stop() })
  // b is not eligible to coordinate: voters keep links to each other (voter-links.ts), which would connect it to w.
  const b = await createAgentNode(opts('b', { bootstrap: [a.addresses()[0]], coordination: { eligible: false } }))
  await b.start()
  t.after(async () => { await b.stop() })
  // Announced: a member w knows of is on its map before its announcement arrives (see the test after).
  const onMap = async (): Promise<string[]> => ((await (await fetch(`${w.debugUrl as string}/mesh`)).json()).nodes as Array<{ name: string, announced?: false }>).filter(n => n.announced !== false).map(n => n.name).sort()
  await waitFor(async () => (await onMap()).length === 3, 'w\'s map to hold w, a and b', 30_000)
  assert.deepEqual(await onMap(), ['a', 'b', 'w'])
  assert.ok(w.libp2p.getConnections(b.libp2p.peerId).some(c => c.direction === 'outbound'), 'w dialled b')
  assert.equal(a.libp2p.getConnections(b.libp2p.peerId).length > 0, true, 'b joined through a')
})

test('mesh map: a member not heard announcing yet is on the map, unannounced, linked by those that announce it; its own announcement replaces it', { timeout: 3 * 60_000 }, () => {
  const t0 = 1_800_000_000_000
  const members = new Map([['quiet', { name: 'quiet', roles: ['agent'], lastHeard: t0 - 2_000 }], ['loud', { name: 'loud', roles: ['agent'], lastHeard: t0 }]])
  const map = new MeshMap(() => ann('me', t0, ['quiet', 'loud']), 1_000, { ids: () => members.keys(), info: id => members.get(id) })
  map.record(ann('loud', t0, ['me', 'quiet']), t0)
  const s = map.snapshot(t0 + 500)
  assert.deepEqual(s.nodes.map(n => [n.name, n.announced ?? true, n.ageMs]).sort(), [['loud', true, 500], ['me', true, 0], ['quiet', false, 2_500]])
  assert.deepEqual(s.edges.map(e => [e.a, e.b].sort().join('-')).sort(), ['loud-me', 'loud-quiet', 'me-quiet'])
  assert.equal(s.ageMs, 500, 'the map\'s age is its announcements\'')
  assert.equal(map.hears('quiet', t0 + 500), false, 'not heard: the watcher still dials it (misses)')
  map.record(ann('quiet', t0 + 600, ['me']), t0 + 600)
  assert.equal(map.snapshot(t0 + 700).nodes.find(n => n.name === 'quiet')?.announced, undefined, 'announced now')
  // Silent past three intervals: still a member (loud) it is shown unannounced again; gone from
  // the member view too (quiet: dead, left), off the map.
  members.delete('quiet')
  assert.deepEqual(map.snapshot(t0 + 600 + 3_001).nodes.map(n => [n.name, n.announced ?? true]).sort(), [['loud', false], ['me', true]])
})

test('mesh map: an agent that has not announced itself shows on the watcher\'s /mesh and in `status` as the member it is, linked to the watcher', { timeout: 3 * 60_000 }, async (t) => {
  // q never announces (meshAnnounceIntervalMs 0), as if each of its announcements were lost: the
  // watcher knows it only as a member, which is what it shows until an announcement comes.
  const mesh = uniqueMesh()
  const w = await createAgentNode(nodeOptions(mesh, { name: 'w', preset: 'local', debug: '127.0.0.1:0', meshAnnounceIntervalMs: 1_000 }))
  await w.start()
  t.after(async () => { await w.stop() })
  const q = await createAgentNode(nodeOptions(mesh, { name: 'q', preset: 'local', bootstrap: [w.addresses()[0]], meshAnnounceIntervalMs: 0 }))
  await q.start()
  t.after(async () => { await q.stop() })
  const url = w.debugUrl as string
  await waitFor(async () => (await meshStatus(url)).rows.length === 2, 'w\'s map to hold q', 30_000)
  const { nodes, edges } = await (await fetch(`${url}/mesh`)).json() as { nodes: Array<{ name: string, announced?: false }>, edges: Array<{ a: string, b: string }> }
  assert.deepEqual(nodes.map(n => [n.name, n.announced ?? true]).sort(), [['q', false], ['w', true]])
  assert.deepEqual(edges.map(e => [e.a, e.b].sort()), [[q.peerId, w.peerId].sort()], 'the link w announces')
  const rows = (await meshStatus(url)).rows
  assert.deepEqual(rows.map(r => [r.name, r.peers]), [['w', 1], ['q', 1]])
})
