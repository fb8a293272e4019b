// Peer <-> slot (protocols/discovery/slot-directory.ts), owned by one failure detector or shared by
// many (the scale simulation's agents): a detector on a shared directory must hold what one on
// its own holds, through random heartbeats, failed probes, suspicions, leaves, ticks and forgets,
// and one table's forgetting must not touch another's. Random steps from a printed seed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SlotDirectory } from '../../../protocols/discovery/slot-directory.js'
import { FailureDetector } from '../../../protocols/discovery/failure-detector.js'
import { seededRandom } from '../../../harness/random.js'

const CONFIG = { suspicionMinMs: 1_000, suspicionMaxMs: 5_000, confirmationsForMin: 3 }

test('slot directory: a peer keeps its slot; a released one goes to the next peer taken', { timeout: 10_000 }, () => {
  const d = new SlotDirectory()
  assert.equal(d.take('a'), 0)
  assert.equal(d.take('b'), 1)
  assert.equal(d.take('a'), 0, 'the same slot again')
  assert.equal(d.peerAt(1), 'b')
  d.release('a')
  assert.equal(d.slotOf('a'), undefined)
  assert.equal(d.take('c'), 0, 'a released slot is reused')
  assert.equal(d.end, 2)
})

test('failure detectors sharing a directory hold what each would on its own; a forget in one leaves the others alone', { timeout: 60_000 }, () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`slot directory: seed ${seed} (SEED=${seed} repeats it)`)
  const random = seededRandom(seed)
  const shared = new SlotDirectory()
  const pairs = Array.from({ length: 3 }, () => ({ own: new FailureDetector(CONFIG), onShared: new FailureDetector({ ...CONFIG, directory: shared }) }))
  const peers = Array.from({ length: 80 }, (_, i) => `p${i}`)
  const incarnation = new Map<string, number>()
  const sorted = <T extends { peer: string }>(xs: T[]): T[] => [...xs].sort((a, b) => a.peer < b.peer ? -1 : 1)
  let now = 0
  for (let step = 0; step < 6_000; step++) {
    now += Math.floor(random() * 300)
    const { own, onShared } = pairs[Math.floor(random() * pairs.length)]
    const p = peers[Math.floor(random() * peers.length)]
    const r = random()
    const both = <T>(f: (d: FailureDetector) => T): [T, T] => [f(own), f(onShared)]
    let out: [unknown, unknown]
    if (r < 0.35) {
      if (random() < 0.2) incarnation.set(p, (incarnation.get(p) ?? 0) + 1)
      out = both(d => d.heartbeat(p, incarnation.get(p) ?? 0, now))
    } else if (r < 0.55) out = both(d => d.probeFailed(p, 'me', now))
    else if (r < 0.7) {
      const by = peers[Math.floor(random() * peers.length)]
      out = both(d => d.suspicionReported(p, by, incarnation.get(p) ?? 0, now))
    } else if (r < 0.75) out = both(d => d.leave(p, incarnation.get(p) ?? 0, now))
    else if (r < 0.8) { both(d => { d.forget(p) }); out = [0, 0] } else if (r < 0.85) out = both(d => d.slot(p, true) !== undefined)
    else out = both(d => d.tick(now))
    assert.deepEqual(out[1], out[0], `step ${step}`)
    assert.deepEqual(sorted(onShared.view()), sorted(own.view()), `step ${step}: the view`)
    assert.deepEqual(sorted(onShared.lost()), sorted(own.lost()), `step ${step}: the lost`)
    assert.deepEqual([onShared.size, onShared.liveCount(), onShared.nextDeadline()], [own.size, own.liveCount(), own.nextDeadline()], `step ${step}`)
    assert.deepEqual(onShared.accuses(p), own.accuses(p))
  }
})
