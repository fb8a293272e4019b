// Voters keep a connection to each other (protocols/coordination/voter-links.ts). In a small mesh
// every agent probes every other, so links come anyway; the links matter where an agent holds a
// few connections among hundreds (bench:scale's fail-over, docs/benchmarks.md). Here they are
// driven alone: over real nodes on 127.0.0.1 that nothing else connects, and their rules by hand.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { VoterLinks } from '../../../protocols/coordination/voter-links.js'
import { nodeOptions, sleep, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const connected = (a: AgentNode, b: AgentNode): boolean => a.libp2p.getConnections(peerIdFromString(b.peerId)).some(c => c.status === 'open')

test('voter links over real nodes: three agents that know only each other\'s addresses end with one connection per pair, made by the lower id', { timeout: 3 * 60_000 }, async () => {
  // Three agents of three meshes, and no peer dialer (targetPeers 0: it would dial back a peer that
  // dialled in), so nothing of their own connects them: only the links made here.
  const nodes: AgentNode[] = []
  const links: VoterLinks[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const n = await createAgentNode(nodeOptions(uniqueMesh(), { name: `v${i}`, preset: 'local', connections: { targetPeers: 0 } }))
      await n.start()
      nodes.push(n)
    }
    // Where a node learns a voter's addresses in a mesh: the member statements put them in the peer store.
    for (const n of nodes) {
      for (const o of nodes) if (o !== n) await n.libp2p.peerStore.merge(peerIdFromString(o.peerId), { multiaddrs: o.libp2p.getMultiaddrs() })
    }
    const ids = nodes.map(n => n.peerId)
    for (const n of nodes) {
      const l = new VoterLinks({
        self: n.peerId,
        voters: () => ids,
        connected: p => n.libp2p.getConnections(peerIdFromString(p)).length > 0,
        dial: async (p, signal) => { await n.libp2p.dial(peerIdFromString(p), { signal }) },
        intervalMs: 100,
        dialTimeoutMs: 5_000
      })
      l.start()
      links.push(l)
    }
    const pairs = nodes.flatMap((a, i) => nodes.slice(i + 1).map((b): [AgentNode, AgentNode] => [a, b]))
    await waitFor(() => pairs.every(([a, b]) => connected(a, b)), 'every pair connected', 15_000)
    for (const [a, b] of pairs) {
      const conns = a.libp2p.getConnections(peerIdFromString(b.peerId))
      assert.equal(conns.length, 1, `one connection between ${a.name} and ${b.name}: ${conns.map(c => c.direction + ' ' + c.status).join(', ')}, lower ${a.peerId < b.peerId ? a.name : b.name}`)
      const dialler = a.peerId < b.peerId ? a : b
      assert.equal(conns[0].direction, dialler === a ? 'outbound' : 'inbound', `the lower id of ${a.name} and ${b.name} dialled`)
    }
    // A link closed is made again at the next round.
    const [a, b] = pairs[0]
    await a.libp2p.hangUp(peerIdFromString(b.peerId))
    await waitFor(() => connected(a, b), `${a.name} and ${b.name} connected again`, 15_000)
  } finally {
    for (const l of links) l.stop()
    await stopAll(nodes)
  }
})

test('voter links: of each pair the lower id dials, only while this node is a voter, once at a time, and again after a failure', { timeout: 3 * 60_000 }, async () => {
  const dialled: string[] = []
  let voters = ['b', 'c', 'a']
  const links = new VoterLinks({
    self: 'b',
    voters: () => voters,
    connected: p => p === 'x',
    dial: async (p) => { dialled.push(p); await sleep(20); throw new Error('unreachable') },
    intervalMs: 40,
    dialTimeoutMs: 1_000
  })
  links.start()
  links.check()
  links.check()
  assert.deepEqual(dialled, ['c'], 'b dials c (a dials b), one dial at a time')
  await waitFor(() => dialled.length >= 3, 'dials again after failures', 5_000)
  assert.deepEqual([...new Set(dialled)], ['c'])
  voters = ['a', 'c', 'x']
  await sleep(150)
  const before = dialled.length
  await sleep(200)
  assert.equal(dialled.length, before, 'not a voter: no dial')
  links.stop()
  links.check()
  assert.equal(dialled.length, before, 'stopped: no dial')
})
