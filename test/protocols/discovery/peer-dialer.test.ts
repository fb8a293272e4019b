/**
 * The peer dialer (protocols/discovery/dialer.ts) told of many peers at once, as a newcomer is by its seed:
 * at most DIALS_AT_ONCE dials are under way, and the rest are dialled as those end, until the
 * node has every peer it wanted. Real agents over real sockets; the dialer's dials are told apart
 * from others (voter links, the reconnector) by the code that made them.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PeerInfo } from '@libp2p/interface'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { DIALS_AT_ONCE, PeerDialer } from '../../../protocols/discovery/dialer.js'
import { HandOffs } from '../../../protocols/discovery/hand-off.js'
import { nodeOptions, sleep, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

test('peer dialer: told of six peers at once, it dials two at a time and reaches all six', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    for (let i = 0; i < 7; i++) {
      const n = await createAgentNode(nodeOptions(mesh, { name: `p${i}`, connections: { targetPeers: 8 } }))
      await n.start()
      nodes.push(n)
    }
    const [x, ...others] = nodes
    const lib = x.libp2p as unknown as { dial: (...args: unknown[]) => Promise<unknown> }
    const dial = lib.dial.bind(lib)
    let under = 0
    let most = 0
    let made = 0
    lib.dial = async (...args: unknown[]) => {
      const mine = (new Error().stack ?? '').includes('/discovery/dialer.js')
      if (!mine) return await dial(...args)
      made++
      most = Math.max(most, ++under)
      // Each held 300 ms first, as a handshake takes on a loaded host: dials that all start at once overlap.
      try { await sleep(300); return await dial(...args) } finally { under-- }
    }
    const dialer = x.services.find((s): s is PeerDialer => s instanceof PeerDialer) as PeerDialer
    for (const o of others) dialer.consider({ id: peerIdFromString(o.peerId), multiaddrs: [multiaddr(o.addresses()[0])] } satisfies PeerInfo)
    await waitFor(() => others.every(o => x.libp2p.getConnections(peerIdFromString(o.peerId)).length > 0), 'the agent to connect to all six')
    assert.ok(made >= DIALS_AT_ONCE, `the dialer made ${made} of the dials`)
    // Its first two start within 200 ms of being told (a random spread) and each is held 300 ms:
    // they overlap on any host, so fewer than two at once means the dialer dials one at a time.
    assert.equal(most, DIALS_AT_ONCE, `${most} dials under way at once (${DIALS_AT_ONCE} at a time)`)
  } finally {
    await stopAll(nodes)
  }
})

test('peer dialer: an agent whose connection was just closed by agreement (handed on) is not dialled back when a peer exchange names it', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    for (let i = 0; i < 3; i++) {
      const n = await createAgentNode(nodeOptions(mesh, { name: `h${i}`, connections: { targetPeers: 8 } }))
      await n.start()
      nodes.push(n)
    }
    const [x, handedOn, other] = nodes
    // What the hand-off records once `handedOn` agreed to let its connection to x go.
    const handOffs = x.services.find((s): s is HandOffs => s instanceof HandOffs) as HandOffs
    ;(handOffs as unknown as { expected: Map<string, number> }).expected.set(handedOn.peerId, Date.now() + 30_000)
    assert.equal(handOffs.expects(handedOn.peerId), true)
    const dialer = x.services.find((s): s is PeerDialer => s instanceof PeerDialer) as PeerDialer
    for (const o of [handedOn, other]) dialer.consider({ id: peerIdFromString(o.peerId), multiaddrs: [multiaddr(o.addresses()[0])] } satisfies PeerInfo)
    await waitFor(() => x.libp2p.getConnections(peerIdFromString(other.peerId)).length > 0, 'x to connect to the other agent it was told of')
    // The dials are made within 200 ms of being told; a second more shows none was made to the one handed on.
    await sleep(1_000)
    assert.equal(x.libp2p.getConnections(peerIdFromString(handedOn.peerId)).length, 0, 'x did not dial the agent it handed on')
  } finally {
    await stopAll(nodes)
  }
})
