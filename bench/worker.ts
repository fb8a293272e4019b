/**
 * One benchmark node in its own process, driven by bench/run.ts over the IPC channel. The same
 * commands run on an agentmesh node or a vanilla libp2p node, so both meet the same topology
 * and load.
 */
import '../node/polyfills.js'
import { phaseProfile } from './phase-profile.js'
import { multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import { createVanilla, vanillaRequest, type Vanilla } from './vanilla.js'
import { connect as natsConnect, type NatsConnection } from '@nats-io/transport-node'

type Impl = 'agentmesh' | 'vanilla' | 'nats'
interface Cmd { id: number, cmd: string, [k: string]: any }

const now = (): number => performance.timeOrigin + performance.now()
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
/**
 * The payload's padding: BENCH_PAD bytes (1000) of one repeated byte, or with BENCH_PAD_KIND=prose
 * words from a fixed list, a different run of them per message (text that compresses as text
 * does, about 4:1 in a batch, where one repeated byte compresses 30:1: what compression is judged on).
 */
const PAD_BYTES = Number(process.env.BENCH_PAD ?? 1000)
const WORDS = ['agent', 'task', 'the', 'result', 'of', 'model', 'queue', 'worker', 'is', 'a', 'status', 'running', 'failed', 'node', 'mesh', 'update', 'latency', 'ok', 'and', 'retry', 'budget', 'plan', 'step', 'tool', 'call', 'answer', 'with', 'for', 'in', 'to']
let padSeed = 1 + (Number(process.pid) % 1000)
function pad (): string {
  if (process.env.BENCH_PAD_KIND !== 'prose') return REPEATED
  let out = ''
  while (out.length < PAD_BYTES) { padSeed = (padSeed * 1103515245 + 12345) % 2 ** 31; out += WORDS[padSeed % WORDS.length] + (padSeed % 7 === 0 ? '. ' : ' ') }
  return out.slice(0, PAD_BYTES)
}
const REPEATED = 'x'.repeat(PAD_BYTES)

let impl: Impl
let am: AgentNode | undefined
let va: Vanilla | undefined
let nc: NatsConnection | undefined
let natsUrl = ''
let index = 0
let mesh = 'bench'

// receipt bookkeeping: per publisher index, how many and how late
let received = new Map<number, number>()
let latencies: number[] = []
let lastReceipt = 0
let duplicates = 0
let seen = new Set<string>()
let cpuAtReset = process.cpuUsage()
/** Counted up by every reset, in every worker alike: a message of an earlier run (a warm-up's straggler) is not this run's. */
let run = 0
let stale = 0

function record (pub: number, seq: number, sentAt: number, of?: number): void {
  if (of !== undefined && of !== run) { stale++; return }
  const key = `${pub}:${seq}`
  if (seen.has(key)) { duplicates++; return }
  seen.add(key)
  const t = now()
  received.set(pub, (received.get(pub) ?? 0) + 1)
  latencies.push(t - sentAt)
  lastReceipt = t
}

function encodeVanilla (pub: number, seq: number): Uint8Array {
  const buf = Buffer.alloc(1024)
  buf.writeDoubleLE(now(), 0)
  buf.writeUInt32LE(seq, 8)
  buf.writeUInt32LE(pub, 12)
  return buf
}

async function handle (m: Cmd): Promise<unknown> {
  switch (m.cmd) {
    case 'init': {
      impl = m.impl; index = m.index; mesh = m.mesh
      if (impl === 'agentmesh') {
        // The request figures measure what one channel carries, so the per-peer request limit
        // (1,000/s by default, docs/security.md) is off here; bench/flood.ts measures the limits.
        // BENCH_RPC (JSON merged into the rpc config) puts it back: '{"requestsPerSec":1000}'.
        const rpc = { requestsPerSec: 0, ...(process.env.BENCH_RPC !== undefined ? JSON.parse(process.env.BENCH_RPC) : {}) }
        am = await createAgentNode({ mesh, name: `b${index}`, mdns: false, security: { mode: 'open' }, logLevel: 'warn', listen: ['/ip4/127.0.0.1/tcp/0'], connections: { targetPeers: 0, inboundConnectionThreshold: 1000 }, rpc, ...(process.env.BENCH_PUBSUB !== undefined ? { pubsub: JSON.parse(process.env.BENCH_PUBSUB) } : {}), ...(process.env.BENCH_DEBUG !== undefined || process.env.BENCH_EVENTS !== undefined ? { debug: '127.0.0.1:0' } : {}) })
        am.handle('echo', (x) => x)
        await am.start()
        if (process.env.BENCH_EVENTS !== undefined && am.debugUrl !== undefined) {
          // One /events client attached for the whole run, reading (and discarding) everything.
          const res = await fetch(`${am.debugUrl}/events`)
          void (async () => { try { for await (const _chunk of res.body as any) { /* read */ } } catch {} })()
        }
        return { peerId: am.peerId, addr: am.addresses()[0] }
      }
      if (impl === 'nats') {
        // The broker does the fan-out; each worker is one client connection, like an agent.
        natsUrl = m.url
        nc = await natsConnect({ servers: natsUrl })
        const id = `n${index}`
        nc.subscribe(`echo.${id}`, { callback: (_err, msg) => { msg.respond(msg.data) } })
        await nc.flush()
        return { peerId: id, addr: natsUrl }
      }
      va = await createVanilla()
      await va.start()
      return { peerId: va.peerId.toString(), addr: va.getMultiaddrs()[0].toString() }
    }
    case 'connect': {
      if (nc !== undefined) return { peers: 1, rss: process.memoryUsage().rss }
      for (const a of m.addrs as string[]) {
        // A dial may time out on a loaded 2-core machine: tried three times before the run fails.
        for (let attempt = 1; ; attempt++) {
          try {
            if (am !== undefined) await am.dial(a)
            else await va!.dial(multiaddr(a))
            break
          } catch (err) {
            if (attempt >= 3) throw err
            await sleep(500)
          }
        }
        await sleep(20) // a burst of Noise handshakes times out on 2 cores
      }
      return { peers: am !== undefined ? am.libp2p.getPeers().length : va!.getPeers().length, rss: process.memoryUsage().rss }
    }
    case 'subscribe': {
      const topic = m.topic as string
      if (am !== undefined) {
        const sub = am.subscribe(topic)
        void (async () => { for await (const msg of sub) { const p = msg.payload as any; if (msg.from !== am!.peerId) record(p.pub, p.seq, p.t, p.run) } })()
      } else if (nc !== undefined) {
        // The same JSON payload as agentmesh's, parsed on receipt as an agent would.
        nc.subscribe(topic, {
          callback: (_err, msg) => { const p = JSON.parse(Buffer.from(msg.data).toString()); if (p.pub !== index) record(p.pub, p.seq, p.t, p.run) }
        })
        await nc.flush() // the server has the subscription before the publishers start
      } else {
        va!.services.pubsub.subscribe(topic)
        va!.services.pubsub.addEventListener('message', (e) => {
          if (e.detail.topic !== topic) return
          const b = Buffer.from(e.detail.data.buffer, e.detail.data.byteOffset, e.detail.data.byteLength)
          record(b.readUInt32LE(12), b.readUInt32LE(8), b.readDoubleLE(0))
        })
      }
      return {}
    }
    case 'waitSubscribers': {
      const end = Date.now() + 20_000
      if (nc !== undefined) return { subscribers: m.n } // subscribe flushed: the server has them all
      const count = (): number => am !== undefined ? am.topicPeers(m.topic).subscribers.length : va!.services.pubsub.getSubscribers(m.topic).length
      while (count() < m.n && Date.now() < end) await sleep(50)
      return { subscribers: count() }
    }
    case 'reset': {
      received = new Map(); latencies = []; lastReceipt = 0; duplicates = 0; seen = new Set(); stale = 0; run++; cpuAtReset = process.cpuUsage()
      return {}
    }
    case 'publish': {
      // rate 0: flat out (as fast as publish lets us); otherwise paced in 2 ms ticks.
      const { topic, rate, durationMs } = m as unknown as { topic: string, rate: number, durationMs: number }
      const start = now()
      // Batches this publisher wrote (agentmesh): its envelopes a batch say how much the flusher gathered.
      const batchesOut = (): number => am?.stats.get('broadcast_batches_total', { direction: 'out' }) ?? 0
      const batches0 = batchesOut()
      let seq = 0
      const one = async (): Promise<void> => {
        if (am !== undefined) await am.publish(topic, { pub: index, seq: seq++, t: now(), run, pad: pad() })
        else if (nc !== undefined) await natsPublish(topic, { pub: index, seq: seq++, t: now(), run, pad: pad() })
        else await va!.services.pubsub.publish(topic, encodeVanilla(index, seq++))
      }
      if (rate === 0) {
        while (now() - start < durationMs) {
          await one()
          // Yield to the event loop now and then: a loop of resolved promises would starve it.
          if (seq % 50 === 0) await new Promise(resolve => setImmediate(resolve))
        }
      } else {
        while (true) {
          const elapsed = now() - start
          if (elapsed >= durationMs) break
          const due = Math.floor(elapsed * rate / 1000)
          // eslint-disable-next-line no-unmodified-loop-condition -- one() advances `seq`
          while (seq < due) await one()
          await sleep(2)
        }
      }
      if (am !== undefined) await am.flush()
      if (nc !== undefined) await nc.flush()
      return { sent: seq, startedAt: start, elapsedMs: now() - start, batches: batchesOut() - batches0 }
    }
    case 'report': {
      // The run's CPU is read before the latencies are sorted: the sort (up to ~300,000 of them
      // per receiver) is the report's work, not the deliveries'.
      const cpu = process.cpuUsage(cpuAtReset)
      const sorted = Float64Array.from(latencies).sort()
      const pct = (p: number): number => sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]
      return {
        cpuMs: (cpu.user + cpu.system) / 1000,
        received: Object.fromEntries(received),
        count: latencies.length,
        p50: pct(0.5),
        p99: pct(0.99),
        max: sorted[sorted.length - 1] ?? NaN,
        lastReceipt,
        duplicates,
        stale,
        rss: process.memoryUsage().rss
      }
    }
    case 'rpcSeq': {
      // Untimed first: V8 compiles the request path's functions after a few thousand calls, and
      // before that a round trip takes half as long again (0.40 against 0.27 ms here).
      for (let i = 0; i < (m.warmup ?? 0); i++) await request(m.target, i)
      const lat: number[] = []
      for (let i = 0; i < m.count; i++) {
        const t0 = performance.now()
        await request(m.target, i)
        lat.push(performance.now() - t0)
      }
      return { latencies: lat }
    }
    case 'rpcConc': {
      const end = performance.now() + m.durationMs
      let done = 0
      const t0 = performance.now()
      await Promise.all(Array.from({ length: m.concurrency }, async () => {
        while (performance.now() < end) { await request(m.target, done); done++ }
      }))
      return { done, elapsedMs: performance.now() - t0 }
    }
    case 'connectFirst': {
      // A fresh node each time (not timed), then dial + first answered request (timed).
      const lat: number[] = []
      for (let i = 0; i < m.times; i++) {
        if (impl === 'nats') {
          const t0 = performance.now()
          const c = await natsConnect({ servers: natsUrl })
          await c.request(`echo.${m.target as string}`, body, { timeout: 10_000 })
          lat.push(performance.now() - t0)
          await c.close()
        } else if (impl === 'agentmesh') {
          const n = await createAgentNode({ mesh, mdns: false, security: { mode: 'open' }, logLevel: 'warn', listen: ['/ip4/127.0.0.1/tcp/0'], connections: { targetPeers: 0 } })
          await n.start()
          const t0 = performance.now()
          await n.dial(m.addr)
          await n.request(m.target, 'echo', 1)
          lat.push(performance.now() - t0)
          await n.stop()
        } else {
          const n = await createVanilla()
          await n.start()
          const t0 = performance.now()
          await vanillaRequest(n, m.addr, new Uint8Array([1]))
          lat.push(performance.now() - t0)
          await n.stop()
        }
      }
      return { latencies: lat }
    }
    case 'profile': {
      await phaseProfile(m)
      return {}
    }
    case 'stop': {
      await am?.stop()
      await va?.stop()
      await nc?.drain()
      return {}
    }
  }
  throw new Error(`unknown command ${m.cmd}`)
}

const body = new Uint8Array(64)

/**
 * NATS publish is synchronous into the client's buffer: a flat-out loop would grow it without
 * bound (and the server cut the connection off as a slow consumer). Past 4 MiB buffered, wait
 * for the server to have taken it, the backpressure agentmesh's publish window gives.
 */
let unflushed = 0
function natsPublish (topic: string, payload: unknown): void | Promise<void> {
  const data = Buffer.from(JSON.stringify(payload))
  nc!.publish(topic, data)
  unflushed += data.byteLength
  if (unflushed > 4 * 1024 * 1024) { unflushed = 0; return nc!.flush() }
}
async function request (target: string, i: number): Promise<void> {
  if (am !== undefined) await am.request(target, 'echo', i)
  else if (nc !== undefined) await nc.request(`echo.${target}`, body, { timeout: 10_000 })
  else await vanillaRequest(va!, peerIdFromString(target), body)
}

process.on('message', (m: Cmd) => {
  handle(m).then(
    (result) => { process.send!({ id: m.id, result }) },
    (err) => { process.send!({ id: m.id, error: String((err as Error)?.stack ?? err) }) }
  )
  if (m.cmd === 'stop') setTimeout(() => process.exit(0), 200)
})

// The driver is gone (it failed, or was killed): no worker outlives it.
process.on('disconnect', () => { process.exit(0) })
