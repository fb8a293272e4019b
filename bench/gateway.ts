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
 * `--parts commands,http,events` picks which; `--profile DIR` writes a CPU profile of each process
 * (gateway-N, agent-N, client-N.cpuprofile) for the last round's "REST, 64 at once, coalesced" there
 * (node dist/bench/profile-summary.js DIR gateway reads the gateway node's).
 */
import { benchArgs } from './args.js'
import { fileURLToPath } from 'node:url'
import { mkdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { ForkedWorker } from './forked-worker.js'

const { values } = benchArgs({
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
const cores = availableParallelism()
/** The row whose phase `--profile` records. */
const PROFILED = 'REST, 64 at once, coalesced'
const script = fileURLToPath(new URL('./gateway-worker.js', import.meta.url))

const agent = new ForkedWorker(script, ['agent'])
const gateway = new ForkedWorker(script, ['gateway'])
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

  if (parts.has('commands')) await commands()
  if (parts.has('http')) await httpLayer()
  if (parts.has('events')) await events()
} finally {
  for (const w of [client, gateway, agent]) {
    await w.call('stop').catch(() => {})
    w.child.disconnect()
    await w.kill()
  }
}

/**
 * The command round trip, embedded and over REST, in each round one after the other. REST's
 * rows: its requests coalesced per turn of the gateway's event loop (surfaces/gateway/turn.ts, what
 * the gateway does) and not (what it did before), from the raw keep-alive load generator
 * (gateway-load.ts), from node:http's client, and as 16 connections pipelining 4 each (64 in
 * flight still). "ceiling" is what the CPU each request cost allows: the machine's cores over
 * the three processes' CPU per request, or one core over the gateway node's (it is one thread),
 * whichever is lower: on a machine shared with other work the req/s measured is below it.
 */
async function commands (): Promise<void> {
  console.log(`\ncommand round trip (echo, ${runs} rounds, ${ms / 1000} s per rate; embedded = the gateway node's own request to the agent)`)
  line(['round', 'path', 'p50 ms', 'p99 ms', 'req/s at 64', 'CPU µs/req: gateway node', 'agent', 'HTTP client', 'ceiling req/s'])
  const perReq = (cpu: number[], n: number): number[] => cpu.map(c => Math.round(c / n))
  const ceiling = (c: number[]): number => Math.round(Math.min(cores * 1e6 / (c[0] + c[1] + c[2]), 1e6 / c[0]))
  const seq = async (label: string, who: ForkedWorker, cmd: string, coalesce: boolean): Promise<number> => {
    await gateway.call('coalesce', { on: coalesce })
    const [s, cpu] = await withCpu(async () => await who.call(cmd, { n: 2000 }))
    const c = perReq(cpu, 2000)
    line([r, label, s.p50, s.p99, '', ...c, ''])
    return s.p50
  }
  const rate = async (label: string, who: ForkedWorker, cmd: string, coalesce: boolean, extra: Record<string, unknown> = {}): Promise<void> => {
    await gateway.call('coalesce', { on: coalesce })
    const last = values.profile !== undefined && r === runs && label === PROFILED
    if (last) await profile(true)
    const [n, cpu] = await withCpu(async () => await who.call(cmd, { concurrency: 64, ms, ...extra }))
    if (last) await profile(false)
    const c = perReq(cpu, n * ms / 1000)
    line([r, label, '', '', n, ...c, ceiling(c)])
  }
  let r = 0
  for (r = 1; r <= runs; r++) {
    const e = await seq('embedded, one at a time', gateway, 'embedded-seq', true)
    const rc = await seq('REST, one at a time, coalesced', client, 'rest-seq', true)
    const ru = await seq('REST, one at a time, not coalesced', client, 'rest-seq', false)
    await rate('embedded, 64 at once', gateway, 'embedded-rate', true)
    await rate(PROFILED, client, 'load-rate', true)
    await rate('REST, 64 at once, not coalesced', client, 'load-rate', false)
    await rate('REST, 64 at once, coalesced, node:http client', client, 'rest-rate', true)
    await rate('REST, 64 at once, coalesced, 16 connections x 4 pipelined', client, 'load-rate', true, { concurrency: 16, depth: 4 })
    line([r, 'REST - embedded, p50 ms (coalesced, not)', Math.round((rc - e) * 1000) / 1000, Math.round((ru - e) * 1000) / 1000])
  }
  await gateway.call('coalesce', { on: true })
}

/**
 * The HTTP layer alone (no mesh work), against bare node:http: what a faster framework could save
 * at most, and bare node:http's req/s for a trivial handler, the ceiling of any node:http gateway here.
 */
async function httpLayer (): Promise<void> {
  const urls = await gateway.call('layer-start')
  console.log(`\nthe HTTP layer alone: GET answering {"ok":true}, 64 at once, ${ms / 1000} s each (bare node:http, and the gateway's server with its REST mount)`)
  line(['round', 'path', 'req/s', 'CPU µs/req: gateway node', 'HTTP client'])
  for (let r = 1; r <= runs; r++) {
    for (const [label, url, cmd] of [
      ['bare node:http (the ceiling)', urls.bare, 'load-rate'],
      ['gateway server + REST', urls.gateway, 'load-rate'],
      ['bare node:http, node:http client', urls.bare, 'get-rate']
    ]) {
      const [rate, cpu] = await withCpu(async () => await client.call(cmd, { url, concurrency: 64, ms }))
      line([r, label, rate, Math.round(cpu[0] / (rate * ms / 1000)), Math.round(cpu[2] / (rate * ms / 1000))])
    }
  }
}

/** Starts, or stops and writes, the CPU profile of each process (their file names say which). */
async function profile (on: boolean): Promise<void> {
  mkdirSync(values.profile as string, { recursive: true })
  await Promise.all(([['gateway', gateway], ['agent', agent], ['client', client]] as const).map(async ([name, w]) =>
    await w.call('profile', { on, file: `${values.profile as string}/${name}-${process.pid}.cpuprofile` })))
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
