// The failure detector alone, and the member table around it: pure state machines fed events
// and a simulated clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FailureDetector, type MemberState } from '../../../protocols/discovery/failure-detector.js'
import { MemberTable, sameButAccusations, type Heartbeat } from '../../../protocols/discovery/member-table.js'

const config = { suspicionMinMs: 1_000, suspicionMaxMs: 8_000, confirmationsForMin: 3 }

test('alive, suspect on a failed probe, offline when the suspicion runs out', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  assert.deepEqual(fd.heartbeat('b', 1, 0).map(t => t.to), ['alive'])
  assert.deepEqual(fd.probeFailed('b', 'a', 100).map(t => `${t.from}>${t.to}`), ['alive>suspect'])
  assert.equal(fd.nextDeadline(), 8_100)
  assert.deepEqual(fd.tick(8_099), [])
  assert.deepEqual(fd.tick(8_100).map(t => `${t.from}>${t.to}`), ['suspect>offline'])
  assert.equal(fd.nextDeadline(), undefined)
})

test('a heartbeat refutes a suspicion; a stale one does not', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  fd.heartbeat('b', 3, 0)
  fd.probeFailed('b', 'a', 10)
  assert.deepEqual(fd.heartbeat('b', 2, 20), [], 'an older incarnation is ignored')
  assert.equal(fd.state('b'), 'suspect')
  assert.deepEqual(fd.heartbeat('b', 3, 30).map(t => `${t.from}>${t.to}`), ['suspect>alive'])
  assert.deepEqual(fd.tick(100_000), [], 'no leftover deadline')
})

test('independent confirmations shorten the suspicion to the minimum; repeats do not', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  fd.heartbeat('b', 1, 0)
  fd.probeFailed('b', 'a', 0)
  fd.suspicionReported('b', 'a', 1, 10) // the same suspecter again: no change
  assert.equal(fd.nextDeadline(), 8_000)
  fd.suspicionReported('b', 'c', 1, 20)
  const afterOne = fd.nextDeadline() as number
  assert.ok(afterOne < 8_000 && afterOne > 1_000, `one confirmation shortens: ${afterOne}`)
  fd.suspicionReported('b', 'd', 1, 30)
  fd.suspicionReported('b', 'e', 1, 40)
  assert.equal(fd.nextDeadline(), 1_000, 'three confirmations: the minimum')
  assert.deepEqual(fd.tick(1_000).map(t => t.to), ['offline'])
  assert.equal(fd.timeoutFor(0), 8_000)
  assert.equal(fd.timeoutFor(99), 1_000)
})

test('a suspicion counts only at the incarnation the member itself said: above it is a lie, below it stale', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  fd.heartbeat('b', 5, 0)
  assert.deepEqual(fd.suspicionReported('b', 'x', Number.MAX_SAFE_INTEGER, 10), [], 'an incarnation b never said')
  assert.deepEqual(fd.suspicionReported('b', 'x', 6, 10), [], 'one above: b has not said it here (yet)')
  assert.deepEqual(fd.suspicionReported('b', 'x', 4, 10), [], 'one below: refuted already')
  assert.deepEqual([fd.state('b'), fd.incarnation('b'), fd.nextDeadline()], ['alive', 5, undefined], 'nothing changed, not even the incarnation')
  assert.deepEqual(fd.suspicionReported('b', 'x', 5, 20).map(t => `${t.from}>${t.to}@${t.incarnation}`), ['alive>suspect@5'])
  // While suspected, a lie confirms nothing either: the deadline stays one suspecter's.
  fd.suspicionReported('b', 'y', Number.MAX_SAFE_INTEGER, 30)
  assert.equal(fd.nextDeadline(), 20 + config.suspicionMaxMs)
  assert.deepEqual(fd.heartbeat('b', 6, 40).map(t => `${t.from}>${t.to}@${t.incarnation}`), ['suspect>alive@6'], 'refuted by b itself')
})

test('garbage incarnations are ignored', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  assert.deepEqual(fd.heartbeat('b', -1, 0), [])
  assert.deepEqual(fd.heartbeat('b', 1.5, 0), [])
  assert.equal(fd.state('b'), undefined)
})

test('left is final until the member returns with a newer incarnation', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  fd.heartbeat('b', 1, 0)
  assert.deepEqual(fd.leave('b', 1, 5).map(t => `${t.from}>${t.to}`), ['alive>left'])
  assert.deepEqual(fd.heartbeat('b', 1, 6), [])
  assert.deepEqual(fd.probeFailed('b', 'a', 7), [])
  assert.deepEqual(fd.heartbeat('b', 2, 8).map(t => `${t.from}>${t.to}`), ['left>alive'])
})

test('a slow node is not declared offline on one peer\'s word while it keeps talking', { timeout: 3 * 60_000 }, () => {
  const fd = new FailureDetector(config)
  fd.heartbeat('slow', 1, 0)
  let offline = 0
  for (let t = 0; t < 60_000; t += 500) {
    if (t % 3_000 === 0) fd.probeFailed('slow', 'a', t) // its answers are often late...
    if (t % 7_000 === 0) fd.heartbeat('slow', 1, t) // ...but it speaks within the suspicion window
    offline += fd.tick(t).filter(x => x.to === 'offline').length
  }
  assert.equal(offline, 0)
})

/** A small seeded PRNG, so a failing schedule can be replayed from its seed. */
function rng (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

test('2,000 random schedules: offline never comes sooner than the minimum suspicion, nor without one, nor from a stale word', { timeout: 3 * 60_000 }, () => {
  const peers = ['b', 'c', 'd', 'e']
  const observers = ['a', 'x', 'y', 'z']
  let offlines = 0
  let refuted = 0
  for (let seed = 1; seed <= 2_000; seed++) {
    const random = rng(seed)
    const fd = new FailureDetector(config)
    const suspectedAt = new Map<string, number>()
    const lastIncarnation = new Map<string, number>()
    let now = 0
    for (let step = 0; step < 200; step++) {
      now += Math.floor(random() * 800)
      const peer = peers[Math.floor(random() * peers.length)]
      const by = observers[Math.floor(random() * observers.length)]
      const r = random()
      const inc = (fd.incarnation(peer) ?? 0) + (random() < 0.2 ? 1 : random() < 0.1 ? -1 : 0)
      const ts = r < 0.4 ? fd.heartbeat(peer, inc, now)
        : r < 0.6 ? fd.probeFailed(peer, by, now)
          : r < 0.85 ? fd.suspicionReported(peer, by, inc, now)
            : r < 0.9 ? fd.leave(peer, inc, now)
              : fd.tick(now)
      for (const t of [...ts, ...fd.tick(now)]) {
        const where = `seed ${seed}, step ${step}, ${t.peer} ${t.from}>${t.to} at ${t.at}`
        if (t.to === 'suspect') suspectedAt.set(t.peer, t.at)
        if (t.to === 'alive' && t.from === 'suspect') refuted++
        if (t.to === 'offline') {
          offlines++
          assert.equal(t.from, 'suspect', `offline only after a suspicion (${where})`)
          const since = suspectedAt.get(t.peer) as number
          assert.ok(t.at - since >= config.suspicionMinMs, `suspicion lasted at least the minimum (${where})`)
          assert.ok(t.at - since <= config.suspicionMaxMs + 800, `and at most the maximum, give or take a step (${where})`)
        }
        assert.ok(t.incarnation >= (lastIncarnation.get(t.peer) ?? 0), `no transition lowers the incarnation (${where})`)
        lastIncarnation.set(t.peer, t.incarnation)
      }
      for (const p of peers) {
        const st: MemberState | undefined = fd.state(p)
        if (st !== 'suspect') suspectedAt.delete(p)
      }
    }
  }
  // The schedules must reach the transitions the invariants are about, or they prove nothing.
  assert.ok(offlines > 1_000 && refuted > 1_000, `offline verdicts ${offlines}, refuted suspicions ${refuted}`)
})

const timings = { heartbeatIntervalMs: 100, probeIntervalMs: 100, probeTimeoutMs: 50, silenceMs: 300, ...config }
const card = (peerId: string): Omit<Heartbeat, 'incarnation' | 'suspects'> => ({ peerId, name: peerId, roles: [], eligible: true })
const beat = (peerId: string, incarnation: number, suspects: Heartbeat['suspects'] = [], extra: Partial<Heartbeat> = {}): Heartbeat =>
  ({ ...card(peerId), incarnation, suspects, ...extra })
const states = (t: MemberTable): Record<string, string> => Object.fromEntries(t.members().map(m => [m.peerId, `${m.state}@${m.incarnation}`]))

test('member table: a heartbeat speaks for its sender only; its incarnation, "leaving" or card claimed for another agent are dropped', { timeout: 3 * 60_000 }, () => {
  const t = new MemberTable({ ...timings, self: card('a'), incarnation: 10, random: () => 0.5 })
  t.heartbeat(beat('b', 3), 0)
  t.heartbeat(beat('b', Number.MAX_SAFE_INTEGER, [], { leaving: true, name: 'forged' }), 10, 'mallory')
  t.heartbeat(beat('b', 4, [], { name: 'forged' }), 20, 'mallory')
  assert.deepEqual(states(t), { b: 'alive@3' })
  assert.equal(t.members()[0].name, 'b')
  t.heartbeat(beat('a', 99, [], { leaving: true }), 30, 'a')
  assert.deepEqual(states(t), { b: 'alive@3' }, 'nor is this node a member of its own view')
})

test('member table: suspicions count only from a member known before, and only up to the incarnation the suspect said', { timeout: 3 * 60_000 }, () => {
  const t = new MemberTable({ ...timings, self: card('a'), incarnation: 10, random: () => 0.5 })
  t.heartbeat(beat('b', 3), 0)
  // A stranger's first heartbeat accuses nobody; it is a member from then on.
  t.heartbeat(beat('m', 1, [{ peerId: 'b', incarnation: 3 }]), 10)
  assert.deepEqual(states(t), { b: 'alive@3', m: 'alive@1' })
  // A known member's suspicion of an incarnation b never said (the attack of issue 13): nothing.
  for (let now = 20; now < 20 + 10 * config.suspicionMaxMs; now += 100) {
    t.heartbeat(beat('m', 1, [{ peerId: 'b', incarnation: Number.MAX_SAFE_INTEGER }]), now)
    t.tick(now)
  }
  assert.deepEqual(states(t), { b: 'alive@3', m: 'alive@1' }, 'b is still alive, at its own incarnation')
  assert.ok(!t.drain().changes.some(c => c.peerId === 'b' && c.to !== 'alive'))
  // The same member's suspicion at b's own incarnation counts, and b's own word refutes it.
  t.heartbeat(beat('m', 1, [{ peerId: 'b', incarnation: 3 }]), 100_000)
  assert.deepEqual(states(t).b, 'suspect@3')
  t.heartbeat(beat('b', 4), 100_010)
  assert.deepEqual(states(t).b, 'alive@4')
  // A member that left accuses nobody either.
  t.heartbeat(beat('m', 1, [], { leaving: true }), 100_020)
  t.heartbeat(beat('m', 1, [{ peerId: 'b', incarnation: 4 }]), 100_030)
  assert.deepEqual(states(t), { b: 'alive@4', m: 'left@1' })
})

test('member table: a heartbeat tells whether it was news here; accusations past the confirmations\' limit, repeated, stale or of a member offline are not', { timeout: 3 * 60_000 }, () => {
  const t = new MemberTable({ ...timings, self: card('a'), incarnation: 10, random: () => 0.5 })
  assert.equal(t.heartbeat(beat('x', 3), 0), true, 'a member first heard')
  for (const p of ['c1', 'c2', 'c3', 'c4', 'c5', 'c6']) assert.equal(t.heartbeat(beat(p, 1), 0), true)
  assert.equal(t.heartbeat(beat('x', 3), 10), false, 'the same word again (a new seq of nothing new)')
  assert.equal(t.heartbeat(beat('x', 3, [], { name: 'renamed' }), 20), true, 'a card changed')
  assert.equal(t.heartbeat(beat('x', 4, [], { name: 'renamed' }), 30), true, 'a new incarnation')
  // x suspected: the first accusation, then confirmations up to confirmationsForMin (3) shorten its end.
  const x4 = (by: string): Heartbeat => beat(by, 1, [{ peerId: 'x', incarnation: 4 }])
  assert.equal(t.heartbeat(x4('c1'), 100), true, 'the first accusation makes x suspect')
  assert.equal(states(t).x, 'suspect@4')
  assert.equal(t.heartbeat(x4('c1'), 110), false, 'the same accuser again')
  assert.equal(t.heartbeat(x4('c2'), 120), true, 'a confirmation: the suspicion ends sooner')
  assert.equal(t.heartbeat(x4('c3'), 130), true)
  assert.equal(t.heartbeat(x4('c4'), 140), true, 'the third confirmation brings it to suspicionMinMs')
  assert.equal(t.heartbeat(x4('c5'), 150), false, 'a fourth moves nothing: passed on as old news')
  assert.equal(t.heartbeat(beat('c6', 1, [{ peerId: 'x', incarnation: 3 }]), 160), false, 'an accusation of an incarnation refuted already')
  assert.equal(t.heartbeat(beat('c6', 1, [{ peerId: 'x', incarnation: 5 }]), 170), true, 'one of an incarnation this node has not heard: it cannot weigh it')
  assert.equal(t.heartbeat(beat('c6', 1, [{ peerId: 'unknown', incarnation: 1 }]), 180), true, 'one of a member unknown here')
  assert.equal(t.heartbeat(beat('c5', 1, [{ peerId: 'x', incarnation: 4 }, { peerId: 'a', incarnation: 10 }]), 190), true, 'one of this node')
  t.tick(100_000)
  assert.equal(states(t).x, 'offline@4')
  assert.equal(t.heartbeat(beat('c6', 1, [{ peerId: 'x', incarnation: 4 }]), 100_010), false, 'one of a member held offline')
  // An accusation that could not be weighed when first heard (an incarnation of y not heard here
  // yet), told again once y's own word caught up: it makes y suspect now, so it is news now.
  t.heartbeat(beat('y', 1), 100_020)
  assert.equal(t.heartbeat(beat('c6', 1, [{ peerId: 'y', incarnation: 2 }]), 100_030), true, 'y@2 not heard here: not weighed, told in full')
  assert.equal(states(t).y, 'alive@1')
  t.heartbeat(beat('y', 2), 100_040)
  assert.equal(t.heartbeat(beat('c6', 1, [{ peerId: 'y', incarnation: 2 }]), 100_050), true, 'the same accusation, now the one that makes y suspect')
  assert.equal(states(t).y, 'suspect@2')
})

test('member table: only a statement that says what its author said before but for its accusations may go as old news; a refutation heard first through a probe is still news to the mesh', { timeout: 3 * 60_000 }, () => {
  const st = (extra: Partial<Heartbeat & { addrs: string[], topics: string[] }> = {}): Heartbeat & { addrs?: string[], topics?: string[] } =>
    ({ ...beat('x', 4, [{ peerId: 'y', incarnation: 1 }]), addrs: ['/ip4/10.0.0.1/tcp/1'], topics: ['k1'], ...extra })
  assert.equal(sameButAccusations(st(), st({ suspects: [{ peerId: 'y', incarnation: 1 }, { peerId: 'z', incarnation: 2 }] })), true, 'accusations alone differ')
  assert.equal(sameButAccusations(st({ addrs: undefined, topics: undefined }), st({ addrs: [], topics: [] })), true, 'no list and an empty one are the same')
  assert.equal(sameButAccusations(st(), st({ incarnation: 5 })), false, 'a new incarnation (a refutation, a restart)')
  assert.equal(sameButAccusations(st(), st({ leaving: true })), false, 'a leave')
  assert.equal(sameButAccusations(st(), st({ name: 'renamed' })), false, 'a card')
  assert.equal(sameButAccusations(st(), st({ eligible: false })), false, 'eligibility')
  assert.equal(sameButAccusations(st(), st({ roles: ['worker'] })), false, 'roles')
  assert.equal(sameButAccusations(st(), st({ addrs: ['/ip4/10.0.0.2/tcp/1'] })), false, 'addresses')
  assert.equal(sameButAccusations(st(), st({ topics: ['k1', 'k2'] })), false, 'topics')
  // The table learns x's refutation from a probe's answer first; its statement then tells the
  // table nothing, and only the comparison with x's statement before keeps it news.
  const t = new MemberTable({ ...timings, self: card('a'), incarnation: 10, random: () => 0.5 })
  t.heartbeat(beat('x', 4), 0)
  t.heartbeat(beat('c', 1), 0)
  t.heartbeat(beat('c', 1, [{ peerId: 'x', incarnation: 4 }]), 10)
  assert.equal(states(t).x, 'suspect@4')
  for (const p of t.probeRound(20)) t.probeStarted(p, 20, 50)
  t.probeAnswered('x', { incarnation: 5, eligible: true, name: 'x', roles: [] }, 30)
  assert.equal(states(t).x, 'alive@5', 'refuted through the probe')
  assert.equal(t.heartbeat(beat('x', 5), 40), false, 'the refutation statement tells this table nothing new')
  assert.equal(sameButAccusations(beat('x', 4), beat('x', 5)), false, 'but is not old news: told in full')
})

test('member table: this node refutes a suspicion of its own incarnation, and takes none of one it never had', { timeout: 3 * 60_000 }, () => {
  const t = new MemberTable({ ...timings, self: card('a'), incarnation: 10, random: () => 0.5 })
  t.heartbeat(beat('b', 3), 0)
  t.drain()
  t.heartbeat(beat('b', 3, [{ peerId: 'a', incarnation: Number.MAX_SAFE_INTEGER }]), 10)
  assert.equal(t.incarnation, 10, 'a suspicion of a future incarnation is a lie: it would leave nothing to refute with')
  assert.equal(t.drain().announce, false)
  t.heartbeat(beat('b', 3, [{ peerId: 'a', incarnation: 9 }]), 20)
  assert.equal(t.incarnation, 10, 'a stale one is refuted already')
  t.heartbeat(beat('b', 3, [{ peerId: 'a', incarnation: 10 }]), 30)
  assert.equal(t.incarnation, 11, 'refuted with the next incarnation')
  assert.equal(t.drain().announce, true, 'and told at once')
  assert.equal(t.announcement().incarnation, 11)
})

test('the live count, the members lost and the next deadline, kept as states change, agree with a walk of every member', { timeout: 3 * 60_000 }, async () => {
  const { seededRandom } = await import('../../helpers.js')
  const random = seededRandom(7)
  const fd = new FailureDetector(config)
  const peers = Array.from({ length: 40 }, (_, i) => `p${i}`)
  const incarnations = new Map<string, number>()
  for (let now = 0; now < 60_000; now += 50) {
    const p = peers[Math.floor(random() * peers.length)]
    const inc = incarnations.get(p) ?? 1
    const r = random()
    if (r < 0.35) fd.heartbeat(p, inc, now)
    else if (r < 0.55) fd.probeFailed(p, 'me', now)
    else if (r < 0.7) fd.suspicionReported(p, `q${Math.floor(random() * 5)}`, inc, now)
    else if (r < 0.75) { incarnations.set(p, inc + 1); fd.heartbeat(p, inc + 1, now) } else if (r < 0.78) fd.leave(p, inc, now)
    else if (r < 0.8) fd.forget(p)
    else fd.tick(now)
    const view = fd.view()
    assert.equal(fd.liveCount(), view.filter(v => v.state === 'alive' || v.state === 'suspect').length, `live count at ${now}`)
    assert.deepEqual(fd.lost().map(v => v.peer).sort(), view.filter(v => v.state === 'suspect' || v.state === 'offline').map(v => v.peer).sort(), `lost at ${now}`)
    const deadlines = view.filter(v => v.state === 'suspect').length
    assert.equal(fd.nextDeadline() === undefined, deadlines === 0, `a deadline exactly when someone is suspected, at ${now}`)
  }
})

test('member table: one member\'s entry, and each member\'s state and eligibility, agree with the whole view over random events', { timeout: 3 * 60_000 }, async () => {
  const { seededRandom } = await import('../../helpers.js')
  const random = seededRandom(11)
  const t = new MemberTable({ ...timings, self: card('a'), incarnation: 10, random })
  const peers = Array.from({ length: 30 }, (_, i) => `p${i}`)
  for (let now = 0; now < 30_000; now += 50) {
    const p = peers[Math.floor(random() * peers.length)]
    const r = random()
    if (r < 0.4) t.heartbeat(beat(p, 1 + Math.floor(now / 5_000), [], { eligible: random() < 0.5, name: `${p}-${now}` }), now)
    else if (r < 0.6) t.probeFailed(p, now)
    else if (r < 0.65) t.heartbeat(beat(p, 1 + Math.floor(now / 5_000), [], { leaving: true }), now)
    else if (r < 0.67) t.reap(now, 2_000)
    else t.tick(now)
    const all = t.members()
    for (const m of all) assert.deepEqual(t.member(m.peerId), m, `${m.peerId} at ${now}`)
    assert.equal(t.member('nobody'), undefined)
    const walked: Array<{ peerId: string, state: MemberState, eligible: boolean }> = []
    t.forEach((peerId, state, eligible) => { walked.push({ peerId, state, eligible }) })
    assert.deepEqual(walked, all.map(m => ({ peerId: m.peerId, state: m.state, eligible: m.eligible })), `forEach at ${now}`)
  }
})
