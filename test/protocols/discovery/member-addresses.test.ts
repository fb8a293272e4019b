// The addresses members state (protocols/discovery/member-addresses.ts): kept by the node, handed
// to libp2p as its peer routing when it dials a member, not merged into the peer store per author.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Libp2pEvents, PeerId, PeerStore, PeerUpdate } from '@libp2p/interface'
import { TypedEventEmitter } from 'main-event'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { StatedAddresses } from '../../../protocols/discovery/member-addresses.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const newId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

test('stated addresses: kept without a peer-store merge, found by the dial; merged for a peer the store holds, or when they change; another peer\'s address ignored', { timeout: 10_000 }, async () => {
  const merges: Array<{ peer: string, addrs: string[] }> = []
  const merge = async (id: PeerId, data: { multiaddrs: Multiaddr[] }): Promise<void> => {
    merges.push({ peer: id.toString(), addrs: data.multiaddrs.map(String) })
  }
  const events = new TypedEventEmitter<Libp2pEvents>()
  const stated = new StatedAddresses({ peerStore: { merge } as unknown as PeerStore, events })
  stated.start()
  const [a, other, held] = [await newId(), await newId(), await newId()]
  assert.equal(stated.learn(a, ['/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.1/tcp/4002/p2p/${a}`, `/ip4/10.0.0.9/tcp/1/p2p/${other}`, 'not an address']), true, 'the first statement: news')
  assert.deepEqual(merges, [], 'a first statement goes to no peer store')
  assert.deepEqual(stated.find(a).map(String), ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.1/tcp/4002'], 'its own addresses, without the peer id; another peer\'s and garbage left out')
  const found = await stated.findPeer(peerIdFromString(a))
  assert.deepEqual(found.multiaddrs.map(String), ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.1/tcp/4002'], 'what libp2p\'s dial gets for it')
  assert.equal(stated.learn(a, ['/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.1/tcp/4002/p2p/${a}`, `/ip4/10.0.0.9/tcp/1/p2p/${other}`, 'not an address']), false, 'the same again: no news')
  assert.deepEqual(merges, [], 'the same statement again: nothing')
  // The store holds a (a connection, a hint): what it states next is merged, so no entry of its past is dialled alone.
  events.safeDispatchEvent('peer:update', { detail: { peer: { id: peerIdFromString(a) } } as unknown as PeerUpdate })
  assert.equal(stated.learn(a, ['/ip4/10.0.0.1/tcp/5001']), false)
  assert.deepEqual(merges, [{ peer: a, addrs: ['/ip4/10.0.0.1/tcp/5001'] }], 'new addresses (a restart on another port) of a peer the store holds are merged')
  assert.deepEqual(stated.find(a).map(String), ['/ip4/10.0.0.1/tcp/5001'])
  // A peer the store held before its first statement (an earlier run's address): merged at once.
  events.safeDispatchEvent('peer:update', { detail: { peer: { id: peerIdFromString(held) } } as unknown as PeerUpdate })
  assert.equal(stated.learn(held, ['/ip4/10.0.0.2/tcp/6001']), true)
  assert.deepEqual(merges.at(-1), { peer: held, addrs: ['/ip4/10.0.0.2/tcp/6001'] }, 'a first statement of a peer the store holds is merged')
  await assert.rejects(stated.findPeer(peerIdFromString(other)), (err: Error) => err.name === 'NotFoundError', 'a peer that stated nothing: not found')
  assert.equal(stated.learn(other, [`/ip4/10.0.0.9/tcp/1/p2p/${a}`]), false)
  assert.deepEqual(stated.find(other), [], 'only addresses naming another peer: nothing kept')
  await assert.rejects(async () => { for await (const _ of stated.getClosestPeers()) { /* none */ } }, (err: Error) => err.name === 'NotFoundError', 'a random walk that asks ends')
  stated.stop()
})

test('three agents: a member known only by rumour has no peer-store entry until it is dialled, and a request reaches it through its stated addresses', { timeout: 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    // One peer each at most (the dialer's target), no election (no voter links): a and c meet only through b's rumours.
    const opts = { preset: 'local' as const, connections: { targetPeers: 1 }, coordination: { eligible: false } }
    const b = await createAgentNode(nodeOptions(mesh, { name: 'b', ...opts }))
    await b.start()
    nodes.push(b)
    const a = await createAgentNode(nodeOptions(mesh, { name: 'a', bootstrap: [b.addresses()[0]], ...opts }))
    const c = await createAgentNode(nodeOptions(mesh, { name: 'c', bootstrap: [b.addresses()[0]], ...opts }))
    nodes.push(a, c)
    await Promise.all([a.start(), c.start()])
    c.handle('echo', (payload: unknown) => ({ echoed: payload }))
    await waitFor(() => a.member(c.peerId)?.state === 'alive' && c.member(a.peerId)?.state === 'alive', 'a and c alive to each other by rumour', 30_000)
    const connected = (): boolean => a.libp2p.getConnections(peerIdFromString(c.peerId)).length > 0
    assert.equal(connected(), false, 'a and c are not connected')
    const storedAddrs = async (): Promise<number> => await a.libp2p.peerStore.get(peerIdFromString(c.peerId)).then(p => p.addresses.length, () => 0)
    assert.equal(await storedAddrs(), 0, 'c\'s statement put nothing in a\'s peer store')
    assert.deepEqual(await a.request(c.peerId, 'echo', { n: 1 }), { echoed: { n: 1 } }, 'a reaches c by its peer id')
    assert.equal(connected(), true, 'through a connection it dialled')
    assert.ok(await storedAddrs() > 0, 'c\'s addresses are in a\'s peer store once dialled')
  } finally {
    await stopAll(nodes)
  }
})

test('the dialer graph: an agent below its target dials the members it hears of by rumour, through their stated addresses', { timeout: 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    const quiet = { preset: 'local' as const, coordination: { eligible: false } }
    const b = await createAgentNode(nodeOptions(mesh, { name: 'b', ...quiet, connections: { targetPeers: 1 } }))
    await b.start()
    nodes.push(b)
    const a = await createAgentNode(nodeOptions(mesh, { name: 'a', bootstrap: [b.addresses()[0]], ...quiet, connections: { targetPeers: 8 } }))
    await a.start()
    nodes.push(a)
    await waitFor(() => a.member(b.peerId)?.state === 'alive', 'a joined through b', 20_000)
    // Joined later, each through b and content with one peer: a hears of them from b's rumours only.
    const later: AgentNode[] = []
    for (const name of ['c', 'd', 'e']) {
      const n = await createAgentNode(nodeOptions(mesh, { name, bootstrap: [b.addresses()[0]], ...quiet, connections: { targetPeers: 1 } }))
      await n.start()
      nodes.push(n)
      later.push(n)
    }
    const linked = (n: AgentNode): boolean => a.libp2p.getConnections(peerIdFromString(n.peerId)).length > 0
    await waitFor(() => later.every(linked), 'a connected to c, d and e', 30_000).catch((err: Error) => {
      throw new Error(`${err.message}: a sees ${later.map(n => `${n.name} ${a.member(n.peerId)?.state ?? 'unknown'} ${linked(n) ? 'connected' : 'not connected'}`).join(', ')}`)
    })
  } finally {
    await stopAll(nodes)
  }
})
