/**
 * node dist/bench/sealing.js [--runs 3] [--messages 1500] [--requests 2000] [--pad 1000] [--profile DIR]: what sealed payloads
 * (`encryptFor`) cost, printed beside plain. Six nodes in one process, full mesh, the variants
 * interleaved in each run, in a rotating order, after a warm-up of each (the scheduler of a shared
 * 2-core machine matters less so):
 *  - broadcast: one publisher sends `messages` 1 KiB events flat out to five subscribers; msgs/s is
 *    messages over the time until every reader has all of them (plain: the five; sealed for 1:
 *    one reader, the four others still receive and refuse each; sealed for 5: the five), with the
 *    CPU of all six nodes per message published.
 *  - request: sequential 1 KiB requests to one peer, p50 and p99; in the sealed variants each is
 *    the node's own sealed request (`encryptFor` its destination: opened before the handler, the
 *    answer sealed back), whatever the broadcast's recipients.
 * `--profile DIR`: a V8 CPU profile of each measured broadcast, by variant (DIR/<variant>/, read
 * with bench/profile-summary.ts), apart from the set-up and the tables without the network.
 */
import { benchArgs } from './args.js'
import { mkdir, writeFile } from 'node:fs/promises'
import { Session } from 'node:inspector/promises'
import { join } from 'node:path'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import { isSealed, SealingService } from '../protocols/sealing/index.js'
import { decodeBatchFrame, encodeBatch, envelopeToJson, makeEnvelope, type Envelope } from '../protocols/envelope/index.js'
import { encodeSealedBatch, grouped, openGroups, sealBatch } from '../protocols/pubsub/sealed-batch.js'
import { privateKeyOf } from '../protocols/coordination/election-keys.js'

const { values } = benchArgs({ options: { runs: { type: 'string', default: '3' }, messages: { type: 'string', default: '1500' }, requests: { type: 'string', default: '2000' }, pad: { type: 'string', default: '1000' }, profile: { type: 'string' } } })
const runs = Number(values.runs)
const N = Number(values.messages)
const R = Number(values.requests)
const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }
// --pad 1620: a plain payload as long as a sealed 1 KiB one, to tell the cost of bytes from the cost of sealing.
const PAD = 'x'.repeat(Number(values.pad))

async function mesh (n: number): Promise<AgentNode[]> {
  const base = { mesh: `seal${process.pid}${Math.random()}`.replace('.', ''), mdns: false, logLevel: 'silent' as const, listen: ['/ip4/127.0.0.1/tcp/0'], connections: { targetPeers: 0 }, security: { mode: 'open' as const } }
  const out: AgentNode[] = []
  for (let i = 0; i < n; i++) { const x = await createAgentNode({ ...base, name: `s${i}` }); await x.start(); out.push(x) }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) await out[i].dial(out[j].addresses()[0])
  return out
}

type Variant = 'plain' | 'sealed for 1' | 'sealed for 5'
const VARIANTS: Variant[] = ['plain', 'sealed for 1', 'sealed for 5']

async function broadcast (all: AgentNode[], got: number[], v: Variant, profile?: string): Promise<{ rate: number, cpu: number }> {
  const [pub, ...subs] = all
  const session = profile !== undefined ? new Session() : undefined
  if (session !== undefined) { session.connect(); await session.post('Profiler.enable'); await session.post('Profiler.start') }
  const readers = v === 'sealed for 1' ? [0] : [0, 1, 2, 3, 4]
  const encryptFor = v === 'plain' ? undefined : readers.map(i => subs[i].peerId)
  const start = got.map(x => x)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  for (let seq = 0; seq < N; seq++) {
    await pub.publish('bench', { seq, pad: PAD }, encryptFor !== undefined ? { encryptFor } : {})
    if (seq % 50 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  await pub.flush()
  const end = Date.now() + 60_000
  const done = (): boolean => readers.every(i => got[i] - start[i] >= N)
  while (!done() && Date.now() < end) await sleep(5)
  const seconds = (performance.now() - t0) / 1000
  const cpu = process.cpuUsage(cpu0)
  if (session !== undefined && profile !== undefined) {
    const { profile: p } = await session.post('Profiler.stop')
    const dir = join(profile, v.replace(/\W+/g, '-'))
    await mkdir(dir, { recursive: true })
    await writeFile(join(dir, `${Date.now()}.cpuprofile`), JSON.stringify(p))
    session.disconnect()
  }
  if (!done()) {
    // Counted as no figure (the medians leave it out), and said: gossip lost messages under load.
    console.log(`${v}: not every reader got ${N} messages within 60 s (${readers.map(i => got[i] - start[i]).join(', ')}); round left out`)
    await sleep(2_000) // stragglers land before the next round starts counting
    return { rate: NaN, cpu: NaN }
  }
  return { rate: Math.round(N / seconds), cpu: Math.round((cpu.user + cpu.system) / N) }
}

async function requests (a: AgentNode, b: AgentNode, to: string[] | undefined): Promise<{ p50: number, p99: number }> {
  const times: number[] = []
  for (let i = 0; i < R + 200; i++) {
    const t = performance.now()
    const payload = { seq: i, pad: PAD }
    // A sealed request is the node's own (`encryptFor`, protocols/sealing/direct.ts): sealed for its
    // destination alone whatever the broadcast's variant, opened by the node before its handler, the
    // answer sealed back. (A payload sealed by hand under another subject is refused, SEC003.)
    if (to === undefined) await a.request(b.peerId, 'echo', payload)
    else await a.request(b.peerId, 'sealed-echo', payload, { encryptFor: [b.peerId] })
    if (i >= 200) times.push(performance.now() - t) // the first 200 warm up
  }
  times.sort((x, y) => x - y)
  const at = (q: number): number => Math.round(times[Math.floor(q * (times.length - 1))] * 1000) / 1000
  return { p50: at(0.5), p99: at(0.99) }
}

const all = await mesh(6)
const [pub, ...subs] = all
const got = subs.map(() => 0)
subs.forEach((s, i) => { void (async () => { for await (const _m of s.subscribe('bench')) got[i]++ })() })
const deadline = Date.now() + 20_000
while (pub.topicPeers('bench').subscribers.length < 5 && Date.now() < deadline) await sleep(50)
await sleep(1500) // gossip meshes graft on the next heartbeats

const settings = { rotationMs: 24 * 3_600_000, graceMs: 3_600_000, withRole: () => [] }
const sealers = {
  a: new SealingService({ ...settings, privateKey: privateKeyOf(pub.libp2p), mesh: pub.config.mesh }),
  b: new SealingService({ ...settings, privateKey: privateKeyOf(subs[0].libp2p), mesh: pub.config.mesh })
}
subs[0].handle('echo', (x) => x)
subs[0].handle('sealed-echo', (x) => x)
await pub.joined({ peer: subs[0].peerId, signal: AbortSignal.timeout(10_000) })

/** The steady part: CPU per 1 KiB payload sealed and opened, the keys cached (what every message pays). */
function sealCost (to: string[]): { seal: number, open: number } {
  const k = 5_000
  let t = performance.now()
  const sealed = []
  for (let i = 0; i < k; i++) sealed.push(sealers.a.seal('cost', { seq: i, pad: PAD }, to).payload)
  const seal = (performance.now() - t) * 1000 / k
  t = performance.now()
  for (const p of sealed) if (!sealers.b.open('cost', pub.peerId, p).ok) throw new Error('did not open')
  return { seal: Math.round(seal), open: Math.round((performance.now() - t) * 1000 / k) }
}
for (const to of [[subs[0].peerId], subs.map(s => s.peerId)]) {
  sealCost(to) // warm-up
  const c = sealCost(to)
  const plain = JSON.stringify({ seq: 0, pad: PAD }).length
  const p = sealers.a.seal('cost', { seq: 0, pad: PAD }, to).payload
  const size = JSON.stringify({ ...p, ek: undefined, wraps: undefined }).length - plain
  const wraps = JSON.stringify(p.wraps !== undefined ? p : { ...p, ek: 'x'.repeat(44), wraps: to.map(() => ({ to: 'x'.repeat(11), ct: 'x'.repeat(64) })) }).length - plain
  console.log(`sealed for ${to.length}: seal ${c.seal} µs, open ${c.open} µs per 1 KiB payload (keys cached); ${size} bytes more than plain (${wraps} on those that carry the wraps)`)
}

/**
 * What a batch of 50 1 KiB payloads costs to write and to read, without the network: plain,
 * sealed one by one (version 2, what reliable publishes still do) and as a group (version 3, the
 * at-most-once publish), its ciphertext in base64 in the JSON (wire byte 0x03, what the build
 * before sent) or as a binary section (0x04). Publish: the envelopes made, sealed and encoded as one batch; receive:
 * the batch decoded, shapes checked, payloads opened. Interleaved, medians of 5 rounds.
 */
function batchCost (): void {
  const to = [subs[0].peerId]
  const a = sealers.a
  const env = (payload: unknown): Envelope => makeEnvelope({ source: pub.peerId, destination: { topic: 'cost' }, type: 'EVENT', subject: 'cost', payload })
  const write: Record<string, (seq: number) => Uint8Array> = {
    plain: seq => encodeBatch(Array.from({ length: 50 }, (_, i) => envelopeToJson(env({ seq: seq + i, pad: PAD })))),
    'sealed one by one (v2)': seq => encodeBatch(Array.from({ length: 50 }, (_, i) => envelopeToJson(env(a.seal('cost', { seq: seq + i, pad: PAD }, to).payload)))),
    'group, base64 in the JSON (0x03)': seq => {
      const items = Array.from({ length: 50 }, (_, i) => grouped(env(0), { seq: seq + i, pad: PAD }, a.forGroup('cost', to).recipients))
      return encodeSealedBatch(sealBatch(a, 'cost', items, 'base64'))
    },
    'group, binary section (0x04)': seq => {
      const items = Array.from({ length: 50 }, (_, i) => grouped(env(0), { seq: seq + i, pad: PAD }, a.forGroup('cost', to).recipients))
      return encodeSealedBatch(sealBatch(a, 'cost', items))
    }
  }
  const read = (bytes: Uint8Array): void => {
    const { envs, sections } = decodeBatchFrame(bytes, 1 << 22)
    const opened = openGroups(sealers.b, 'cost', envs.filter(e => isSealed(e.payload)), sections)
    if (opened === undefined) for (const e of envs) if (isSealed(e.payload) && !sealers.b.open('cost', pub.peerId, e.payload).ok) throw new Error('did not open')
    if (opened !== undefined && opened.some(r => r?.ok !== true)) throw new Error('a group did not open')
  }
  const figures = new Map<string, { pub: number[], recv: number[], bytes: number }>()
  for (let round = 0; round < 6; round++) {
    for (const [name, f] of Object.entries(write)) {
      let tw = 0
      let tr = 0
      let bytes = 0
      for (let k = 0; k < 200; k++) {
        const t0 = performance.now()
        const batch = f(k * 50)
        const t1 = performance.now()
        read(batch)
        tw += t1 - t0
        tr += performance.now() - t1
        bytes = batch.byteLength
      }
      if (round === 0) continue // warm-up
      const x = figures.get(name) ?? { pub: [], recv: [], bytes }
      x.pub.push(tw * 1000 / 10_000)
      x.recv.push(tr * 1000 / 10_000)
      figures.set(name, x)
    }
  }
  const mid = (xs: number[]): number => Math.round(xs.sort((p, q) => p - q)[Math.floor(xs.length / 2)] * 10) / 10
  console.log('a batch of 50 1 KiB payloads for one recipient, no network (medians of 5 rounds):')
  console.table([...figures].map(([name, x]) => ({ format: name, 'write µs/msg': mid(x.pub), 'read µs/msg': mid(x.recv), 'bytes/msg': Math.round(x.bytes / 50) })))
}
batchCost()

// A warm-up of each, not counted (the first variant measured would otherwise pay for the JIT).
for (const v of VARIANTS) await broadcast(all, got, v)
const rows: Array<Record<string, string | number>> = []
for (let r = 0; r < runs; r++) {
  // Each run starts with another variant, so none is always measured first.
  for (const v of [...VARIANTS.slice(r % 3), ...VARIANTS.slice(0, r % 3)]) {
    const b = await broadcast(all, got, v, values.profile)
    const to = v === 'plain' ? undefined : v === 'sealed for 1' ? [subs[0].peerId] : subs.map(s => s.peerId)
    const q = await requests(pub, subs[0], to)
    rows.push({ run: r + 1, variant: v, 'broadcast msgs/s': b.rate, 'CPU µs/msg (6 nodes)': b.cpu, 'request p50 ms': q.p50, 'request p99 ms': q.p99 })
  }
}
console.table(rows)
const median = (xs: number[]): number => { const s = xs.filter(x => !Number.isNaN(x)).sort((x, y) => x - y); return s[Math.floor(s.length / 2)] ?? NaN }
const summary = VARIANTS.map(v => {
  const mine = rows.filter(x => x.variant === v)
  const m = (k: string): number => median(mine.map(x => x[k] as number))
  return { variant: v, 'broadcast msgs/s': m('broadcast msgs/s'), 'CPU µs/msg (6 nodes)': m('CPU µs/msg (6 nodes)'), 'request p50 ms': m('request p50 ms'), 'request p99 ms': m('request p99 ms') }
})
const plain = summary[0]
console.log(`medians of ${runs} runs, ${N} broadcast messages and ${R} requests each:`)
console.table(summary.map(s => ({
  ...s,
  'broadcast vs plain': `${Math.round((s['broadcast msgs/s'] / plain['broadcast msgs/s'] - 1) * 100)}%`,
  'p50 vs plain': `${Math.round((s['request p50 ms'] / plain['request p50 ms'] - 1) * 100)}%`
})))
for (const n of all) await n.stop()
