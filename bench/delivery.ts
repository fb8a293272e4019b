/**
 * npm run bench:delivery [-- --seconds 4 --concurrency 64]: request throughput and latency under
 * each delivery guarantee, two nodes in one process, each with a durable data directory (LMDB,
 * fsync before every acknowledgement): at-most-once (today's path), at-least-once (outbox put
 * and remove on the sender), exactly-once (the same plus the receiver's dedup write before it
 * answers). Issue 14's target: at-least-once >= 50% of at-most-once's throughput.
 * Then publish on a topic the other node subscribes to, under each guarantee with it as the named
 * recipient: a message counts once the subscriber has it and (reliable) its publish resolved, i.e.
 * the recipient's ack came back (docs/delivery.md, "Publish (gossip)").
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchArgs } from './args.js'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import type { DeliveryGuarantee } from '../protocols/delivery/constants.js'

const { values } = benchArgs({ options: { seconds: { type: 'string', default: '4' }, concurrency: { type: 'string', default: '64' } } })
const ms = Number(values.seconds) * 1000
const concurrency = Number(values.concurrency)

async function pair (dir: string): Promise<[AgentNode, AgentNode]> {
  const mesh = `bd${process.pid}${Math.floor(Math.random() * 1e9)}`
  const make = async (name: string): Promise<AgentNode> => {
    const n = await createAgentNode({
      mesh, name, mdns: false, security: { mode: 'open' }, logLevel: 'silent', listen: ['/ip4/127.0.0.1/tcp/0'], connections: { targetPeers: 0 }, dataDir: join(dir, name)
    })
    await n.start()
    return n
  }
  const a = await make('a')
  const b = await make('b')
  await b.dial(a.addresses()[0])
  a.handle('echo', (x) => x)
  await b.joined({ peer: a.peerId, signal: AbortSignal.timeout(10_000) })
  return [a, b]
}

async function run (b: AgentNode, peer: string, delivery: DeliveryGuarantee): Promise<{ rps: number, p50: number, p99: number }> {
  for (let i = 0; i < 500; i++) await b.request(peer, 'echo', i, { delivery })
  const lat: number[] = []
  const t0 = performance.now()
  const end = t0 + ms
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    let i = 0
    while (performance.now() < end) {
      const s = performance.now()
      await b.request(peer, 'echo', { w, i: i++ }, { delivery })
      lat.push(performance.now() - s)
    }
  }))
  const took = performance.now() - t0
  lat.sort((x, y) => x - y)
  const at = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]
  return { rps: lat.length / (took / 1000), p50: at(0.5), p99: at(0.99) }
}

/** Publishes from `a` received by `b`'s subscription, `concurrency` in flight; latency is publish to receipt (and to the ack, when reliable). */
async function publishRun (a: AgentNode, b: AgentNode, delivery: DeliveryGuarantee): Promise<{ rps: number, p50: number, p99: number }> {
  const topic = `bench-${delivery}`
  const sub = b.subscribe(topic)
  const got = new Set<string>()
  const waiting = new Map<string, () => void>()
  void (async () => { for await (const m of sub) { got.add(m.envelope.id); waiting.get(m.envelope.id)?.() } })()
  await a.waitForSubscribers(topic, { signal: AbortSignal.timeout(10_000) })
  const options = delivery === 'at-most-once' ? {} : { delivery, recipients: [b.peerId] }
  let lost = 0
  const one = async (payload: unknown): Promise<void> => {
    const env = await a.publish(topic, payload, options)
    // At-most-once may lose one: given up after 10 s rather than hanging the run (counted).
    let timer: ReturnType<typeof setTimeout> | undefined
    if (!got.has(env.id)) await new Promise<void>(resolve => { waiting.set(env.id, resolve); timer = setTimeout(() => { lost++; resolve() }, 10_000) })
    clearTimeout(timer)
    waiting.delete(env.id)
    got.delete(env.id)
  }
  for (let i = 0; i < 200; i++) await one(i)
  const lat: number[] = []
  const t0 = performance.now()
  const end = t0 + ms
  await Promise.all(Array.from({ length: concurrency }, async (_, w) => {
    let i = 0
    while (performance.now() < end) {
      const s = performance.now()
      await one({ w, i: i++ })
      lat.push(performance.now() - s)
    }
  }))
  const took = performance.now() - t0
  sub.unsubscribe()
  if (lost > 0) console.log(`${delivery}: ${lost} publishes not received within 10 s`)
  lat.sort((x, y) => x - y)
  const at = (q: number): number => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]
  return { rps: lat.length / (took / 1000), p50: at(0.5), p99: at(0.99) }
}

function print (title: string, unit: string, rows: Array<[DeliveryGuarantee, { rps: number, p50: number, p99: number }]>): void {
  const base = rows[0][1].rps
  console.log(title)
  console.log(`| guarantee | ${unit} | vs at-most-once | p50 ms | p99 ms |`)
  console.log('|---|---|---|---|---|')
  for (const [g, r] of rows) {
    console.log(`| ${g} | ${Math.round(r.rps)} | ${Math.round(100 * r.rps / base)}% | ${r.p50.toFixed(2)} | ${r.p99.toFixed(2)} |`)
  }
}

const dir = await mkdtemp(join(tmpdir(), 'agentmesh-bench-delivery-'))
try {
  const [a, b] = await pair(dir)
  const rows: Array<[DeliveryGuarantee, { rps: number, p50: number, p99: number }]> = []
  for (const g of ['at-most-once', 'at-least-once', 'exactly-once'] as const) rows.push([g, await run(b, a.peerId, g)])
  const published: typeof rows = []
  for (const g of ['at-most-once', 'at-least-once', 'exactly-once'] as const) published.push([g, await publishRun(a, b, g)])
  await b.stop()
  await a.stop()
  print(`delivery guarantees: 2 nodes in one process, durable data directories, ${concurrency} concurrent requests, ${values.seconds} s each`, 'req/s', rows)
  print(`\npublish, the subscriber the named recipient: ${concurrency} concurrent publishes, ${values.seconds} s each`, 'msg/s', published)
} finally {
  await rm(dir, { recursive: true, force: true })
}
