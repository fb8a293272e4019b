/**
 * npm run bench:compression: the measurement behind `compression` (docs/wire-format.md,
 * "Compression"). For each codec built into Node 20 (zlib's raw deflate and brotli; gzip is
 * deflate with a header, and Node 20 has no zstd) at a fast and a default level, over the
 * payloads agents send, one envelope and a batch of 50 as the fan-out sends them: bytes after
 * compression (% of the JSON), µs to compress and to decompress, and MB/s of JSON compressed.
 */
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import { randomBytes } from 'node:crypto'
import { envelopeToJson, makeEnvelope, type Envelope } from '../protocols/envelope/index.js'

const source = '12D3KooWLTDZ8mNdoC2YAkgd4emA2M6w6ZVNQ7Ew5yFmyrCWF2kC'

/** Words drawn by a fixed generator: text that compresses like prose, not like one repeated byte. */
function prose (bytes: number, seed: number): string {
  const words = ['agent', 'task', 'the', 'result', 'of', 'model', 'queue', 'worker', 'is', 'a', 'status', 'running', 'failed', 'node', 'mesh', 'update', 'latency', 'ok', 'and', 'retry', 'budget', 'plan', 'step', 'tool', 'call', 'answer', 'with', 'for', 'in', 'to']
  let s = seed
  let out = ''
  while (out.length < bytes) { s = (s * 1103515245 + 12345) % 2 ** 31; out += words[s % words.length] + (s % 7 === 0 ? '. ' : ' ') }
  return out.slice(0, bytes)
}

const env = (i: number, payload: unknown, topic = 'bench'): Envelope =>
  makeEnvelope({ source, destination: { topic }, type: 'EVENT', subject: topic, payload, headers: {} })

const payloads: Record<string, (i: number) => unknown> = {
  // What `npm run bench` publishes: a padding of one repeated byte (compresses to almost nothing).
  'bench broadcast (1 KiB pad)': (i) => ({ pub: 0, seq: i, t: Date.now() + i / 7, pad: 'x'.repeat(1000) }),
  'task status (small)': (i) => ({ task_id: `t-${i}`, status: i % 3 === 0 ? 'running' : 'completed', progress: (i % 100) / 100, metrics: { cpu: 0.7, memory_gb: 1.2 }, timestamp: Date.now() + i }),
  'text, 1 KiB of prose': (i) => ({ text: prose(1024, i + 1) }),
  'text, 8 KiB of prose': (i) => ({ text: prose(8192, i + 1) }),
  'sealed-like (1 KiB random, base64)': () => ({ sealed: randomBytes(1024).toString('base64') })
}

interface Codec { name: string, compress: (b: Buffer) => Buffer, decompress: (b: Buffer) => Buffer }
const codecs: Codec[] = [
  { name: 'deflate-raw level 1', compress: b => deflateRawSync(b, { level: 1 }), decompress: b => inflateRawSync(b) },
  { name: 'deflate-raw level 6', compress: b => deflateRawSync(b, { level: 6 }), decompress: b => inflateRawSync(b) },
  { name: 'brotli quality 1', compress: b => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 1, [constants.BROTLI_PARAM_SIZE_HINT]: b.byteLength } }), decompress: b => brotliDecompressSync(b) },
  { name: 'brotli quality 4', compress: b => brotliCompressSync(b, { params: { [constants.BROTLI_PARAM_QUALITY]: 4, [constants.BROTLI_PARAM_SIZE_HINT]: b.byteLength } }), decompress: b => brotliDecompressSync(b) }
]

function usPer (fn: () => void): number {
  for (let i = 0; i < 50; i++) fn() // warm up
  const start = performance.now()
  let n = 0
  while (performance.now() - start < 300) { fn(); n++ }
  return (performance.now() - start) * 1000 / n
}

const rows: Array<Record<string, string | number>> = []
for (const [name, make] of Object.entries(payloads)) {
  for (const count of [1, 50]) {
    const json = Buffer.from('[' + Array.from({ length: count }, (_, i) => envelopeToJson(env(i, make(i)))).join(',') + ']')
    for (const c of codecs) {
      const z = c.compress(json)
      const cu = usPer(() => c.compress(json))
      rows.push({
        payload: name,
        envelopes: count,
        'json bytes': json.byteLength,
        codec: c.name,
        'compressed %': Math.round(1000 * z.byteLength / json.byteLength) / 10,
        'compress µs': Math.round(cu * 10) / 10,
        'decompress µs': Math.round(usPer(() => c.decompress(z)) * 10) / 10,
        'MB/s': Math.round(json.byteLength / cu)
      })
    }
  }
}
if (process.argv.includes('--json')) console.log(JSON.stringify(rows))
else console.table(rows)
