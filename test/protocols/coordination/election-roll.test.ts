// The election reads the member view through a roll (protocols/coordination/election-roll.ts):
// handed whole (setMembers, as the node's ElectionService does) or lent by a driver that holds
// the view and tells only who entered it (readRoll, membersEntered, as bench/sim-world.ts does).
// The two must lead the election the same way: same voters added, same quorum counted, same
// announcements to newcomers. Pure; random member changes from a printed seed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Election, type MemberInfo } from '../../../protocols/coordination/election.js'
import { LONE_TIMINGS, fakeKeys } from '../../../harness/election-fakes.js'
import { seededRandom } from '../../../harness/random.js'

const HEARTBEAT_MS = LONE_TIMINGS.heartbeatIntervalMs
const TIMINGS = LONE_TIMINGS

type State = 'alive' | 'left' | 'offline'

/** A member view the test changes, and the two ways of telling an election of it. */
class View {
  readonly states = new Map<string, State>()
  private entered: string[] = []
  set (peer: string, to: State): void {
    const was = this.states.get(peer)
    if (was !== to && (to === 'alive' || to === 'left')) this.entered.push(peer)
    this.states.set(peer, to)
  }

  private info (p: string): MemberInfo { return this.states.get(p) === 'left' ? { peer: p, eligible: true, left: true } : { peer: p, eligible: true } }
  list (): MemberInfo[] { return [...this.states].filter(([, s]) => s !== 'offline').map(([p]) => this.info(p)) }
  lend (e: Election): void {
    e.readRoll({
      alive: p => this.states.get(p) === 'alive',
      members: () => [...this.states].filter(([, s]) => s === 'alive').map(([p]) => this.info(p)),
      left: () => [...this.states].filter(([, s]) => s === 'left').map(([p]) => this.info(p))
    })
  }

  tellEntered (e: Election): void {
    e.membersEntered([...new Set(this.entered)].filter(p => this.states.get(p) !== 'offline').map(p => this.info(p)))
    this.entered = []
  }
}

const make = (): Election => new Election({ self: 'a', eligible: true, ...TIMINGS, random: () => 0.5, now: 0, keys: fakeKeys('a') })

/**
 * Ticks through `ms` of wakeups (with `review`, the leader's voter review after each, as a driver
 * does); whether it announced. Nobody acks: a leader that added a voter loses its office, alike both ways.
 */
function run (e: Election, from: number, ms: number, review = false): boolean {
  let now = from
  let announced = false
  while (now < from + ms) {
    now = Math.max(now + 1, Math.min(e.nextWakeup(), from + ms))
    e.tick(now)
    if (review) e.reviewVoters(now) // as a driver does after each wakeup: a leader adds a voter it sees
    if (e.drain().announce !== undefined) announced = true
  }
  return announced
}

test('election roll: a leader told by a lent roll that a member entered announces soon; one that left, or is already known, does not make it', { timeout: 10_000 }, () => {
  const view = new View()
  const a = make()
  view.lend(a)
  let now = 0
  for (let i = 0; i < 100 && a.currentRole !== 'leader'; i++) { now = Math.max(now + 1, a.nextWakeup()); a.tick(now); a.drain() }
  assert.equal(a.currentRole, 'leader')
  run(a, now, 5_000)
  now += 5_000
  view.set('left-one', 'left')
  view.tellEntered(a)
  assert.equal(run(a, now, 5_000), false, 'a member that left is no newcomer')
  now += 5_000
  view.set('b', 'alive')
  view.tellEntered(a)
  assert.equal(run(a, now, 3 * HEARTBEAT_MS), true, 'a newcomer: announced within a few heartbeats')
  now += 3 * HEARTBEAT_MS
  view.tellEntered(a)
  assert.equal(run(a, now, 5_000), false, 'nothing entered since: no announcement')
  assert.equal(a.status(now).quorum.reachable, 1, 'the voters are a alone')
})

test('election roll: handed whole or lent, an election leads the same way through random member changes (voters, quorum, announcements)', { timeout: 60_000 }, () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`election roll equivalence: seed ${seed} (SEED=${seed} repeats it)`)
  const random = seededRandom(seed)
  const view = new View()
  const whole = make()
  const lent = make()
  view.lend(lent)
  const peers = Array.from({ length: 12 }, (_, i) => `p${i}`)
  let now = 0
  // Both lead alone first; then members come and go, and the leader adds voters (which, unanswered, cost it its office).
  for (let i = 0; i < 100 && whole.currentRole !== 'leader'; i++) { now = Math.max(now + 1, whole.nextWakeup()); for (const e of [whole, lent]) { e.tick(now); e.drain() } }
  assert.equal(lent.currentRole, 'leader')
  let voted = 0
  for (let step = 0; step < 300; step++) {
    const p = peers[Math.floor(random() * peers.length)]
    const r = random()
    view.set(p, r < 0.6 ? 'alive' : r < 0.8 ? 'offline' : 'left')
    whole.setMembers(view.list())
    view.tellEntered(lent)
    const ms = Math.floor(random() * 1_000)
    const [aw, al] = [run(whole, now, ms, true), run(lent, now, ms, true)]
    now += ms
    assert.equal(al, aw, `step ${step}: announced alike`)
    const [sw, sl] = [whole.status(now), lent.status(now)]
    assert.deepEqual({ role: sl.role, term: sl.term, voters: sl.voters, quorum: sl.quorum }, { role: sw.role, term: sw.term, voters: sw.voters, quorum: sw.quorum }, `step ${step}`)
    if (sl.voters.length > 1) voted++
  }
  assert.ok(voted > 0, 'members were added as voters on the way (the lists were read)')
})
