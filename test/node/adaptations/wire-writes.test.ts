/**
 * What agentmesh changes in how libp2p writes (node/adaptations/tcp-cork.ts, yamux-half-window.ts): a
 * request and its answer over a real connection take a socket write each way, not eight in all
 * (Noise's length and ciphertext apart, and a yamux window update after every frame); and the
 * window given back at half its size still moves megabytes both ways with a vanilla libp2p node
 * in another process, which gives windows back after every frame.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { Proc, startMesh, stopAll } from '../../helpers.js'

const VANILLA = fileURLToPath(new URL('../../fixtures/vanilla-echo.js', import.meta.url))

test('wire: a request and its answer cost about one socket write each way', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2)
  const proto = Socket.prototype as unknown as { _writeGeneric: (...args: unknown[]) => unknown }
  const real = proto._writeGeneric
  let writes = 0
  try {
    nodes[0].handle('echo', async (x: unknown) => x)
    for (let i = 0; i < 100; i++) await nodes[1].request(nodes[0].peerId, 'echo', i)
    // Counted, not changed: every write and writev of every socket in this process (both agents).
    proto._writeGeneric = function (...args: unknown[]) { writes++; return real.apply(this, args) }
    for (let i = 0; i < 1_000; i++) assert.equal(await nodes[1].request(nodes[0].peerId, 'echo', i), i)
  } finally {
    proto._writeGeneric = real
    await stopAll(nodes)
  }
  // As libp2p writes: 8 a round trip (each side's length, ciphertext, window update and its length).
  // Background traffic (probes, gossip heartbeats) adds a few over the second this takes.
  // Each request waits for the answer before it, so no two share a write: at least one each way,
  // which also fails this test if the counting above stops seeing writes.
  assert.ok(writes >= 2 * 1_000, `${writes} socket writes counted for 1,000 round trips: fewer than one each way`)
  assert.ok(writes < 3 * 1_000, `${writes} socket writes for 1,000 round trips`)
})

test('wire: megabytes stream both ways between an agent and a vanilla libp2p node in another process', { timeout: 3 * 60_000 }, async () => {
  const vanilla = new Proc([VANILLA])
  const [agent] = await startMesh(1)
  try {
    const { addr } = await vanilla.json(o => o.event === 'listening', 'the vanilla node')
    const stream = await agent.libp2p.dialProtocol(multiaddr(addr), '/test/echo-all/1.0.0')
    const total = 8 * 1024 * 1024
    const sent = createHash('sha256')
    const got = createHash('sha256')
    let received = 0
    const reading = (async () => {
      for await (const chunk of stream) {
        const bytes = chunk.subarray()
        got.update(bytes)
        received += bytes.byteLength
      }
    })()
    // Chunks of odd sizes: frames that do not line up with the window's halves.
    for (let at = 0, i = 0; at < total; i++) {
      const n = Math.min(total - at, 1_000 + (i * 7_919) % 60_000)
      const chunk = new Uint8Array(n).map((_, j) => (at + j) & 0xff)
      sent.update(chunk)
      at += n
      if (!stream.send(chunk)) await stream.onDrain({ signal: AbortSignal.timeout(20_000) })
    }
    await stream.close()
    await Promise.race([reading, new Promise((_resolve, reject) => setTimeout(() => reject(new Error(`stalled at ${received} of ${total} bytes`)), 60_000).unref())])
    assert.equal(received, total)
    assert.equal(got.digest('hex'), sent.digest('hex'))
  } finally {
    await stopAll([agent])
    await vanilla.stop('SIGTERM')
  }
})
