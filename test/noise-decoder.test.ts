/**
 * Noise's incoming bytes are split into messages without a new RangeError per chunk
 * (node/noise-decoder.ts): two agents exchange 1,000 requests over a real connection while every
 * RangeError made through the global constructor is counted. Before the fast path, each chunk a
 * side received made one (Noise's length decoder throws one to say "no more bytes").
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startMesh, stopAll } from './helpers.js'

test('noise: 1,000 requests over a real connection make no RangeError per chunk received', async () => {
  const nodes = await startMesh(2)
  const Real = globalThis.RangeError
  let made = 0
  try {
    nodes[0].handle('echo', async (x: unknown) => x)
    for (let i = 0; i < 20; i++) await nodes[1].request(nodes[0].peerId, 'echo', i) // the channel open and warm
    // Every `RangeError(...)` and `new RangeError(...)` that names the global counts; `instanceof` still sees the real class.
    globalThis.RangeError = new Proxy(Real, {
      apply (target, self, args) { made++; return Reflect.apply(target, self, args) },
      construct (target, args, newTarget) { made++; return Reflect.construct(target, args, newTarget) }
    })
    for (let i = 0; i < 1_000; i++) assert.equal(await nodes[1].request(nodes[0].peerId, 'echo', i), i)
  } finally {
    globalThis.RangeError = Real
    await stopAll(nodes)
  }
  // At least 2,000 chunks crossed (a request and its answer each): one error each before.
  assert.ok(made < 100, `${made} RangeErrors made over 1,000 round trips`)
})
