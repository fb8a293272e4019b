// The addresses members state (protocols/discovery/member-addresses.ts): kept by the node, handed
// to libp2p as its peer routing when it dials a member, not merged into the peer store per author.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PeerId, PeerStore } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { StatedAddresses } from '../../../protocols/discovery/member-addresses.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const newId = async (): Promise<string> => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()

test('stated addresses: kept without a peer-store merge, found by the dial; a change merged; another peer\'s address ignored', { timeout: 10_000 }, async () => {
  const merges: Array<{ peer: string, addrs: string[] }> = []
  const merge = async (id: PeerId, data: { multiaddrs: Multiaddr[] }): Promise<void> => {
    merges.push({ peer: id.toString(), addrs: data.multiaddrs.map(String) })
  }
  const peerStore = { merge } as unknown as PeerStore
  const stated = new StatedAddresses({ peerStore })
  const [a, other] = [await newId(), await newId()]
  stated.learn(a, ['/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.1/tcp/4002/p2p/${a}`, `/ip4/10.0.0.9/tcp/1/p2p/${other}`, 'not an address'])
  assert.deepEqual(merges, [], 'a first statement goes to no peer store')
  assert.deepEqual(stated.find(a).map(String), ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.1/tcp/4002'], 'its own addresses, without the peer id; another peer\'s and garbage left out')
  const found = await stated.findPeer(peerIdFromString(a))
  assert.deepEqual(found.multiaddrs.map(String), ['/ip4/10.0.0.1/tcp/4001', '/ip4/10.0.0.1/tcp/4002'], 'what libp2p\'s dial gets for it')
  stated.learn(a, ['/ip4/10.0.0.1/tcp/4001', `/ip4/10.0.0.1/tcp/4002/p2p/${a}`, `/ip4/10.0.0.9/tcp/1/p2p/${other}`, 'not an address'])
  assert.deepEqual(merges, [], 'the same statement again: nothing')
  stated.learn(a, ['/ip4/10.0.0.1/tcp/5001'])
  assert.deepEqual(merges, [{ peer: a, addrs: ['/ip4/10.0.0.1/tcp/5001'] }], 'new addresses (a restart on another port) are merged, so an entry an earlier connection left is not dialled alone')
  assert.deepEqual(stated.find(a).map(String), ['/ip4/10.0.0.1/tcp/5001'])
  await assert.rejects(stated.findPeer(peerIdFromString(other)), (err: Error) => err.name === 'NotFoundError', 'a peer that stated nothing: not found')
  stated.learn(other, [`/ip4/10.0.0.9/tcp/1/p2p/${a}`])
  assert.deepEqual(stated.find(other), [], 'only addresses naming another peer: nothing kept')
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
