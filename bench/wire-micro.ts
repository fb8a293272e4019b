/**
 * node dist/bench/wire-micro.js: two costs per byte and per chunk on a connection, in this
 * process, no network (the figures behind node/crypto/salsa20-simd.ts and node/adaptations/noise-lengths.ts in
 * docs/benchmarks.md):
 * - the mesh key's cipher: Salsa20 in the WebAssembly SIMD module against @noble's JS, MB/s on
 *   65,280-byte passes, then `KeyStream.update` by chunk size;
 * - Noise's message decoder (@libp2p/utils LengthPrefixedDecoder with Noise's two-byte length
 *   decoder) fed one-message chunks: µs a chunk with a new RangeError per chunk (as @libp2p/utils
 *   and Noise are) and with node/adaptations/noise-lengths.ts's quick length decoder;
 * - an Ed25519 signature over 600 bytes: libp2p's key (a KeyObject made from a JWK each time) and
 *   protocols/core/peer-sign.ts (the key imported once); and its check from the signer's peer id,
 *   as every member statement is checked (protocols/core/peer-verify.ts);
 * - a Noise X25519 Diffie-Hellman with an ephemeral key pair, as a handshake does three a side:
 *   Noise's default crypto (both keys imported from bytes) against node/noise-crypto.ts (the
 *   private key's object kept from its making);
 * - ChaCha20-Poly1305 sealed and opened by message size: Noise's default (WebAssembly below 1,200
 *   bytes) against node/noise-crypto.ts (OpenSSL from 512);
 * - a message counted in messages_total, and its receive span with no OpenTelemetry SDK registered;
 * - a latency observed: prom-client's Histogram against node/series-histogram.ts (what stats.ts uses).
 */
import { salsa20 } from '@noble/ciphers/salsa.js'
import { DATA_AT, DATA_MAX, salsaSimd } from '../node/crypto/salsa20-simd.js'
import { KeyStream } from '../node/mesh-key.js'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { quickLengths } from '../node/adaptations/noise-lengths.js'
import type { Uint8ArrayList } from 'uint8arraylist'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { signWith } from '../protocols/core/peer-sign.js'
import { peerSignatureVerifies } from '../protocols/core/peer-verify.js'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { defaultCrypto } from '@chainsafe/libp2p-noise/crypto'
import { noiseCrypto } from '../node/noise-crypto.js'
import { Stats } from '../node/stats.js'
import { SeriesHistogram } from '../node/series-histogram.js'
import { Histogram, Registry } from 'prom-client'
import { endSpan, SpanKind, startReceiveSpan } from '../protocols/envelope/trace.js'

/** Calls of `f` a second over about `ms`, after a warm-up. */
function rate (f: () => void, ms = 700): number {
  for (let i = 0; i < 500; i++) f()
  const t0 = performance.now()
  let n = 0
  while (performance.now() - t0 < ms) { f(); n++ }
  return n / ((performance.now() - t0) / 1000)
}

const key = crypto.getRandomValues(new Uint8Array(32))
const nonce = crypto.getRandomValues(new Uint8Array(24))
const core = salsaSimd()
if (core !== undefined) {
  core.memory.set(key, 0)
  core.memory.set(nonce.subarray(0, 8), 32)
  core.owner = rate // this bench's key, not a KeyStream's
  let block = 0
  const simd = rate(() => { core.xor(DATA_AT, DATA_MAX / 256, block, 0); block += DATA_MAX / 64 }) * DATA_MAX / 1e6
  console.log(`Salsa20, WebAssembly SIMD: ${simd.toFixed(0)} MB/s`)
} else {
  console.log('Salsa20, WebAssembly SIMD: not in this runtime')
}
const big = new Uint8Array(DATA_MAX)
let counter = 0
console.log(`Salsa20, @noble (JS):      ${(rate(() => { salsa20(key, nonce.subarray(0, 8), big, big, counter); counter += DATA_MAX / 64 }) * DATA_MAX / 1e6).toFixed(0)} MB/s`)
for (const size of [100, 1_400, 16_384, 65_537]) {
  const stream = new KeyStream(key, nonce)
  const data = new Uint8Array(size)
  const perSec = rate(() => stream.update(data))
  console.log(`KeyStream.update, ${String(size).padStart(6)} bytes: ${(1e6 / perSec).toFixed(2)} µs, ${(perSec * size / 1e6).toFixed(0)} MB/s`)
}

// Noise's framing: two bytes of length, big-endian, then the message; its length decoder throws for too few bytes.
const twoBytes = (data: Uint8Array | Uint8ArrayList): number => {
  if (data.length < 2) throw new RangeError('Could not decode int16BE')
  return data instanceof Uint8Array ? (data[0] << 8) + data[1] : data.getUint16(0)
}
const frame = new Uint8Array(102)
frame[1] = 100
const perChunk = (quick: boolean): number => {
  const decoder = new LengthPrefixedDecoder({ lengthDecoder: twoBytes, maxBufferSize: 16 * 1024 * 1024, encodingLength: () => 2 })
  if (quick) quickLengths(decoder)
  return 1e6 / rate(() => { for (const m of decoder.decode(frame)) if (m.byteLength !== 100) throw new Error('bad frame') })
}
console.log(`Noise's decoder, one message a chunk: ${perChunk(false).toFixed(2)} µs a chunk as libp2p has it, ${perChunk(true).toFixed(2)} µs with node/adaptations/noise-lengths.ts`)

const identity = await generateKeyPair('Ed25519')
const statement = new Uint8Array(600).fill(7)
const libp2pSign = 1e6 / rate(() => { identity.sign(statement) })
console.log(`Ed25519 signature, 600 bytes: ${libp2pSign.toFixed(1)} µs by libp2p's key, ${(1e6 / rate(() => { signWith(identity, statement, 'bench') })).toFixed(1)} µs by peer-sign.ts`)
const signer = peerIdFromPrivateKey(identity).toString()
const sig = signWith(identity, statement, 'bench')
console.log(`Ed25519 check, 600 bytes, from the peer id (peer-verify.ts): ${(1e6 / rate(() => { peerSignatureVerifies(signer, statement, sig) })).toFixed(1)} µs`)

// Noise's X25519: a handshake makes an ephemeral pair and does three DHs a side (ee, and es or se with the static key).
const remote = defaultCrypto.generateX25519KeyPair()
for (const [name, c] of [['Noise\'s default', defaultCrypto], ['node/noise-crypto.ts', noiseCrypto]] as const) {
  const dh = 1e6 / rate(() => {
    const e = c.generateX25519KeyPair()
    c.generateX25519SharedKey(e.privateKey, remote.publicKey)
    c.generateX25519SharedKey(e.privateKey, remote.publicKey)
  }) / 2
  console.log(`Noise X25519, a new ephemeral key used twice, ${name}: ${dh.toFixed(1)} µs a DH (key pair included)`)
}

// ChaCha20-Poly1305, every transport message's cipher, sealed and opened: Noise's default switches
// from its WebAssembly to OpenSSL at 1,200 bytes, node/noise-crypto.ts at CHACHA_OPENSSL_FROM.
const chachaKey = crypto.getRandomValues(new Uint8Array(32))
const chachaNonce = new Uint8Array(12)
const chachaAd = new Uint8Array(32)
for (const size of [100, 400, 600, 800, 1_000, 1_400]) {
  const plain = crypto.getRandomValues(new Uint8Array(size))
  const us = (c: typeof noiseCrypto): number => 1e6 / rate(() => {
    c.chaCha20Poly1305Decrypt(c.chaCha20Poly1305Encrypt(plain, chachaNonce, chachaAd, chachaKey).subarray(), chachaNonce, chachaAd, chachaKey)
  }, 400)
  console.log(`ChaCha20-Poly1305, ${String(size).padStart(5)} bytes sealed and opened: ${us(defaultCrypto).toFixed(1)} µs Noise's default, ${us(noiseCrypto).toFixed(1)} µs node/noise-crypto.ts`)
}

// What every message pays to be counted and traced (node/stats.ts, protocols/envelope/trace.ts), with no SDK registered.
const stats = new Stats()
const counted = 1e6 / rate(() => { stats.inc('messages_total', { direction: 'in', type: 'EVENT', status: 'ok' }) }, 400)
const traced = 1e6 / rate(() => {
  const { span } = startReceiveSpan('agentmesh receive t', SpanKind.CONSUMER, { 'agentmesh.peer_id': 'a', 'agentmesh.topic': 't', 'agentmesh.message_id': 'x' }, {})
  endSpan(span)
}, 400)
console.log(`A message counted (messages_total): ${counted.toFixed(3)} µs; its receive span, no tracer registered: ${traced.toFixed(3)} µs`)
// Counts as a busy receiver makes them: three counters, their series varied (64 publishers' labels).
const peers = Array.from({ length: 64 }, (_, i) => `12D3KooW${'x'.repeat(40)}${i}`)
const kinds = ['EVENT', 'REQUEST', 'RESPONSE']
let nth = 0
const varied = 1e9 / rate(() => {
  const i = nth++
  stats.inc('messages_total', { direction: (i & 1) === 1 ? 'in' : 'out', type: kinds[i % 3], status: (i & 8) === 8 ? 'invalid' : 'ok' })
  stats.inc('gossip_rate_limited_total', { peer: peers[i & 63] })
  stats.inc('broadcast_batches_total', { direction: 'in', via: (i & 2) === 2 ? 'direct' : 'gossip' })
}, 400) / 3
console.log(`A count among varied series (3 counters, 64 publishers): ${varied.toFixed(0)} ns`)

const latencyBuckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
const theirs = new Histogram({ name: 'a', help: 'a', labelNames: ['operation', 'type'], buckets: latencyBuckets, registers: [new Registry()] })
const ours = new SeriesHistogram({ name: 'b', help: 'b', labelNames: ['operation', 'type'], buckets: latencyBuckets }).register(new Registry())
let observed = 0
const observe = (h: { observe: (labels: { operation: string, type: string }, v: number) => void }): number =>
  1e9 / rate(() => { h.observe({ operation: 'deliver', type: 'EVENT' }, (observed++ % 1000) / 1e5) }, 400)
console.log(`A latency observed: ${observe(theirs).toFixed(0)} ns by prom-client's Histogram, ${observe(ours).toFixed(0)} ns by node/series-histogram.ts`)
