/**
 * The coordinator's announcement reaches an agent that joins after the election without waiting
 * for the periodic one (issue 15): the interval is long at rest (5 s by default, here ten
 * minutes, so only the announcement made on the join can explain what the newcomer knows).
 * Real nodes in one process, local timings with elections a loaded host keeps; a voter set capped
 * at three, so the newcomers are non-voters, which learn the coordinator from announcements alone.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { LOADED_HOST_ELECTIONS, nodeOptions, settledElection, startMesh, stopAll, waitFor } from '../../helpers.js'

// 2-4 s election timeouts: on the preset's 300-600 ms, agents in one process beside two other test
// files on two cores can lose their leader to a slow event loop, and the new term would read as
// an election the newcomer needed (issue 45).
const opts = { preset: 'local' as const, coordination: { bootstrapExpect: 3, maxVoters: 3, announceIntervalMs: 600_000, ...LOADED_HOST_ELECTIONS } }

test('an agent that joins after the election follows the coordinator at once, though the next periodic announcement is ten minutes away', { timeout: 3 * 60_000 }, async () => {
  const nodes: AgentNode[] = await startMesh(3, () => opts)
  try {
    // Settled first (the same coordinator and term seen by the three for a second): the term the
    // newcomers are judged against is not one of the moment after a win.
    const { leader, term } = await settledElection(nodes, 'one coordinator followed by the first three in its term')
    // Two newcomers, one after the other: each is a non-voter (the set is full) and joins after
    // the win's announcement went out.
    for (const name of ['late1', 'late2']) {
      const node = await createAgentNode(nodeOptions(nodes[0].config.mesh, { name, bootstrap: [nodes[1].addresses()[0]], ...opts }))
      nodes.push(node)
      await node.start()
      await waitFor(() => node.coordination.leader === leader.peerId, `${name} to follow ${leader.name}`, 20_000).catch((err: Error) => {
        // What each side saw: the newcomer's situation and peers, and whom the leader's announcements reach.
        const reach = leader.topicPeers('$agentmesh/coordinator')
        throw new Error(`${err.message}; ${name}: ${JSON.stringify(node.coordinator())}, peers ${node.peers().map(p => p.name).join(',')}, ` +
          `its coordinator topic ${JSON.stringify(node.topicPeers('$agentmesh/coordinator'))}; the leader's: ${JSON.stringify(reach)}, ` +
          `the leader sees ${name} ${leader.members().find(m => m.peerId === node.peerId)?.state ?? 'nowhere'}`)
      })
      assert.equal(node.coordination.term, term, 'in the term it was elected in: no election was needed')
      assert.ok(!leader.coordination.voters().includes(node.peerId), `${name} is a non-voter (the set holds three)`)
      assert.equal(node.coordinator().situation, 'following')
    }
    assert.ok(nodes.every(n => n.coordination.leader === leader.peerId), 'everyone still follows the same coordinator')
  } finally {
    await stopAll(nodes)
  }
})
