// Batches cut where a Noise message ends (protocols/pubsub/batcher.ts, `spills`): a batch that
// would end a few bytes past one is cut before it, and the sizes the batcher counts for sealed
// publishes are never under what their batch encodes to (else a cut batch would still spill).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Batcher, BatchBudget } from '../../../protocols/pubsub/batcher.js'
import { MAX_SPILL_BYTES, NOISE_BATCH_BYTES } from '../../../protocols/pubsub/constants.js'
import { encodeSealedBatch, grouped, sealBatch, type Grouped } from '../../../protocols/pubsub/sealed-batch.js'
import { SealingService } from '../../../protocols/sealing/index.js'
import { makeEnvelope } from '../../../protocols/envelope/index.js'

/** How a batcher of 50 envelopes with the spill rule (or without) cuts `count` items of `size` bytes. */
async function cuts (size: number, count: number, spill = true): Promise<number[]> {
  const lengths: number[] = []
  const b = new Batcher<string>({
    windowMs: 10_000, // only count, bytes and the spill rule cut here
    maxBatchesPerSec: 1_000,
    maxEnvelopes: 50,
    maxBytes: 256 * 1024,
    maxQueued: 10_000,
    ...(spill ? { transportBytes: NOISE_BATCH_BYTES, maxSpill: MAX_SPILL_BYTES } : {}),
    flush: async (items) => { lengths.push(items.length) },
    onError: (err) => { throw err }
  })
  for (let i = 0; i < count; i++) await b.add('x', size)
  await b.drain()
  b.stop()
  return lengths
}

test('a batch that would end a little past a Noise message is cut before it; one that fits, or ends far past, is not', { timeout: 3 * 60_000 }, async () => {
  const fits = Math.floor(NOISE_BATCH_BYTES / 50) - 2 // 50 of them (and their commas) fit in one message
  assert.deepEqual(await cuts(fits, 100), [50, 50])
  // 50 would spill ~1,500 bytes into a second message: cut where the first ends.
  const over = Math.ceil((NOISE_BATCH_BYTES + 1_500) / 50)
  const first = Math.floor(NOISE_BATCH_BYTES / (over + 1))
  const got = await cuts(over, 100)
  assert.equal(got[0], first, `batches of ${over}-byte items: ${got.join(',')}`)
  assert.ok(got.every(n => n <= first))
  assert.equal(got.reduce((a, n) => a + n, 0), 100)
  assert.deepEqual(await cuts(over, 100, false), [50, 50], 'without the rule they go by count')
  // 50 × 4 KB spans four messages and ends far from any edge but the last: 49 (the 50th would spill 3.5 KB into a fourth).
  assert.deepEqual(await cuts(4_000, 50), [49, 1])
  // Items of 20 KB: each batch crosses a message end whatever is done; it goes by count or bytes.
  assert.deepEqual(await cuts(20_000, 26), [13, 13])
})

test('what a sealed publish counts in its batch is not under what the batch encodes to', { timeout: 3 * 60_000 }, async () => {
  const key = await generateKeyPair('Ed25519')
  const source = peerIdFromPrivateKey(key).toString()
  const sealer = new SealingService({ privateKey: key, mesh: 'm', rotationMs: 60_000, graceMs: 1_000, withRole: () => [] })
  const recipients = await Promise.all([1, 5].map(async n => await Promise.all(Array.from({ length: n }, async () => peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()))))
  for (const to of recipients) {
    for (const pad of [0, 100, 1_000, 5_000]) {
      for (let round = 0; round < 3; round++) {
        const items: Grouped[] = []
        for (let i = 0; i < 48; i++) {
          const value = { seq: i, t: Date.now() + 0.5, pad: 'é'.repeat(pad % 7) + 'x'.repeat(pad) }
          const env = makeEnvelope({ source, destination: { topic: 'spill' }, type: 'EVENT', subject: 'spill', payload: value })
          items.push(grouped(env, value, sealer.forGroup('spill', to).recipients))
        }
        const frame = encodeSealedBatch(sealBatch(sealer, 'spill', items))
        // The batcher counts each item's size and a comma; the frame adds its wire byte and brackets.
        // A key's wraps (with its first payloads, then every 64th or once a second) are not
        // counted: the ephemeral key and ~100 bytes a recipient, in the group's head.
        const counted = items.reduce((a, g) => a + g.size + 1, 0) + 2
        const wraps = Buffer.from(frame).includes('"wraps":') ? 200 + 100 * to.length : 0
        const at = `${to.length} recipient(s), pad ${pad}, round ${round}${wraps > 0 ? ', with wraps' : ''}`
        assert.ok(frame.byteLength <= counted + wraps, `${at}: frame ${frame.byteLength} bytes, counted ${counted}`)
        assert.ok(frame.byteLength > counted - 48 * 8, `${at}: counted ${counted} is far over the frame's ${frame.byteLength} bytes`)
        // Alone in a batch, an item never takes more than its bound.
        const one = encodeSealedBatch(sealBatch(sealer, 'spill', [items[0]]))
        assert.ok(one.byteLength <= items[0].bound, `alone: ${one.byteLength} > bound ${items[0].bound}`)
      }
    }
  }
})

test('the node-wide budget holds full batches too, charged one per 50 envelopes as receivers charge them', { timeout: 3 * 60_000 }, async () => {
  // 40 full batches at once against 20 a second (a burst of 2): the writes keep to the rate, measured on this clock.
  const shared = new BatchBudget(20, 2)
  const at: number[] = []
  const b = new Batcher<string>({
    windowMs: 10_000,
    maxBatchesPerSec: 1_000,
    shared,
    sharedUnit: 50,
    maxEnvelopes: 50,
    maxBytes: 256 * 1024,
    maxQueued: 10_000,
    flush: async () => { at.push(performance.now()) },
    onError: (err) => { throw err }
  })
  const t0 = performance.now()
  for (let i = 0; i < 2_000; i++) await b.add('x', 10)
  await b.drain()
  b.stop()
  assert.equal(at.length, 40)
  at.forEach((t, i) => { assert.ok(i + 1 <= 2 + 1 + 20 * (t - t0) / 1000, `batch ${i + 1} written ${Math.round(t - t0)} ms in: over 20 a second`) })
})
