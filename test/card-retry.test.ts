/**
 * The card exchange is run once per connection, by the dialling side, when identify finishes
 * (discovery/membership.ts). One that got no answer used to be the end of it: the connection
 * stayed, the dialers leave a connected peer alone, and the two agents stayed connected and
 * unknown to each other until the connection closed. The fault campaign saw pairs of agents so
 * a minute and more after a heal. Now an unanswered exchange is tried again while the
 * connection stays. Real nodes on 127.0.0.1; the peer that leaves the first exchange unanswered
 * answers card exchanges itself (its own membership stopped), as a stream of a half-open
 * connection would leave one.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, type AgentNode } from '../node/index.js'
import { Membership } from '../discovery/membership.js'
import { CardExchange } from '../discovery/card.js'
import { RpcService } from '../protocols/rpc/index.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from './helpers.js'

function rpcOf (node: AgentNode): RpcService { return node.services.find(s => s instanceof RpcService) as RpcService }

test('a card exchange left unanswered is tried again on the connection that stays, and the agents know each other', async () => {
  const mesh = uniqueMesh()
  const b = await createAgentNode(nodeOptions(mesh, { preset: 'local', name: 'b' }))
  let a: AgentNode | undefined
  const timers = new Set<ReturnType<typeof setTimeout>>()
  try {
    await b.start()
    ;(b.services.find(s => s instanceof Membership) as Membership).stop()
    let asked = 0
    // The first exchange gets its answer only long after the asker gave up (10 s); the next ones at once.
    rpcOf(b).handle(CardExchange, async () => {
      if (++asked === 1) await new Promise(resolve => { const t = setTimeout(resolve, 15_000); timers.add(t) })
      return { card: b.card(), peers: [] }
    })
    a = await createAgentNode(nodeOptions(mesh, { preset: 'local', name: 'a' }))
    await a.start()
    await a.dial(b.addresses()[0])
    const node = a
    await waitFor(() => node.peers().some(p => p.peerId === b.peerId), 'a to know b after its first exchange went unanswered', 45_000)
    assert.ok(asked >= 2, `b was asked ${asked} times`)
    assert.equal(a.peers().find(p => p.peerId === b.peerId)?.name, 'b')
  } finally {
    for (const t of timers) clearTimeout(t)
    await stopAll([a, b])
  }
})
