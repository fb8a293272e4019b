/**
 * Noise's incoming bytes are split into messages without a RangeError per chunk, new or thrown
 * (node/adaptations/noise-lengths.ts): two agents exchange 1,000 requests over a real connection while every
 * RangeError made through the global constructor is counted. Before the fast path, each chunk a
 * side received made one (Noise's length decoder throws one to say "no more bytes").
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'
import { startMesh, stopAll } from '../../helpers.js'

type LengthDecoder = (data: Uint8Array | Uint8ArrayList) => number

test('noise: 1,000 requests over a real connection make no RangeError per chunk received', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2)
  // Noise's own two-byte length decoder (not among the package's exports: read from its file), for the control below.
  const { uint16BEDecode } = await import(new URL('./encoder.js', import.meta.resolve('@chainsafe/libp2p-noise')).href) as { uint16BEDecode: LengthDecoder }
  const Real = globalThis.RangeError
  let made = 0
  let control = 0
  try {
    nodes[0].handle('echo', async (x: unknown) => x)
    for (let i = 0; i < 20; i++) await nodes[1].request(nodes[0].peerId, 'echo', i) // the channel open and warm
    // Every `RangeError(...)` and `new RangeError(...)` that names the global counts; `instanceof` still sees the real class.
    globalThis.RangeError = new Proxy(Real, {
      apply (target, self, args) { made++; return Reflect.apply(target, self, args) },
      construct (target, args, newTarget) { made++; return Reflect.construct(target, args, newTarget) }
    })
    for (let i = 0; i < 1_000; i++) assert.equal(await nodes[1].request(nodes[0].peerId, 'echo', i), i)
    // The control, counted the same way: Noise's decoder as libp2p makes it, 100 chunks of one whole
    // frame each. It makes one error a chunk; if the counting stops seeing Noise's errors, this fails.
    const before = made
    const plain = new LengthPrefixedDecoder({ lengthDecoder: uint16BEDecode, maxBufferSize: 16 * 1024 * 1024, encodingLength: () => 2 })
    for (let i = 0; i < 100; i++) assert.equal([...plain.decode(new Uint8Array([0, 3, 1, 2, 3]))].length, 1)
    control = made - before
  } finally {
    globalThis.RangeError = Real
    await stopAll(nodes)
  }
  // At least 2,000 chunks crossed (a request and its answer each): one error each before.
  assert.ok(control >= 100, `${control} RangeErrors counted for 100 chunks through Noise's own decoder: the counting does not see them`)
  assert.ok(made - control < 100, `${made - control} RangeErrors made over 1,000 round trips`)
})

test('noise decoder: what it yields is the frames sent, however the bytes are cut (one at a time, across frames, several in a chunk)', { timeout: 3 * 60_000 }, async () => {
  // Noise's framing: a two-byte big-endian length, then that many bytes; its decoder as Noise makes it.
  const { LengthPrefixedDecoder } = await import('@libp2p/utils')
  const { quickLengths } = await import('../../../node/adaptations/noise-lengths.js')
  const twoBytes = (data: Uint8Array | Uint8ArrayList): number => {
    if (data.length < 2) throw new RangeError('Could not decode int16BE')
    return data instanceof Uint8Array ? (data[0] << 8) + data[1] : data.getUint16(0)
  }
  const bodies = [1, 300, 2, 70_000 % 65_535, 5].map((n, i) => new Uint8Array(n).fill(i + 1))
  const wire = Buffer.concat(bodies.flatMap(b => [Buffer.from([b.byteLength >> 8, b.byteLength & 0xff]), Buffer.from(b)]))
  for (const cut of [1, 2, 3, 7, 301, 5_000, wire.length]) {
    const decoder = new LengthPrefixedDecoder({ lengthDecoder: twoBytes, maxBufferSize: 16 * 1024 * 1024, encodingLength: () => 2 })
    quickLengths(decoder)
    const got: Buffer[] = []
    for (let at = 0; at < wire.length; at += cut) for (const m of decoder.decode(wire.subarray(at, at + cut))) got.push(Buffer.from(m.subarray()))
    assert.deepEqual(got, bodies.map(b => Buffer.from(b)), `cut every ${cut} bytes`)
  }
  // A chunk that ends inside a length prefix waits for the rest, and a bad length still throws.
  const decoder = new LengthPrefixedDecoder({ lengthDecoder: twoBytes, maxDataLength: 10, encodingLength: () => 2 })
  quickLengths(decoder)
  assert.deepEqual([...decoder.decode(new Uint8Array([0]))], [])
  assert.throws(() => [...decoder.decode(new Uint8Array([200]))], /Invalid message length/)
  // No bytes: the decoder's own largest length, which no empty buffer holds, so it waits; nothing
  // thrown (a throw per chunk, even of one prepared error, was 3-4% of an idle agent's CPU).
  const lengthOf = (decoder as unknown as { lengthDecoder: (data: Uint8Array) => number }).lengthDecoder
  assert.equal(lengthOf(new Uint8Array(0)), 10)
  assert.equal(lengthOf(new Uint8Array([0, 7])), 7)
})
