/**
 * npm run bench:inprocess [-- --runs 3]: the steadier A/B for small costs, such as the debug
 * endpoint's. Nodes in one process (so the scheduler of a shared 2-core machine matters less),
 * the two variants interleaved: 64 concurrent requests between two nodes (req/s), and a 4-node
 * broadcast flat out (CPU µs per delivery, all nodes' CPU), each with the debug endpoint off and on;
 * and sequential requests named by a string (as reliable ones are): CPU µs per request, both ends;
 * and a 5-node broadcast paced at 1,000/s (issue 46's paced scenario, one process): CPU µs per
 * delivery beyond the nodes' idle CPU (measured first, as long), and envelopes per batch.
 */
import { benchArgs } from './args.js'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../surfaces/index.js'

const { values } = benchArgs({ options: { runs: { type: 'string', default: '3' }, seconds: { type: 'string', default: '4' } } })
const runs = Number(values.runs)
const ms = Number(values.seconds) * 1000
const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }

// The per-peer request limit (1,000/s by default) is off, as in bench/worker.ts: the figure is what one channel carries.
async function nodes (n: number, debug: boolean): Promise<AgentNode[]> {
  const base: CreateAgentNodeOptions = { mesh: `ip${process.pid}${Math.random()}`.replace('.', ''), mdns: false, security: { mode: 'open' }, logLevel: 'silent', listen: ['/ip4/127.0.0.1/tcp/0'], connections: { targetPeers: 0 }, rpc: { requestsPerSec: 0 }, ...(debug ? { debug: '127.0.0.1:0' } : {}) }
  const out: AgentNode[] = []
  for (let i = 0; i < n; i++) { const x = await createAgentNode(base); await x.start(); out.push(x) }
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) await out[i].dial(out[j].addresses()[0])
  return out
}

async function rpc64 (debug: boolean): Promise<number> {
  const [a, b] = await nodes(2, debug)
  a.handle('echo', (x) => x)
  await b.joined({ peer: a.peerId, signal: AbortSignal.timeout(10_000) })
  for (let i = 0; i < 3000; i++) await b.request(a.peerId, 'echo', i)
  let done = 0
  const t0 = performance.now()
  const end = t0 + ms
  await Promise.all(Array.from({ length: 64 }, async () => { while (performance.now() < end) { await b.request(a.peerId, 'echo', done); done++ } }))
  const rate = done / ((performance.now() - t0) / 1000)
  await a.stop(); await b.stop()
  return Math.round(rate)
}

/** Every node but the first subscribed to 't': how many messages they have been delivered so far. */
function deliveries (all: AgentNode[]): () => number {
  let got = 0
  for (const n of all.slice(1)) {
    const sub = n.subscribe('t')
    void (async () => { for await (const _m of sub) got++ })()
  }
  return () => got
}

/** Until `want` messages were delivered, or 10 s. */
async function delivered (got: () => number, want: number, pollMs: number): Promise<void> {
  const end = Date.now() + 10_000
  while (got() < want && Date.now() < end) await sleep(pollMs)
}

async function broadcastCpu (debug: boolean): Promise<number> {
  const all = await nodes(4, debug)
  const got = deliveries(all)
  await sleep(2500)
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let seq = 0
  while (performance.now() - t0 < ms) {
    await all[0].publish('t', { seq: seq++, pad: 'x'.repeat(1000) })
    if (seq % 50 === 0) await new Promise(resolve => setImmediate(resolve))
  }
  await all[0].flush()
  await delivered(got, seq * 3, 50)
  const cpu = process.cpuUsage(cpu0)
  for (const n of all) await n.stop()
  return Math.round((cpu.user + cpu.system) / Math.max(1, got()))
}

/** One publisher at 1,000/s to four for `ms`, the nodes' idle CPU over as long subtracted: CPU per delivery, and envelopes per batch. */
async function pacedCpu (debug: boolean): Promise<{ cpu: number, perBatch: number }> {
  const all = await nodes(5, debug)
  const got = deliveries(all)
  await sleep(2500)
  const idle0 = process.cpuUsage()
  await sleep(ms)
  const idle = process.cpuUsage(idle0)
  const batches0 = all[0].stats.get('broadcast_batches_total', { direction: 'out' })
  const cpu0 = process.cpuUsage()
  const t0 = performance.now()
  let seq = 0
  while (performance.now() - t0 < ms) {
    const due = Math.floor(performance.now() - t0) // 1,000/s: one a millisecond
    while (seq < due) await all[0].publish('t', { seq: seq++, pad: 'x'.repeat(1000) })
    await sleep(2)
  }
  await all[0].flush()
  await delivered(got, seq * 4, 20)
  const cpu = process.cpuUsage(cpu0)
  const batches = all[0].stats.get('broadcast_batches_total', { direction: 'out' }) - batches0
  for (const n of all) await n.stop()
  const us = (c: NodeJS.CpuUsage): number => c.user + c.system
  return { cpu: Math.round((us(cpu) - us(idle)) / Math.max(1, got())), perBatch: Math.round(10 * seq / Math.max(1, batches)) / 10 }
}

/** One request at a time for `ms`: the CPU of both nodes (this process) per request. */
async function sequentialCpu (debug: boolean): Promise<number> {
  const [a, b] = await nodes(2, debug)
  a.handle('echo', (x) => x)
  await b.joined({ peer: a.peerId, signal: AbortSignal.timeout(10_000) })
  for (let i = 0; i < 2000; i++) await b.request(a.peerId, 'echo', { i })
  let done = 0
  const cpu0 = process.cpuUsage()
  const end = performance.now() + ms
  while (performance.now() < end) await b.request(a.peerId, 'echo', { i: done++ })
  const cpu = process.cpuUsage(cpu0)
  await a.stop(); await b.stop()
  return Math.round((cpu.user + cpu.system) / done)
}

const rows: Array<Record<string, string | number>> = []
for (let r = 0; r < runs; r++) {
  for (const debug of [false, true]) {
    const paced = await pacedCpu(debug)
    rows.push({
      run: r + 1,
      debug: debug ? 'on' : 'off',
      'rpc 64 concurrent req/s': await rpc64(debug),
      'broadcast CPU µs/delivery': await broadcastCpu(debug),
      'sequential request CPU µs': await sequentialCpu(debug),
      'paced 1,000/s CPU µs/delivery beyond idle': paced.cpu,
      'paced envelopes/batch': paced.perBatch
    })
  }
}
console.table(rows)
