// bench:sim's world at 1,000 agents (bench/sim-world.ts: the real member table, rumours, failure
// detector and election, in simulated time over a simulated network): a join wave through ten
// seeds ends with every agent holding every other alive and one coordinator followed by all,
// never two in office, and with a bounded number of election messages. Smaller worlds did not
// show what broke this size: from 415cbac to 93c695a a node that left its own bootstrap proposal
// answered each "no set" with more questions, and the join never converged (633,735 config
// queries in 50 simulated ms). AGENTMESH_TEST_SEED replays another schedule.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { SIM_DEFAULTS, seedsFor, World } from '../../bench/sim-world.js'
import { presets } from '../../node/presets.js'
import { DEFAULT_BOOTSTRAP_MAX_DELAY_MS, DEFAULT_CONFIRMATIONS_FOR_MIN, DEFAULT_GOSSIP_FANOUT } from '../../protocols/discovery/constants.js'

const SEED = Number(process.env.AGENTMESH_TEST_SEED ?? 1)
const N = 1000
/** Simulated: bench:sim's join converges in 17 s at this size (docs/benchmarks.md). */
const LIMIT_MS = 90_000
/** Questions before a bootstrap, votes, heartbeats to the voters and their acks: 3.0 per agent by convergence (seed 1). */
const MAX_ELECTION_PER_AGENT = 20

test(`simulated join wave of ${N} agents: all see all alive, one coordinator followed by all, never two in office, election messages bounded`, { timeout: 5 * 60_000 }, () => {
  console.log(`# seed ${SEED} (AGENTMESH_TEST_SEED replays another)`)
  const { membership, coordination } = presets.lan
  // bench:sim with no option: lan timings over 0.5-5 ms links, its defaults (ten seeds here).
  const { targetPeers, maxConnections, maxInbound, handOffAfterMs, feedbackLimit, exchangeFeedbackLimit, maxQueued } = SIM_DEFAULTS
  const world = new World({
    n: N,
    seed: SEED,
    membership: { ...membership, confirmationsForMin: DEFAULT_CONFIRMATIONS_FOR_MIN },
    coordination,
    latency: [0.5, 5],
    targetPeers,
    maxConnections,
    maxInbound,
    handOffAfterMs,
    joinMaxDelayMs: DEFAULT_BOOTSTRAP_MAX_DELAY_MS,
    gossipFanout: DEFAULT_GOSSIP_FANOUT,
    feedbackLimit,
    exchangeFeedbackLimit,
    maxQueued,
    seeds: seedsFor(N)
  })
  world.joinWave()
  // A storm plays millions of events on one simulated moment, which the check between simulated
  // steps below never sees: stopped here (every 2^20 events), by the messages it sent.
  world.onPlayed = () => {
    if (world.count.election.msgs > MAX_ELECTION_PER_AGENT * N) throw new Error(`seed ${SEED}: ${world.count.election.msgs} election messages by ${world.now.toFixed(0)} ms simulated: a storm`)
  }
  let converged = false
  world.run(LIMIT_MS, () => {
    if (world.upCount < N) return false
    converged = world.agents.every(a => a.alive === N - 1) && world.coordinator().followers === N
    return converged
  }, 100)
  const alive = world.agents.reduce((s, a) => s + a.alive, 0) / (N * (N - 1))
  const perAgent = world.count.election.msgs / N
  console.log(`# converged at ${(world.now / 1000).toFixed(1)} s simulated; ${world.played} events; election messages per agent ${perAgent.toFixed(1)}`)
  assert.ok(converged, `seed ${SEED}: at ${LIMIT_MS / 1000} s simulated, ${(100 * alive).toFixed(2)}% of pairs alive, ${world.coordinator().followers} of ${N} following one coordinator`)
  assert.equal(world.officeMax, 1, `seed ${SEED}: coordinators in office at once`)
  assert.ok(perAgent < MAX_ELECTION_PER_AGENT, `seed ${SEED}: ${perAgent.toFixed(1)} election messages per agent in the join`)
})
