// The mesh map (discovery/mesh-map.ts) ages agents by when this node heard them, not by the
// clock of the host that stamped the announcement: agents on hosts whose clocks are off still show,
// and leave once silent for three intervals.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { MeshMap, type MeshAnnouncement } from '../discovery/mesh-map.js'

const HOUR = 3_600_000
const ann = (peerId: string, at: number, peers: string[] = []): MeshAnnouncement => ({ peerId, name: peerId, roles: [], peers, rates: {}, at })

test('mesh map: agents whose clocks are an hour behind or ahead show, and leave three intervals after they were last heard', () => {
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
