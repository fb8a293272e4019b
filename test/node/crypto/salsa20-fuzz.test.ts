/**
 * The mesh key's XSalsa20 (node/mesh-key.ts KeyStream on node/crypto/salsa20-simd.ts) against
 * @noble/ciphers' xsalsa20, byte for byte, on random keys, nonces, starting points of the stream
 * (block counter and offset in a block), chunk lengths, chunk offsets in their buffers, lists of
 * chunks, and streams taking turns on the one module; and the SIMD core alone against @noble's
 * salsa20 at random counters. Seeded: the seed is printed first; SALSA_FUZZ_SEED=<seed> repeats a
 * run, SALSA_FUZZ_MS=<ms> runs longer (default 2,000 ms a test).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Uint8ArrayList } from 'uint8arraylist'
import { salsa20, xsalsa20 } from '@noble/ciphers/salsa.js'
import { DATA_AT, DATA_MAX, salsaSimd } from '../../../node/crypto/salsa20-simd.js'
import { KeyStream } from '../../../node/mesh-key.js'

const SEED = process.env.SALSA_FUZZ_SEED !== undefined ? Number(process.env.SALSA_FUZZ_SEED) : Math.floor(Math.random() * 2 ** 32)
const BUDGET_MS = Number(process.env.SALSA_FUZZ_MS ?? 2_000)
console.log(`salsa20 fuzz: seed ${SEED} (repeat with SALSA_FUZZ_SEED=${SEED}), ${BUDGET_MS} ms a test`)

/** mulberry32: a small seeded generator (not for keys of the mesh: for test inputs). */
function generator (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const replay = (what: string): string => `${what} (seed ${SEED}: SALSA_FUZZ_SEED=${SEED} node --test dist/test/node/crypto/salsa20-fuzz.test.js)`

test('salsa20 fuzz: KeyStream (SIMD core) equals @noble\'s xsalsa20 at random starts, cuts, offsets and lists', { timeout: 3 * 60_000 }, () => {
  assert.ok(salsaSimd() !== undefined, 'Node has WebAssembly SIMD')
  const random = generator(SEED)
  const int = (n: number): number => Math.floor(random() * n)
  const bytes = (n: number): Uint8Array => Uint8Array.from({ length: n }, () => int(256))
  /** A length: mostly small, sometimes around a block, a group or the module's pass. */
  const lengths = [() => int(300), () => int(4_096), () => 64 * (1 + int(8)) + int(3) - 1, () => DATA_MAX + int(512) - 256, () => int(3 * DATA_MAX)]
  const length = (): number => lengths[int(lengths.length)]()
  const deadline = performance.now() + BUDGET_MS
  let cases = 0
  while (performance.now() < deadline) {
    const key = bytes(32)
    const nonce = bytes(24)
    // Where the stream starts: a block and an offset in it; the blocks stay below 2^32, where @noble's
    // 32-bit counter stops (at most 6 chunks of 3 passes: under 20,000 blocks).
    const startBlock = int(4) === 0 ? 2 ** 32 - 1 - 20_000 - int(4_000) : int(1_000_000)
    const start = startBlock * 64 + int(64)
    const stream = new KeyStream(key, nonce)
    ;(stream as unknown as { offset: number }).offset = start
    // Turns taken with another stream on the same module (each connection of a process shares it).
    const other = int(2) === 0 ? new KeyStream(bytes(32), bytes(24)) : undefined
    const chunks: Uint8Array[] = []
    const outs: Uint8Array[] = []
    let total = 0
    for (let k = 1 + int(6); k > 0; k--) {
      const n = length()
      // The chunk at a random offset in a larger buffer (a subarray, as a socket's chunks are).
      const before = int(40)
      const buf = bytes(before + n + int(40))
      const chunk = buf.subarray(before, before + n)
      chunks.push(chunk)
      total += n
      if (int(3) === 0 && n > 2) {
        // A list of parts taken as one (what a connection sends: a length prefix, a Noise message).
        const cut = 1 + int(n - 1)
        outs.push(stream.update(new Uint8ArrayList(chunk.subarray(0, cut), chunk.subarray(cut))))
      } else {
        outs.push(stream.update(chunk))
      }
      if (other !== undefined) other.update(bytes(int(200)))
    }
    stream.forget()
    other?.forget()
    // @noble from the block's start, the first bytes of that block dropped.
    const skip = start % 64
    const padded = new Uint8Array(skip + total)
    padded.set(Buffer.concat(chunks), skip)
    const want = xsalsa20(key, nonce, padded, undefined, startBlock).subarray(skip)
    const got = Buffer.concat(outs)
    assert.equal(got.byteLength, total)
    if (!Buffer.from(want).equals(got)) {
      let at = 0
      while (want[at] === got[at]) at++
      assert.fail(replay(`case ${cases}: first difference at byte ${at} of ${total}, start ${start}, chunk lengths ${chunks.map(c => c.byteLength).join(',')}`))
    }
    cases++
  }
  console.log(`salsa20 fuzz: ${cases} KeyStream cases against @noble`)
  assert.ok(cases > 0)
})

test('salsa20 fuzz: the SIMD core alone equals @noble\'s salsa20 at random counters and group counts', { timeout: 3 * 60_000 }, () => {
  const core = salsaSimd()
  assert.ok(core !== undefined)
  const random = generator(SEED ^ 0x5a5a5a5a)
  const int = (n: number): number => Math.floor(random() * n)
  const deadline = performance.now() + BUDGET_MS
  let cases = 0
  while (performance.now() < deadline) {
    const key = Uint8Array.from({ length: 32 }, () => int(256))
    const nonce = Uint8Array.from({ length: 8 }, () => int(256))
    const groups = 1 + int(int(4) === 0 ? DATA_MAX / 256 : 8)
    // Counters anywhere below 2^32 (with room for the groups: @noble's counter is 32 bits).
    const lo = int(2 ** 32 - 4 * groups)
    const data = Uint8Array.from({ length: 256 * groups }, () => int(256))
    core.memory.set(key, 0)
    core.memory.set(nonce, 32)
    core.owner = data // no KeyStream's key is in the memory now
    core.memory.set(data, DATA_AT)
    core.xor(DATA_AT, groups, lo, 0)
    const got = core.memory.slice(DATA_AT, DATA_AT + data.byteLength)
    const want = salsa20(key, nonce, data, undefined, lo)
    assert.ok(Buffer.from(want).equals(got), replay(`case ${cases}: counter ${lo}, ${groups} groups`))
    cases++
  }
  console.log(`salsa20 fuzz: ${cases} core cases against @noble`)
  assert.ok(cases > 0)
})
