/**
 * The mesh key's cipher (node/crypto/salsa20-simd.ts, through node/mesh-key.ts's KeyStream)
 * against published test vectors of Salsa20 and XSalsa20, written here as hex (none computed by
 * the library under test, nor by @noble):
 * - Salsa20's specification, D. J. Bernstein, "Salsa20 specification", §9 (the expansion example
 *   with k = 1..16, 201..216 and n = 101..116: its last 8 bytes are the block counter, whose high
 *   word is not zero, so the SIMD core's 64-bit counter is checked too), https://cr.yp.to/snuffle/spec.pdf;
 *   the same example is libsodium's test/default/core4.
 * - eSTREAM's verified test vectors of Salsa20/20 with a 256-bit key (ecrypt/trunk/submissions/salsa20/
 *   full/verified.test-vectors): Set 1 vector 0 (stream bytes 0..63, 192..255, 256..319, 448..511)
 *   and Set 6 vector 3 (bytes 0..63, 65472..65535, 65536..65599, 131008..131071: across several
 *   of the module's passes).
 * - NaCl's XSalsa20 tests, as libsodium keeps them (test/default/stream.c, stream2.c, stream3.c
 *   and their .exp files): the key "firstkey" and nonce of "Cryptography in NaCl" §10; the first 32
 *   bytes of the stream (stream3), the SHA-256 of its first 4,194,304 bytes (stream), and the same
 *   digest from Salsa20 under the HSalsa20 subkey "secondkey" with the nonce's last 8 bytes (stream2).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { DATA_AT, DATA_MAX, salsaSimd } from '../../../node/crypto/salsa20-simd.js'
import { KeyStream } from '../../../node/mesh-key.js'

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'))
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex')

/** Salsa20's key stream from block `first` (64 bits: a number below 2^53), `length` bytes, on the SIMD core alone. */
function coreStream (key: Uint8Array, nonce8: Uint8Array, length: number, first = 0): Uint8Array {
  const core = salsaSimd()
  assert.ok(core !== undefined, 'Node has WebAssembly SIMD')
  core.memory.set(key, 0)
  core.memory.set(nonce8, 32)
  core.owner = coreStream // no KeyStream's key is in the memory now
  const out = new Uint8Array(length)
  let block = first
  for (let at = 0; at < length; at += DATA_MAX) {
    const n = Math.min(DATA_MAX, length - at)
    const groups = Math.ceil(n / 256)
    core.memory.fill(0, DATA_AT, DATA_AT + 256 * groups)
    core.xor(DATA_AT, groups, block % 2 ** 32, Math.floor(block / 2 ** 32))
    out.set(core.memory.subarray(DATA_AT, DATA_AT + n), at)
    block += DATA_MAX / 64
  }
  return out
}

test('Salsa20 vectors: the specification\'s expansion example (§9), a block whose counter is above 2^32', { timeout: 3 * 60_000 }, () => {
  const key = new Uint8Array([...Array.from({ length: 16 }, (_, i) => 1 + i), ...Array.from({ length: 16 }, (_, i) => 201 + i)])
  const n = Array.from({ length: 16 }, (_, i) => 101 + i)
  // n's last 8 bytes, little-endian, are the block number: 0x74737271_706f6e6d.
  const counter = Buffer.from(n.slice(8)).readBigUInt64LE(0)
  const lo = Number(counter & 0xffffffffn)
  const hi = Number(counter >> 32n)
  const expected = new Uint8Array([
    69, 37, 68, 39, 41, 15, 107, 193, 255, 139, 122, 6, 170, 233, 217, 98,
    89, 144, 182, 106, 21, 51, 200, 65, 239, 49, 222, 34, 215, 114, 40, 126,
    104, 197, 7, 225, 197, 153, 31, 2, 102, 78, 76, 176, 84, 245, 246, 184,
    177, 160, 133, 130, 6, 72, 149, 119, 192, 195, 132, 236, 234, 103, 246, 74
  ])
  const core = salsaSimd()
  assert.ok(core !== undefined)
  core.memory.set(key, 0)
  core.memory.set(n.slice(0, 8), 32)
  core.owner = expected
  core.memory.fill(0, DATA_AT, DATA_AT + 256)
  core.xor(DATA_AT, 1, lo, hi)
  assert.equal(toHex(core.memory.subarray(DATA_AT, DATA_AT + 64)), toHex(expected))
})

test('Salsa20 vectors: eSTREAM Set 1 vector 0 and Set 6 vector 3 (256-bit keys)', { timeout: 3 * 60_000 }, () => {
  const set1 = coreStream(hex('8000000000000000000000000000000000000000000000000000000000000000'), new Uint8Array(8), 512)
  const set1Expected: Array<[number, string]> = [
    [0, `E3BE8FDD8BECA2E3EA8EF9475B29A6E7 003951E1097A5C38D23B7A5FAD9F6844
         B22C97559E2723C7CBBD3FE4FC8D9A07 44652A83E72A9C461876AF4D7EF1A117`],
    [192, `57BE81F47B17D9AE7C4FF15429A73E10 ACF250ED3A90A93C711308A74C6216A9
           ED84CD126DA7F28E8ABF8BB63517E1CA 98E712F4FB2E1A6AED9FDC73291FAA17`],
    [256, `958211C4BA2EBD5838C635EDB81F513A 91A294E194F1C039AEEC657DCE40AA7E
           7C0AF57CACEFA40C9F14B71A4B3456A6 3E162EC7D8D10B8FFB1810D71001B618`],
    [448, `696AFCFD0CDDCC83C7E77F11A649D79A CDC3354E9635FF137E929933A0BD6F53
           77EFA105A3A4266B7C0D089D08F1E855 CC32B15B93784A36E56A76CC64BC8477`]
  ]
  for (const [at, want] of set1Expected) assert.equal(toHex(set1.subarray(at, at + 64)), toHex(hex(want)), `Set 1 vector 0, stream[${at}..${at + 63}]`)

  const set6 = coreStream(hex('0F62B5085BAE0154A7FA4DA0F34699EC3F92E5388BDE3184D72A7DD02376C91C'), hex('288FF65DC42B92F9'), 131_072)
  const set6Expected: Array<[number, string]> = [
    [0, `5E5E71F90199340304ABB22A37B6625B F883FB89CE3B21F54A10B81066EF87DA
         30B77699AA7379DA595C77DD59542DA2 08E5954F89E40EB7AA80A84A6176663F`],
    [65_472, `2DA2174BD150A1DFEC1796E921E9D6E2 4ECF0209BCBEA4F98370FCE629056F64
              917283436E2D3F45556225307D5CC5A5 65325D8993B37F1654195C240BF75B16`],
    [65_536, `ABF39A210EEE89598B7133377056C2FE F42DA731327563FB67C7BEDB27F38C7C
              5A3FC2183A4C6B277F901152472C6B2A BCF5E34CBE315E81FD3D180B5D66CB6C`],
    [131_008, `1BA89DBD3F98839728F56791D5B7CE23 5036DE843CCCAB0390B8B5862F1E4596
               AE8A16FB23DA997F371F4E0AACC26DB8 EB314ED470B1AF6B9F8D69DD79A9D750`]
  ]
  for (const [at, want] of set6Expected) assert.equal(toHex(set6.subarray(at, at + 64)), toHex(hex(want)), `Set 6 vector 3, stream[${at}..${at + 63}]`)
})

// NaCl's XSalsa20 example ("Cryptography in NaCl" §10; libsodium test/default/stream*.c).
const FIRSTKEY = hex('1b27556473e985d462cd51197a9a46c76009549eac6474f206c4ee0844f68389')
const NONCE = hex('69696ee955b62b73cd62bda875fc73d68219e0036b7a0b37')
const SECONDKEY = hex('dc908dda0b9344a953629b733820778880f3ceb421bb61b91cbd4c3e66256ce4')
/** stream.exp and stream2.exp: SHA-256 of the first 4,194,304 bytes of the stream. */
const STREAM_4MIB_SHA256 = '662b9d0e3463029156069b12f918691a98f7dfb2ca0393c96bbfc6b1fbd630a2'
/** stream3.exp: the first 32 bytes of the stream. */
const STREAM_FIRST_32 = 'eea6a7251c1e72916d11c2cb214d3c252539121d8e234e652d651fa4c8cff880'

test('XSalsa20 vectors: NaCl\'s stream, stream2 and stream3, through KeyStream on the SIMD core and the JS core, cut unevenly', { timeout: 3 * 60_000 }, () => {
  const total = 4_194_304
  for (const core of [salsaSimd() ?? null, null]) {
    const name = core === null ? 'JS core' : 'SIMD core'
    const s = new KeyStream(FIRSTKEY, NONCE, core)
    const hash = createHash('sha256')
    const first = s.update(new Uint8Array(32))
    assert.equal(toHex(first), STREAM_FIRST_32, `${name}: stream3`)
    hash.update(first)
    // Chunks of odd sizes: mid-block starts, chunks past DATA_MAX, one byte.
    const sizes = [1, 63, 65, 1_000, DATA_MAX + 17, 100, 16_384, 65_536]
    for (let at = 32, i = 0; at < total; i++) {
      const n = Math.min(sizes[i % sizes.length], total - at)
      hash.update(s.update(new Uint8Array(n)))
      at += n
    }
    assert.equal(hash.digest('hex'), STREAM_4MIB_SHA256, `${name}: stream (4 MiB)`)
    s.forget()
  }
  // stream2: Salsa20 under the HSalsa20 subkey, with the nonce's last 8 bytes: XSalsa20's definition.
  assert.equal(createHash('sha256').update(coreStream(SECONDKEY, NONCE.subarray(16), total)).digest('hex'), STREAM_4MIB_SHA256, 'stream2 on the core')
  // And KeyStream makes that subkey (its HSalsa20 step, from @noble/ciphers).
  assert.equal(toHex((new KeyStream(FIRSTKEY, NONCE) as unknown as { subkey: Uint8Array }).subkey), toHex(SECONDKEY), 'HSalsa20 subkey (core2)')
})
