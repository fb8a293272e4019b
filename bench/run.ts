/**
 * npm run bench [-- --json] [--quick] [--only agentmesh,vanilla,nats] [--warmup S]
 *
 * agentmesh, vanilla libp2p 3 and NATS (a nats-server on 127.0.0.1, the brokered baseline) on
 * the same load, each node its own process, in one run: broadcast throughput and delivery
 * latency (1 KiB messages, N = 5 and 10, one publisher flat out, one paced at 1,000/s, all
 * publishing 200/s), loss, request-response (sequential p50/p99, 64 concurrent req/s),
 * dial-to-first-answer, and RSS per process. Each broadcast scenario of agentmesh and NATS is
 * measured after an unmeasured run of the same load (--warmup S: 5 s with --quick, else 8), so that
 * it sees the steady state a long-running agent is in.
 */
import { ForkedWorker } from './forked-worker.js'
import { natsMissing, startNats, type NatsServer } from './nats.js'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.js'

const { values: args } = benchArgs({ options: { json: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, only: { type: 'string' }, n: { type: 'string' }, profile: { type: 'string' }, scenario: { type: 'string' }, rate: { type: 'string' }, all: { type: 'string' }, warmup: { type: 'string' } } })
const want = (name: string): boolean => args.scenario === undefined || args.scenario.split(',').includes(name)
const WORKER = fileURLToPath(new URL('./worker.js', import.meta.url))
const SECONDS = args.quick ? 2 : 4
/**
 * Each broadcast scenario's unmeasured run of the same load before its measured one (--warmup S;
 * 0 for the cold figures the bench printed until 2026-11-30). A node's per-batch functions run a few hundred
 * times a second, and V8 optimizes them only seconds in: at N=10, 1,000/s, after one second of
 * warm-up its compiler threads still took a third of both cores in the measured window (perf),
 * the paced p99 was 25-38 ms; after six, 8.5-9.5 ms. A long-running agent pays that once.
 */
const WARMUP_SECONDS = args.warmup !== undefined ? Number(args.warmup) : args.quick ? 5 : 8
if (!Number.isFinite(WARMUP_SECONDS) || WARMUP_SECONDS < 0) {
  process.stderr.write(`--warmup ${String(args.warmup)}: seconds, 0 or more\n`)
  process.exit(2)
}
const log = (s: string): void => { if (!args.json) process.stderr.write(s + '\n') }

// --profile DIR: every worker writes a V8 CPU profile there of each measured phase (the
// broadcast, from reset to the last report; the requests), not of its start-up.
const newWorker = (): ForkedWorker => new ForkedWorker(WORKER)
const profile = async (workers: ForkedWorker[], on: boolean, label: string): Promise<void> => {
  if (args.profile !== undefined) await Promise.all(workers.map(async (w, i) => await w.call('profile', { on, file: `${args.profile as string}/${label}-${i}.cpuprofile` })))
}

const pct = (xs: number[], p: number): number => { const s = xs.slice().sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const round = (x: number, d = 1): number => Math.round(x * 10 ** d) / 10 ** d

interface BroadcastResult {
  scenario: string,
  impl: string,
  n: number,
  publishers: number,
  offeredPerSec: number | 'max',
  sent: number,
  deliveredPerSecPerReceiver: number,
  cpuUsPerDelivery: number,
  lossPct: number,
  lost: number,
  p50Ms: number,
  p99Ms: number,
  duplicates: number
  /** The unmeasured run before it (0: measured cold, as vanilla libp2p is). */
  warmupSeconds: number
  /** Messages of the warm-up that arrived after the reset: not counted. */
  staleFromWarmup: number
  /** Envelopes per batch the publishers wrote (agentmesh only). */
  envelopesPerBatch?: number
}

/** The broker of the NATS runs: started once, stopped at the end. */
let nats: NatsServer | undefined

async function mesh (impl: string, n: number): Promise<{ workers: ForkedWorker[], ids: Array<{ peerId: string, addr: string }>, rssJoined: number[] }> {
  const workers = Array.from({ length: n }, () => newWorker())
  const meshName = `bench${process.pid}${impl}${n}`
  try {
    const ids = await Promise.all(workers.map(async (w, i) => await w.call('init', { impl, index: i, mesh: meshName, url: nats?.url })))
    // Full mesh, the topology of the baseline figures: each node dials every node after it.
    const rss: number[] = []
    for (let i = 0; i < n; i++) rss.push((await workers[i].call('connect', { addrs: ids.slice(i + 1).map(x => x.addr) })).rss)
    return { workers, ids, rssJoined: rss }
  } catch (err) {
    // A mesh that did not form leaves no process behind.
    for (const w of workers) w.child.kill('SIGKILL')
    throw err
  }
}

/** Until the receivers' counts have not moved for half a second (a warm-up's last deliveries), or 10 s: whether they settled. */
async function quiet (workers: ForkedWorker[]): Promise<boolean> {
  const count = async (): Promise<number> => (await Promise.all(workers.map(async w => await w.call('report')))).reduce((a, r) => a + (r.count as number), 0)
  const end = Date.now() + 10_000
  let last = await count()
  while (Date.now() < end) {
    await new Promise(resolve => setTimeout(resolve, 500))
    const now = await count()
    if (now === last) return true
    last = now
  }
  return false
}

async function broadcast (impl: string, workers: ForkedWorker[], topic: string, publishers: number, rate: number, label: string): Promise<BroadcastResult> {
  const n = workers.length
  const gossipTopic = impl === 'agentmesh' ? `agentmesh/${`bench${process.pid}${impl}${n}`}/${topic}` : topic
  for (const w of workers) await w.call('subscribe', { topic })
  // Publishers must know every subscriber before the clock starts.
  for (const w of workers) await w.call('waitSubscribers', { topic: impl === 'agentmesh' ? topic : gossipTopic, n: n - 1 })
  await new Promise(resolve => setTimeout(resolve, 1500)) // let the gossip mesh settle (GRAFTs)
  const pubs = workers.slice(0, publishers)
  // The same load, unmeasured, first (WARMUP_SECONDS), as the request scenarios send 3,000 requests first.
  // Not for vanilla libp2p: it carries a tenth of these loads or less, and a warm-up only left it
  // a backlog that the measured run queued behind (100% lost at N=10, 1,000/s, in the first try).
  const warmup = impl === 'vanilla' ? 0 : WARMUP_SECONDS
  if (warmup > 0) {
    await Promise.all(pubs.map(async w => await w.call('publish', { topic, rate, durationMs: warmup * 1000 })))
    // A warm-up's stragglers after the reset are told apart by its run number (worker.ts) and counted as stale.
    if (!await quiet(workers)) log(`  (${label}: the warm-up's deliveries had not settled after 10 s)`)
  }
  for (const w of workers) await w.call('reset')
  await profile(workers, true, `${impl}-${label.replace(/[^a-z0-9]+/gi, '-')}-n${n}`)
  const brokerCpu0 = impl === 'nats' ? nats?.cpuMs() ?? 0 : 0
  const results = await Promise.all(pubs.map(async w => await w.call('publish', { topic, rate, durationMs: SECONDS * 1000 })))
  const sent = results.reduce((a, r) => a + r.sent, 0)
  const start = Math.min(...results.map(r => r.startedAt))
  // Wait for delivery to finish: until nothing new arrives for 2 s (or 20 s in all).
  let reports: any[] = []
  let last = -1
  const deadline = Date.now() + 20_000
  while (Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 1000))
    reports = await Promise.all(workers.map(async w => await w.call('report')))
    const total = reports.reduce((a, r) => a + r.count, 0)
    const expected = workers.reduce((a, _w, i) => a + (sent - (i < publishers ? results[i].sent : 0)), 0)
    if (total >= expected) break
    if (total === last) { await new Promise(resolve => setTimeout(resolve, 1000)); const again = (await Promise.all(workers.map(async w => await w.call('report')))).reduce((a, r) => a + r.count, 0); if (again === total) break }
    last = total
  }
  await profile(workers, false, `${impl}-${label.replace(/[^a-z0-9]+/gi, '-')}-n${n}`)
  // Per receiver: what it got of what others sent, and how fast (first send to its last receipt).
  let lost = 0
  let expectedAll = 0
  const rates: number[] = []
  const p50s: number[] = []
  const p99s: number[] = []
  let dups = 0
  let stale = 0
  // The broker's CPU is part of NATS's cost per delivery (it does the fan-out).
  let cpuMs = impl === 'nats' ? (nats?.cpuMs() ?? 0) - brokerCpu0 : 0
  let delivered = 0
  let receivers = 0
  reports.forEach((r, i) => {
    cpuMs += r.cpuMs
    delivered += r.count
    const expected = sent - (i < publishers ? results[i].sent : 0)
    expectedAll += expected
    if (expected > 0) receivers++
    lost += Math.max(0, expected - r.count)
    if (r.count > 0) rates.push(r.count / ((r.lastReceipt - start) / 1000))
    if (!Number.isNaN(r.p50)) { p50s.push(r.p50); p99s.push(r.p99) }
    dups += r.duplicates
    stale += r.stale ?? 0
  })
  const res: BroadcastResult = {
    scenario: label,
    impl,
    n,
    publishers,
    offeredPerSec: rate === 0 ? 'max' : rate * publishers,
    sent,
    // A receiver that got nothing delivered 0/s; latencies exist only for what arrived.
    deliveredPerSecPerReceiver: rates.length < receivers ? 0 : round(Math.min(...rates), 0),
    // CPU of every process (publishers included) per envelope delivered: steadier than latency
    // on a shared machine, and what a change to the hot path should move.
    cpuUsPerDelivery: round(1000 * cpuMs / Math.max(1, delivered), 0),
    lossPct: round(100 * lost / Math.max(1, expectedAll), 2),
    lost,
    p50Ms: p50s.length === 0 ? NaN : round(Math.max(...p50s)),
    p99Ms: p99s.length === 0 ? NaN : round(Math.max(...p99s)),
    duplicates: dups,
    warmupSeconds: warmup,
    staleFromWarmup: stale
  }
  const batches = results.reduce((a, r) => a + (r.batches ?? 0), 0)
  if (batches > 0) res.envelopesPerBatch = round(sent / batches)
  log(`  ${label.padEnd(34)} ${String(res.deliveredPerSecPerReceiver).padStart(7)}/s per receiver  p50 ${String(res.p50Ms).padStart(7)} ms  p99 ${String(res.p99Ms).padStart(7)} ms  loss ${res.lossPct}% (${lost}/${expectedAll})  cpu ${res.cpuUsPerDelivery} µs/delivery${res.envelopesPerBatch !== undefined ? `  ${res.envelopesPerBatch} per batch` : ''}${warmup === 0 ? '  (cold)' : ''}${stale > 0 ? `  ${stale} stale` : ''}`)
  return res
}

async function runImpl (impl: string): Promise<Record<string, unknown>> {
  const out: Record<string, unknown> = { broadcast: [] as BroadcastResult[] }
  const rss: number[] = []
  for (const n of args.n !== undefined ? [Number(args.n)] : [5, 10]) {
    log(`${impl}, ${n} nodes`)
    const { workers, ids, rssJoined } = await mesh(impl, n)
    if (n === 5) {
      out.rssMiBJoined = round(pct(rssJoined, 0.5) / 2 ** 20)
      log(`  RSS per process, joined, idle      ${out.rssMiBJoined} MiB (median)`)
    }
    try {
      const b = out.broadcast as BroadcastResult[]
      if (want('flat')) b.push(await broadcast(impl, workers, `flat${n}`, 1, 0, 'one publisher, flat out'))
      if (want('paced')) b.push(await broadcast(impl, workers, `paced${n}`, 1, 1000, 'one publisher, 1,000/s'))
      if (args.rate !== undefined) b.push(await broadcast(impl, workers, `rate${n}`, 1, Number(args.rate), `one publisher, ${args.rate}/s`))
      // --all R: each of the n publishes R/s (issue 15's targets: 1,000/s at N = 5, 100/s at N = 10).
      const allRate = args.all !== undefined ? Number(args.all) : 200
      if (want('all')) b.push(await broadcast(impl, workers, `all${n}`, n, allRate, `all ${n} publishing ${allRate}/s each`))
      if (n === 5 && want('rpc')) {
        await profile(workers.slice(0, 2), true, `${impl}-rpc`)
        const seq = (await workers[1].call('rpcSeq', { target: ids[0].peerId, addr: ids[0].addr, warmup: 3000, count: args.quick ? 500 : 2000 })).latencies as number[]
        const conc = await workers[1].call('rpcConc', { target: ids[0].peerId, addr: ids[0].addr, concurrency: 64, durationMs: SECONDS * 1000 })
        await profile(workers.slice(0, 2), false, `${impl}-rpc`)
        const cf = (await workers[2].call('connectFirst', { target: ids[0].peerId, addr: ids[0].addr, times: args.quick ? 5 : 20 })).latencies as number[]
        out.rpc = {
          sequentialP50Ms: round(pct(seq, 0.5), 3),
          sequentialP99Ms: round(pct(seq, 0.99), 3),
          concurrent64ReqPerSec: round(conc.done / (conc.elapsedMs / 1000), 0),
          connectToFirstAnswerP50Ms: round(pct(cf, 0.5)),
          connectToFirstAnswerP99Ms: round(pct(cf, 0.99))
        }
        const r = out.rpc as Record<string, number>
        log(`  request-response sequential        p50 ${r.sequentialP50Ms} ms  p99 ${r.sequentialP99Ms} ms`)
        log(`  request-response, 64 concurrent    ${r.concurrent64ReqPerSec} req/s`)
        log(`  dial to first answer               p50 ${r.connectToFirstAnswerP50Ms} ms  p99 ${r.connectToFirstAnswerP99Ms} ms`)
        const reports = await Promise.all(workers.map(async w => await w.call('report')))
        rss.push(...reports.map(r => r.rss))
        out.rssMiBAfterRun = round(pct(rss, 0.5) / 2 ** 20)
        log(`  RSS per process, after the run     ${out.rssMiBAfterRun} MiB (median; includes the bench's own receipt records)`)
      }
    } finally {
      await Promise.all(workers.map(async w => { await w.call('stop', {}, 10_000).catch(() => {}); await w.kill() }))
    }
  }
  return out
}

let impls = args.only !== undefined ? args.only.split(',') : ['agentmesh', 'vanilla', 'nats']
const results: Record<string, any> = {}
if (impls.includes('nats')) {
  const missing = natsMissing()
  if (missing !== undefined) {
    log(`nats: skipped, ${missing}`)
    results.nats = { skipped: missing }
    impls = impls.filter(i => i !== 'nats')
  } else {
    nats = await startNats()
  }
}
try {
  for (const impl of impls) results[impl] = await runImpl(impl)
} finally {
  await nats?.stop()
}

/** agentmesh's figures over another's, same run: rates as a/b, latencies as b/a (above 1: agentmesh better). */
function ratiosAgainst (other: string): Record<string, number> | undefined {
  const a = results.agentmesh
  const o = results[other]
  if (a?.broadcast === undefined || o?.broadcast === undefined) return undefined
  const ratios: Record<string, number> = {}
  a.broadcast.forEach((x: BroadcastResult) => {
    const y = (o.broadcast as BroadcastResult[]).find(b => b.scenario === x.scenario && b.n === x.n)
    if (y === undefined) return
    ratios[`${x.scenario} N=${x.n}: delivered/s`] = round(x.deliveredPerSecPerReceiver / Math.max(1, y.deliveredPerSecPerReceiver), 2)
    if (x.p99Ms > 0 && y.p99Ms > 0) ratios[`${x.scenario} N=${x.n}: p99 (${other}/agentmesh)`] = round(y.p99Ms / x.p99Ms, 2)
    ratios[`${x.scenario} N=${x.n}: CPU/delivery (${other}/agentmesh)`] = round(y.cpuUsPerDelivery / Math.max(1, x.cpuUsPerDelivery), 2)
  })
  if (a.rpc !== undefined && o.rpc !== undefined) {
    ratios['rpc 64 concurrent req/s'] = round(a.rpc.concurrent64ReqPerSec / o.rpc.concurrent64ReqPerSec, 2)
    ratios[`rpc sequential p50 (${other}/agentmesh)`] = round(o.rpc.sequentialP50Ms / a.rpc.sequentialP50Ms, 2)
  }
  return ratios
}
for (const other of ['vanilla', 'nats']) {
  const ratios = ratiosAgainst(other)
  if (ratios === undefined) continue
  results[`ratios_${other}`] = ratios
  log(`\nagentmesh / ${other}, same run (above 1: agentmesh ahead${other === 'vanilla' && WARMUP_SECONDS > 0 ? '; its broadcasts measured cold, agentmesh\'s warm' : ''}):`)
  for (const [k, v] of Object.entries(ratios)) log(`  ${k.padEnd(56)} ${v}x`)
}
results.machine = { node: process.version, cores: (await import('node:os')).cpus().length, seconds: SECONDS, warmupSeconds: WARMUP_SECONDS }
if (args.json) process.stdout.write(JSON.stringify(results) + '\n')
process.exit(0)
