/**
 * node dist/bench/salsa20.js [rounds]: the mesh key's XSalsa20 (node/mesh-key.ts KeyStream on the
 * WebAssembly SIMD core) against @noble/ciphers' xsalsa20 (pure JS), by message size, interleaved
 * round by round (the machine is shared: read the ranges and the per-round speed-ups' medians,
 * not one figure). Per size: MB/s and µs a
 * message for KeyStream on the SIMD core, KeyStream on the JS core (@noble with a running counter:
 * what a runtime without SIMD gets), @noble's xsalsa20 called alone (HSalsa20 each call), and
 * @noble's salsa20 on the subkey made once (the best a @noble-only KeyStream could do).
 */
import { salsa20, xsalsa20 } from '@noble/ciphers/salsa.js'
import { KeyStream } from '../node/mesh-key.js'
import { salsaSimd } from '../node/crypto/salsa20-simd.js'

/** Calls of `f` a second over about `ms`, after a warm-up. */
function rate (f: () => void, ms = 250): number {
  for (let i = 0; i < 200; i++) f()
  const t0 = performance.now()
  let n = 0
  while (performance.now() - t0 < ms) { f(); n++ }
  return n / ((performance.now() - t0) / 1000)
}

const rounds = Number(process.argv[2] ?? 3)
const key = crypto.getRandomValues(new Uint8Array(32))
const nonce = crypto.getRandomValues(new Uint8Array(24))
const sizes = [100, 1_024, 16_384, 65_536]
const variants: Record<string, (size: number) => () => void> = {
  'KeyStream, SIMD core': (size) => { const s = new KeyStream(key, nonce); const d = new Uint8Array(size); return () => { s.update(d) } },
  'KeyStream, JS core (@noble)': (size) => { const s = new KeyStream(key, nonce, null); const d = new Uint8Array(size); return () => { s.update(d) } },
  '@noble xsalsa20 alone': (size) => { const d = new Uint8Array(size); return () => { xsalsa20(key, nonce, d) } },
  '@noble salsa20, subkey kept': (size) => {
    const subkey = (new KeyStream(key, nonce) as unknown as { subkey: Uint8Array }).subkey
    const d = new Uint8Array(size)
    let counter = 0
    return () => { salsa20(subkey, nonce.subarray(16), d, undefined, counter); counter += Math.ceil(size / 64) }
  }
}
if (salsaSimd() === undefined) console.log('no WebAssembly SIMD in this runtime: the SIMD row is the JS core')
const seen = new Map<string, number[]>()
for (let r = 0; r < rounds; r++) {
  for (const size of sizes) {
    for (const [name, make] of Object.entries(variants)) {
      const perSec = rate(make(size))
      const k = `${name}|${size}`
      seen.set(k, [...(seen.get(k) ?? []), perSec])
    }
  }
}
for (const size of sizes) {
  for (const name of Object.keys(variants)) {
    const rs = seen.get(`${name}|${size}`) ?? []
    const mb = rs.map(x => x * size / 1e6)
    const us = rs.map(x => 1e6 / x)
    // The SIMD path's speed-up over this variant, round by round (the same round's load for both).
    const simd = seen.get(`KeyStream, SIMD core|${size}`) ?? []
    const x = rs.map((v, i) => simd[i] / v)
    const median = x.slice().sort((p, q) => p - q)[Math.floor(x.length / 2)]
    const ratio = name.includes('SIMD') ? '' : `  SIMD ${Math.min(...x).toFixed(1)}-${Math.max(...x).toFixed(1)}× (median ${median.toFixed(1)}×)`
    console.log(`${String(size).padStart(6)} B  ${name.padEnd(28)} ${Math.min(...mb).toFixed(0)}-${Math.max(...mb).toFixed(0)} MB/s  ${Math.min(...us).toFixed(2)}-${Math.max(...us).toFixed(2)} µs${ratio}`)
  }
}
