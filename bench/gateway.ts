/**
 * npm run bench:gateway [-- --runs 3 --seconds 4]: what the gateway costs over the mesh itself.
 * Three processes: an agent that answers "echo", a gateway node, and a client with only HTTP and
 * WebSocket. Each figure is printed next to the same operation embedded (the gateway node's own
 * request to the agent, its own subscriptions), the two run one after the other in each round:
 *   - a command round trip, one at a time (p50/p99 ms), and 64 callers at once (req/s, and the
 *     CPU time each process spent per request, a figure a busy shared machine disturbs less);
 *   - events to 100 subscribers (100 WebSocket clients, or 100 subscriptions in the node), paced
 *     at each rate given: delivered per second in all, their lag p50/p99, clients dropped.
 *   - the HTTP layer alone, no mesh work: bare node:http and the gateway's server with its REST
 *     mount, the same answer (req/s, CPU µs per request): what another HTTP layer could save at most.
 * `--parts commands,http,events` picks which; `--profile DIR` writes the gateway
 * process's CPU profile there (node dist/bench/profile-summary.js DIR reads it).
 */
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { ForkedWorker } from './forked-worker.js'

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    rates: { type: 'string', default: '100,400' },
    subscribers: { type: 'string', default: '100' },
    size: { type: 'string', default: '200' },
    parts: { type: 'string', default: 'commands,http,events' },
    profile: { type: 'string' }
  }
})
const parts = new Set(values.parts.split(','))
const runs = Number(values.runs)
const ms = Number(values.seconds) * 1000
const rates = values.rates.split(',').map(Number)
const subscribers = Number(values.subscribers)
const size = Number(values.size)
const script = fileURLToPath(new URL('./gateway-worker.js', import.meta.url))

const agent = new ForkedWorker(script, ['agent'])
const gateway = new ForkedWorker(script, ['gateway'], values.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', values.profile] : [])
const client = new ForkedWorker(script, ['client'])
const line = (cells: Array<string | number>): void => { console.log(cells.map(String).join('\t')) }

try {
  const mesh = `gwbench${process.pid}`
  const { address } = await agent.call('start', { mesh })
  const { gateway: base } = await gateway.call('start', { mesh, bootstrap: address })
  await client.call('client', { base })
  // Warm both paths (JIT, connections, the rpc channel) before anything is measured.
  await gateway.call('embedded-seq', { n: 2000 })
  await client.call('rest-seq', { n: 2000 })

  if (parts.has('commands')) console.log(`\ncommand round trip (echo, ${runs} rounds; embedded = the gateway node's own request to the agent)`)
  if (parts.has('commands')) line(['round', 'path', 'p50 ms', 'p99 ms', 'req/s at 64', 'CPU µs/req: gateway node', 'agent', 'HTTP client'])
  for (let r = 1; r <= runs && parts.has('commands'); r++) {
    const [e, escpu] = await withCpu(async () => await gateway.call('embedded-seq', { n: 2000 }))
    const [rs, rscpu] = await withCpu(async () => await client.call('rest-seq', { n: 2000 }))
    const [er, ecpu] = await withCpu(async () => await gateway.call('embedded-rate', { concurrency: 64, ms }))
    const [rr, rcpu] = await withCpu(async () => await client.call('rest-rate', { concurrency: 64, ms }))
    line([r, 'embedded, one at a time', e.p50, e.p99, '', ...escpu.map(c => Math.round(c / 2000))])
    line([r, 'REST, one at a time', rs.p50, rs.p99, '', ...rscpu.map(c => Math.round(c / 2000))])
    line([r, 'embedded, 64 at once', '', '', er, ...ecpu.map(c => Math.round(c / (er * ms / 1000)))])
    line([r, 'REST, 64 at once', '', '', rr, ...rcpu.map(c => Math.round(c / (rr * ms / 1000)))])
    line([r, 'REST - embedded', Math.round((rs.p50 - e.p50) * 1000) / 1000, Math.round((rs.p99 - e.p99) * 1000) / 1000, `${Math.round(rr / er * 100)}%`])
  }

  if (parts.has('http')) await httpLayer()
  if (parts.has('events')) await events()
} finally {
  for (const w of [client, gateway, agent]) {
    await w.call('stop').catch(() => {})
    w.child.disconnect()
    await w.kill()
  }
}

/** The HTTP layer alone (no mesh work), against bare node:http: what a faster framework could save at most. */
async function httpLayer (): Promise<void> {
  const urls = await gateway.call('layer-start')
  console.log(`\nthe HTTP layer alone: GET answering {"ok":true}, 64 at once, ${ms / 1000} s each (bare node:http, and the gateway's server with its REST mount)`)
  line(['round', 'path', 'req/s', 'CPU µs/req: gateway node', 'HTTP client'])
  for (let r = 1; r <= runs; r++) {
    for (const path of ['bare', 'gateway'] as const) {
      const [rate, cpu] = await withCpu(async () => await client.call('get-rate', { url: urls[path], concurrency: 64, ms }))
      line([r, path === 'bare' ? 'bare node:http' : 'gateway server + REST', rate, Math.round(cpu[0] / (rate * ms / 1000)), Math.round(cpu[2] / (rate * ms / 1000))])
    }
  }
}

/** What `fn` resolves with, and the CPU time (µs) the gateway node, the agent and the client spent meanwhile. */
async function withCpu<T> (fn: () => Promise<T>): Promise<[T, number[]]> {
  const workers = [gateway, agent, client]
  const before: number[] = await Promise.all(workers.map(async w => await w.call('cpu')))
  const out = await fn()
  const after: number[] = await Promise.all(workers.map(async w => await w.call('cpu')))
  return [out, after.map((a, i) => a - before[i])]
}

async function events (): Promise<void> {
  console.log(`\nevents to ${subscribers} subscribers (${size}-byte payloads, published by the gateway node, ${ms / 1000} s per rate)`)
  line(['round', 'rate/s', 'path', 'published/s', 'delivered/s', 'per subscriber/s', 'lag p50 ms', 'lag p99 ms', 'dropped'])
  await client.call('ws-open', { n: subscribers, topic: 'ws-bench' })
  await gateway.call('sub-open', { n: subscribers, topic: 'embedded-bench' })
  for (let r = 1; r <= runs; r++) {
    for (const rate of rates) {
      for (const [path, who, topic] of [['embedded', gateway, 'embedded-bench'], ['WebSocket', client, 'ws-bench']] as const) {
        await who.call('count-reset')
        const published: number = await gateway.call('publish', { topic, rate, ms, size })
        // What is still on its way is given a second to arrive.
        await new Promise(resolve => setTimeout(resolve, 1_000))
        const c = await who.call('count')
        const perSec = Math.round(c.delivered / (ms / 1000))
        line([r, rate, path, Math.round(published / (ms / 1000)), perSec, Math.round(perSec / subscribers), c.lag.p50, c.lag.p99, c.dropped])
      }
    }
  }
  await client.call('ws-close')
  await gateway.call('sub-close')
}
