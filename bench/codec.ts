/**
 * npm run bench:codec: the measurement behind the envelope's wire format (docs/wire-format.md).
 * Encodes and decodes typical envelopes with JSON (the chosen format) and CBOR (cborg), and
 * prints operations per second and encoded sizes. Protobuf was left out: envelopes carry
 * free-form JSON payloads, which protobuf would carry as an embedded JSON or CBOR blob anyway.
 * Then a topic batch's bytes per envelope written plainly (0x01) and with a shared head (0x05,
 * envelope/shared-head.ts), and the decode of each, for the broadcast bench's event at three
 * paddings (docs/benchmarks.md, "A batch's common fields written once").
 */
import { encode as cborEncode, decode as cborDecode } from 'cborg'
import { decodeBatch, decodeEnvelope, encodeBatch, encodeEnvelope, encodeSharedBatch, joinJson, makeEnvelope, splitJson, validateEnvelope, type Envelope } from '../protocols/envelope/index.js'

const source = '12D3KooWLTDZ8mNdoC2YAkgd4emA2M6w6ZVNQ7Ew5yFmyrCWF2kC'
const cases: Record<string, Envelope> = {
  'task status (small)': makeEnvelope({ source, destination: { topic: 'tasks.status.t-1' }, type: 'EVENT', subject: 'task.status', payload: { task_id: 't-1', status: 'running', progress: 0.42, metrics: { cpu: 0.7, memory_gb: 1.2 }, timestamp: Date.now() } }),
  'request, 1 KiB text': makeEnvelope({ source, destination: { peer: source }, type: 'REQUEST', subject: 'demo.echo', payload: { text: 'x'.repeat(1024) } }),
  'directive, nested (4 KiB)': makeEnvelope({ source, destination: { peer: source }, type: 'COMMAND', subject: 'coordination.directive', payload: { directive_id: 'd-1', action: 'assign_task', parameters: { tasks: Array.from({ length: 40 }, (_, i) => ({ id: `t-${i}`, priority: i % 5, requirements: { cpu_cores: 2, memory_gb: 4, storage_gb: 10 }, dependencies: [`t-${i - 1}`] })) } } })
}

function opsPerSec (fn: () => void): number {
  for (let i = 0; i < 2000; i++) fn() // warm up the JIT
  const start = performance.now()
  let n = 0
  while (performance.now() - start < 500) { for (let i = 0; i < 200; i++) fn(); n += 200 }
  return Math.round(n / ((performance.now() - start) / 1000))
}

const rows: Array<Record<string, string | number>> = []
for (const [name, env] of Object.entries(cases)) {
  const json = encodeEnvelope(env)
  const cbor = cborEncode(env)
  rows.push({
    envelope: name,
    'json bytes': json.byteLength,
    'cbor bytes': cbor.byteLength,
    'json encode/s': opsPerSec(() => encodeEnvelope(env)),
    'cbor encode/s': opsPerSec(() => cborEncode(env)),
    // Decoding includes the schema check in both cases: that is what a receiver pays.
    'json decode/s': opsPerSec(() => decodeEnvelope(json, 1 << 20)),
    'cbor decode/s': opsPerSec(() => validateEnvelope(cborDecode(cbor)))
  })
}

// A batch of 50 of the broadcast bench's events (bench/worker.ts: {pub, seq, t, run, pad}).
const batches: Array<Record<string, string | number>> = []
for (const pad of [0, 100, 1000]) {
  const splits = Array.from({ length: 50 }, (_, seq) => splitJson(makeEnvelope({ source, destination: { topic: 'bench' }, type: 'EVENT', subject: 'bench', payload: { pub: 0, seq, t: Date.now() + 0.123, run: 1, pad: 'x'.repeat(pad) } })))
  const plain = encodeBatch(splits.map(joinJson))
  const shared = encodeSharedBatch(splits[0].shared, splits.map(s => s.own))
  batches.push({
    'batch of 50, pad': pad,
    '0x01 bytes/envelope': Math.round(plain.byteLength / 50),
    '0x05 bytes/envelope': Math.round(shared.byteLength / 50),
    fewer: `${(100 * (1 - shared.byteLength / plain.byteLength)).toFixed(1)}%`,
    '0x01 decode batches/s': opsPerSec(() => decodeBatch(plain, 1 << 20)),
    '0x05 decode batches/s': opsPerSec(() => decodeBatch(shared, 1 << 20))
  })
}

if (process.argv.includes('--json')) console.log(JSON.stringify({ envelopes: rows, batches }))
else { console.table(rows); console.table(batches) }
