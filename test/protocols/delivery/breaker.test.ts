/** The circuit breaker per destination through real nodes: opens after N failures, fails fast, recovers. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { freePort, nodeOptions, sleep, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

test('breaker opens after breaker.failures failures, fails fast with COM002, half-opens after resetMs and closes on success', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const key = await generateKeyPair('Ed25519')
  const port = await freePort()
  const start = async (): Promise<AgentNode> => {
    const n = await createAgentNode(nodeOptions(mesh, { name: 'r', privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] }))
    n.handle('ping', () => 'pong')
    await n.start()
    return n
  }
  let r: AgentNode | undefined = await start()
  const s = await createAgentNode(nodeOptions(mesh, { name: 's', breaker: { failures: 3, resetMs: 1_500 }, rpc: { timeoutMs: 2_000 } }))
  try {
    await s.start()
    await s.dial(r.addresses()[0])
    const peer = r.peerId
    assert.equal(await s.request(peer, 'ping', {}), 'pong')
    // Every stream the sender opens to a peer is dialled through this method: counted, not changed.
    const lib = s.libp2p as unknown as { dialProtocol: (...args: unknown[]) => Promise<unknown> }
    const dialProtocol = lib.dialProtocol.bind(lib)
    let dials = 0
    lib.dialProtocol = async (...args: unknown[]) => { dials++; return await dialProtocol(...args) }
    await r.stop()
    for (let i = 0; i < 3; i++) {
      await assert.rejects(s.request(peer, 'ping', {}), (e: any) => e.code === 'COM002' && e.name === 'ConnectionError')
    }
    // The control: the failures that opened the breaker tried dials (not every one: a request can
    // fail on the connection the receiver's stop is still closing), and the counting saw them.
    assert.ok(dials >= 1, `${dials} dials counted for the three failed requests`)
    const open = s.delivery.breaker(peer)
    assert.equal(open?.state, 'open')
    assert.equal(open?.failures, 3)
    const before = dials
    await assert.rejects(s.request(peer, 'ping', {}), (e: any) => e.code === 'COM002' && e.name === 'CircuitOpenError' && /open since .* after 3 consecutive failures/.test(e.message))
    // Failing fast: refused without a dial tried.
    assert.equal(dials - before, 0, 'a request to a peer whose breaker is open dials it')
    assert.ok(s.delivery.breakers().some(b => b.peer === peer && b.state === 'open'))
    assert.ok((s.stats.snapshot().breaker_transitions_total ?? []).some(t => t.labels.to === 'open'))
    r = await start()
    await waitFor(() => Date.now() >= (open?.halfOpenAt ?? 0), 'resetMs to pass', 5_000)
    await sleep(50)
    assert.equal(await s.request(peer, 'ping', {}), 'pong')
    assert.ok(dials > before, 'the half-open request dialled')
    assert.equal(s.delivery.breaker(peer), undefined, 'closed and forgotten')
  } finally {
    await stopAll([s, r])
  }
})
