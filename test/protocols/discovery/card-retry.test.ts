/**
 * The card exchange is started once per connection, by the dialling side, when identify
 * finishes (protocols/discovery/membership.ts). One that got no answer, or an identify that never
 * finished, used to be the end of it: the connection stayed, the dialers leave a connected peer
 * alone, and the two agents stayed connected and unknown to each other until the connection
 * closed. The fault campaign found pairs of agents so a minute and more after a heal. Now every
 * connected peer without a card is asked for one again. Real nodes on 127.0.0.1; the peer that
 * leaves the first exchange unanswered answers card exchanges itself (its own membership
 * stopped).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { Membership } from '../../../protocols/discovery/membership.js'
import { CardExchange } from '../../../protocols/discovery/card.js'
import { RpcService } from '../../../protocols/rpc/index.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const rpcOf = (node: AgentNode): RpcService => node.services.find(s => s instanceof RpcService) as RpcService
const membershipOf = (node: AgentNode): Membership => node.services.find(s => s instanceof Membership) as Membership

/** Agent b answering card exchanges itself: the first one only after `firstAfterMs`, the next ones at once. */
async function scriptedPeer (mesh: string, firstAfterMs: number, timers: Set<ReturnType<typeof setTimeout>>): Promise<{ b: AgentNode, asked: () => number }> {
  const b = await createAgentNode(nodeOptions(mesh, { preset: 'local', name: 'b' }))
  await b.start()
  membershipOf(b).stop()
  let asked = 0
  rpcOf(b).handle(CardExchange, async () => {
    if (++asked === 1 && firstAfterMs > 0) await new Promise(resolve => { const t = setTimeout(resolve, firstAfterMs); timers.add(t) })
    return { card: b.card(), peers: [] }
  })
  return { b, asked: () => asked }
}

test('a card exchange left unanswered is asked again on the connection that stays, and the agents know each other', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const { b, asked } = await scriptedPeer(mesh, 15_000, timers)
  const a = await createAgentNode(nodeOptions(mesh, { preset: 'local', name: 'a' }))
  try {
    await a.start()
    await a.dial(b.addresses()[0])
    // The first answer comes 15 s later, after a gave up on it (10 s).
    await waitFor(() => a.peers().some(p => p.peerId === b.peerId), 'a to know b after its first exchange went unanswered', 45_000)
    assert.ok(asked() >= 2, `b was asked ${asked()} times`)
    assert.equal(a.peers().find(p => p.peerId === b.peerId)?.name, 'b')
  } finally {
    for (const t of timers) clearTimeout(t)
    await stopAll([a, b])
  }
})

test('a connection whose exchange never started (identify passed unheard) gets one, and the agents know each other', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const timers = new Set<ReturnType<typeof setTimeout>>()
  const { b, asked } = await scriptedPeer(mesh, 0, timers)
  const a = await createAgentNode(nodeOptions(mesh, { preset: 'local', name: 'a' }))
  try {
    await a.start()
    // a's membership does not hear the identify of this connection: no exchange is started for it.
    membershipOf(a).stop()
    await a.dial(b.addresses()[0])
    await waitFor(() => a.libp2p.getConnections().some(c => c.remotePeer.toString() === b.peerId), 'a connected to b', 10_000)
    await new Promise(resolve => setTimeout(resolve, 500))
    membershipOf(a).start()
    assert.equal(asked(), 0, 'no exchange yet')
    await waitFor(() => a.peers().some(p => p.peerId === b.peerId), 'a to know b', 20_000)
    assert.equal(a.libp2p.getConnections().filter(c => c.remotePeer.toString() === b.peerId).length >= 1, true, 'on the connection that was there')
  } finally {
    for (const t of timers) clearTimeout(t)
    await stopAll([a, b])
  }
})
