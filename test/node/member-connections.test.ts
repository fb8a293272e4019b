// The reconnector of node/member-connections.ts on the bounded graph: about
// VIEWS_RECONNECT_DIALERS agents of a mesh dial an agent held offline each interval, not every
// agent that holds it so; on the dialer graph every round dials. Its rounds' candidates are asked
// as its timer would ask them, with Math.random seeded (the seed is printed).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { memberConnections, VIEWS_RECONNECT_DIALERS } from '../../node/member-connections.js'
import { parseConfig } from '../../surfaces/index.js'
import type { AgentLibp2p } from '../../node/libp2p.js'
import type { MemberView } from '../../protocols/discovery/members.js'
import { seededRandom } from '../helpers.js'

const SEED = Number(process.env.AGENTMESH_TEST_SEED ?? 46)

test(`member connections: on views about ${VIEWS_RECONNECT_DIALERS} rounds in a mesh of N dial an agent held offline, whatever N; on the dialer graph each round does (seed ${SEED})`, { timeout: 60_000 }, (t) => {
  t.mock.method(Math, 'random', seededRandom(SEED))
  const rounds = (graph: 'views' | 'dialer', known: number): number => {
    const members = Array.from({ length: known }, (_, i) => `m${i}`)
    const memberView = {
      peersIn: (...states: string[]) => states.includes('alive') ? members : states.includes('offline') ? ['gone'] : [],
      stateOf: () => undefined,
      addEventListener: () => {},
      removeEventListener: () => {}
    } as unknown as MemberView
    const libp2p = { getPeers: () => [], getConnections: () => [] } as unknown as AgentLibp2p
    const [, reconnect] = memberConnections(libp2p, memberView, parseConfig({ connections: { graph } }))
    // The candidates its timer asks for each round (the Reconnector keeps them in its init).
    const candidates = (reconnect as unknown as { init: { candidates: () => string[] } }).init.candidates
    let dialling = 0
    for (let r = 0; r < 1_000; r++) if (candidates().includes('gone')) dialling++
    return dialling
  }
  // A mesh of N: N agents' rounds in an interval, each a chance of dialling; so N x rounds / 1,000 dialling a mesh interval.
  for (const n of [100, 1_000]) {
    const perInterval = rounds('views', n) * n / 1_000
    assert.ok(perInterval > VIEWS_RECONNECT_DIALERS / 3 && perInterval < VIEWS_RECONNECT_DIALERS * 3, `views, ${n} agents: ${perInterval} dialling an interval`)
    assert.equal(rounds('dialer', n), 1_000, `dialer graph, ${n} agents: every round`)
  }
  assert.equal(rounds('views', 5), 1_000, 'a mesh smaller than that: every round')
})
