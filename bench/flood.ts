/**
 * node dist/bench/flood.js [--json] [--seconds 4] [--concurrency 128] [--handler-us 0] [--only rpc|gossip]
 *   [--runs 1] [--scenarios before-off,before-on,off,on,on-100] [--nice 0]
 *
 * An honest peer's sequential request latency to a node, quiet and while one other peer floods
 * that node with requests (issue 13: ~8,000/s took p99 from 6-9 ms to 0.6-1 s), first with the
 * per-peer limits off (before) and then with the defaults (after). Each node is its own process
 * on 127.0.0.1. The flood phase lasts `seconds` from the flood's start, less than
 * rpc.floodSeconds, so "after" shows the refusals at work, not the quiet after the flooder is
 * disconnected; the flooder's own figures say what it got, and when it was cut off.
 *
 * The gossip scenarios: the same honest peer's requests, and its broadcast (20 messages/s on a
 * topic the node subscribes to: how many arrive, and how late), quiet and while the other peer
 * publishes signed gossip on that topic flat out, one envelope per message (not batched), with
 * the gossip limits off and on (pubsub.publishPerSec, pubsub.floodSeconds 5 > the phase).
 */
import '../node/polyfills.js'
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { benchArgs } from './args.js'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { setPriority } from 'node:os'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import type { AgentMeshError } from '../protocols/core/errors.js'
import { encodeBatch, envelopeToJson, makeEnvelope } from '../protocols/envelope/index.js'
import { gossipTopic } from '../protocols/pubsub/index.js'

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const pct = (xs: number[], p: number): number => {
  const s = xs.slice().sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(p * s.length))] ?? NaN
}
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d

// --- a node in its own process ---------------------------------------------------------------

let node: AgentNode | undefined
/** The victim's delivery delays (ms) of the honest peer's broadcast, since the last 'delivered'. */
let delays: number[] = []
/** This process's CPU time and event-loop delay since the last 'load'. */
let cpuSince = process.cpuUsage()
let wallSince = performance.now()
const loopDelay = monitorEventLoopDelay({ resolution: 10 })
loopDelay.enable()
/**
 * The longest stall of this process's event loop since the last 'load' and when it ended
 * (Date.now(): one host, one clock): a 10 ms timer that fires late was kept from running that long.
 */
let stall = { ms: 0, at: 0 }
let lastTick = performance.now()
/** The flooder, when this node is the victim: when its gossip score here first fell below the graylist threshold (Date.now()). */
let watched: { peer: string, graylistedAt?: number } | undefined
setInterval(() => {
  const now = performance.now()
  const late = now - lastTick - 10
  if (late > stall.ms) stall = { ms: late, at: Date.now() }
  lastTick = now
  if (watched !== undefined && watched.graylistedAt === undefined && node !== undefined && node.gossipScore(watched.peer) < GRAYLIST_THRESHOLD) {
    watched.graylistedAt = Date.now()
  }
}, 10).unref()
/** Gossipsub's default graylist threshold: below it a peer's RPCs are dropped unread. */
const GRAYLIST_THRESHOLD = -80
const TOPIC = 'news'

async function child (m: { cmd: string, [k: string]: any }): Promise<unknown> {
  switch (m.cmd) {
    case 'init':
      node = await createAgentNode({ mesh: m.mesh, mdns: false, security: { mode: 'open' }, logLevel: 'silent', listen: ['/ip4/127.0.0.1/tcp/0'], connections: { targetPeers: 0, inboundConnectionThreshold: 1000 }, rpc: m.rpc, ...(m.pubsub !== undefined ? { pubsub: m.pubsub } : {}) })
      node.handle('echo', (x) => {
        // A handler that does some work (--handler-us of CPU), as real ones do: what a flood
        // costs the node is then mostly the handlers it runs, which the limits cut.
        const until = performance.now() + (m.handlerUs ?? 0) / 1000
        while (performance.now() < until) { /* busy */ }
        return x
      })
      // The scenario "before the intake": gossipsub reads its streams itself (protocols/pubsub/gossip-intake.ts replaced that on the instance).
      if (m.intake === false) delete (node.libp2p.services.pubsub as unknown as Record<string, unknown>).pipePeerReadStream
      await node.start()
      // The scenario without the hold after a refusal (the node answers each refusal at once, as before).
      if (m.holdMinMs !== undefined) (node.libp2p.services as any).rpcLimits.limits.holdMinMs = m.holdMinMs
      return { peerId: node.peerId, addr: node.addresses()[0], pid: process.pid }
    case 'connect':
      await node!.dial(m.addr)
      await node!.request(m.target, 'echo', 0)
      return {}
    case 'sequential': {
      // As fast as one caller goes, one request at a time, for durationMs.
      const lat: number[] = []
      let errors = 0
      const end = performance.now() + m.durationMs
      while (performance.now() < end) {
        const t0 = performance.now()
        try { await node!.request(m.target, 'echo', lat.length) } catch { errors++ }
        lat.push(performance.now() - t0)
      }
      return { latencies: lat, errors }
    }
    case 'flood': {
      // Flat out, `concurrency` at a time, no retries; a dead connection is retried every 100 ms.
      const codes: Record<string, number> = {}
      const t0 = performance.now()
      let cutOffAtMs: number | undefined
      const end = t0 + m.durationMs
      await Promise.all(Array.from({ length: m.concurrency }, async () => {
        while (performance.now() < end) {
          try {
            await node!.request(m.target, 'echo', 1, { rateLimitRetries: 0, timeoutMs: 2_000 })
            codes.ok = (codes.ok ?? 0) + 1
          } catch (err) {
            const code = (err as AgentMeshError).code ?? 'other'
            codes[code] = (codes[code] ?? 0) + 1
            if (code === 'COM002') { cutOffAtMs ??= performance.now() - t0; await sleep(100) }
          }
        }
      }))
      return { codes, cutOffAtMs, elapsedMs: performance.now() - t0 }
    }
    case 'load': {
      const cpu = process.cpuUsage(cpuSince)
      const cores = round((cpu.user + cpu.system) / 1000 / (performance.now() - wallSince))
      const out = { cpu: cores, loopP99Ms: round(loopDelay.percentile(99) / 1e6, 1), stallMs: round(stall.ms, 0), stallAt: stall.at }
      cpuSince = process.cpuUsage(); wallSince = performance.now(); loopDelay.reset(); stall = { ms: 0, at: 0 }
      return out
    }
    case 'listen': {
      const sub = node!.subscribe(TOPIC)
      void (async () => { for await (const msg of sub) if (msg.from === m.from) delays.push(Date.now() - (msg.payload as { t: number }).t) })()
      watched = { peer: m.flooder }
      return {}
    }
    case 'delivered': {
      const out = {
        delays,
        rateLimited: node!.stats.get('gossip_rate_limited_total', { peer: m.flooder }),
        flooderScore: round(node!.gossipScore(m.flooder), 0),
        graylistedAt: watched?.graylistedAt,
        droppedUnread: ['held', 'graylisted', 'cooling'].reduce((n, reason) => n + node!.stats.get('gossip_rpcs_dropped_total', { peer: m.flooder, reason }), 0)
      }
      delays = []
      if (watched !== undefined) watched = { peer: watched.peer }
      return out
    }
    case 'seesSubscriber': {
      const end = performance.now() + 15_000
      while (!node!.topicPeers(TOPIC).subscribers.includes(m.target)) {
        if (performance.now() > end) throw new Error('the victim\'s subscription never arrived')
        await sleep(50)
      }
      return {}
    }
    case 'broadcast': {
      // perSec messages a second for durationMs, each with its send time (one host: one clock).
      let sent = 0
      const t0 = performance.now()
      while (performance.now() - t0 < m.durationMs) {
        await node!.publish(TOPIC, { t: Date.now(), i: sent++ })
        await sleep(Math.max(0, t0 + sent * 1000 / m.perSec - performance.now()))
      }
      return { sent }
    }
    case 'gossipFlood': {
      // Signed gossip, one envelope per message, as fast as this node goes, straight to gossipsub.
      const topic = gossipTopic(node!.config.mesh, TOPIC)
      const gossip = node!.libp2p.services.pubsub
      let sent = 0
      const t0 = performance.now()
      const cpu0 = process.cpuUsage()
      while (performance.now() - t0 < m.durationMs) {
        const env = makeEnvelope({ source: node!.peerId, destination: { topic: TOPIC }, type: 'EVENT', subject: TOPIC, payload: sent++ })
        await gossip.publish(topic, encodeBatch([envelopeToJson(env)])).catch(() => {})
        if (sent % 10 === 0) await sleep(0)
      }
      const cpu = process.cpuUsage(cpu0)
      const elapsed = performance.now() - t0
      return { sent, perSec: round(sent / (elapsed / 1000), 0), cpu: round((cpu.user + cpu.system) / 1000 / elapsed) }
    }
    case 'stop':
      await node?.stop()
      return {}
  }
  throw new Error(`unknown command ${m.cmd}`)
}

// --- the driver --------------------------------------------------------------------------------

class Proc {
  readonly child: ChildProcess
  private next = 0
  private readonly waiting = new Map<number, { resolve: (v: any) => void, reject: (e: Error) => void }>()
  constructor () {
    // FLOOD_CPU_PROF_DIR=dir: each node writes a CPU profile there (named with its pid, which the driver logs).
    const prof = process.env.FLOOD_CPU_PROF_DIR
    const execArgv = prof !== undefined ? [...process.execArgv, '--cpu-prof', '--cpu-prof-dir', prof] : process.execArgv
    this.child = fork(fileURLToPath(import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, FLOOD_CHILD: '1' }, execArgv })
    this.child.on('message', (m: any) => {
      const w = this.waiting.get(m.id)
      this.waiting.delete(m.id)
      if (m.error !== undefined) w?.reject(new Error(m.error)); else w?.resolve(m.result)
    })
  }

  async call (cmd: string, params: Record<string, unknown> = {}): Promise<any> {
    const id = this.next++
    return await new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject })
      this.child.send({ id, cmd, ...params })
    })
  }

  async stop (): Promise<void> {
    await Promise.race([this.call('stop').catch(() => {}), sleep(5_000)])
    // It exits by itself 200 ms after stopping (writing its --cpu-prof profile if asked): wait for that first.
    if (this.child.exitCode === null) await Promise.race([new Promise(resolve => this.child.once('exit', resolve)), sleep(3_000)])
    if (this.child.exitCode === null) this.child.kill('SIGKILL')
  }
}

interface Figures { p50: number, p99: number, n: number, errors: number }
interface Run { label: string, quiet: Figures, flood: Figures, flooder: any }

async function run (label: string, rpc: Record<string, number>, seconds: number, concurrency: number, handlerUs: number, holdMinMs?: number): Promise<Run> {
  const [victim, honest, flooder] = [new Proc(), new Proc(), new Proc()]
  try {
    const mesh = `flood${process.pid}-${label.split(' ')[0]}`
    const v = await victim.call('init', { mesh, rpc, handlerUs, holdMinMs })
    await honest.call('init', { mesh, rpc })
    await flooder.call('init', { mesh, rpc })
    await honest.call('connect', { addr: v.addr, target: v.peerId })
    await flooder.call('connect', { addr: v.addr, target: v.peerId })
    await honest.call('sequential', { target: v.peerId, durationMs: 1_000 }) // warm-up
    const quiet = await honest.call('sequential', { target: v.peerId, durationMs: seconds * 1000 })
    const flooding = flooder.call('flood', { target: v.peerId, durationMs: (seconds + 4) * 1000, concurrency })
    await sleep(300) // the flood under way
    const loaded = await honest.call('sequential', { target: v.peerId, durationMs: seconds * 1000 })
    const f = await flooding
    const fig = (r: { latencies: number[], errors: number }): Figures =>
      ({ p50: round(pct(r.latencies, 0.5)), p99: round(pct(r.latencies, 0.99)), n: r.latencies.length, errors: r.errors })
    const answered = Object.values(f.codes as Record<string, number>).reduce((a, b) => a + b, 0)
    return { label, quiet: fig(quiet), flood: fig(loaded), flooder: { ...f, perSec: round(answered / (f.elapsedMs / 1000), 0) } }
  } finally {
    await Promise.all([victim.stop(), honest.stop(), flooder.stop()])
  }
}

interface Delivery { sent: number, delivered: number, p50: number, p99: number }
/** CPU used (cores) and event-loop delay p99 of the victim and the honest peer during the phase. */
interface LoadOf { cpu: number, loopP99Ms: number, stallMs: number, stallAt: number }
interface Load { victim: LoadOf, honest: LoadOf }
type Honest = Figures & { broadcast: Delivery, load: Load }
interface GossipRun {
  label: string
  quiet: Honest
  flood: Honest
  flooder: { sent: number, perSec: number, cpu: number }
  /** At the victim: the flooder's messages refused, its score, and when (ms after the flood began) it was first graylisted and its loop stalled longest. */
  victim: { rateLimited: number, droppedUnread: number, flooderScore: number, graylistedAfterMs?: number, stallAfterMs: number }
}

/** The honest peer's requests and broadcast for `seconds`, at once; what the victim got of the broadcast. */
async function honestPhase (
  honest: Proc, victim: Proc, target: string, flooder: string, seconds: number
): Promise<Honest & { rateLimited: number, droppedUnread: number, flooderScore: number, graylistedAt?: number }> {
  await Promise.all([victim.call('load'), honest.call('load')])
  const [req, b] = await Promise.all([
    honest.call('sequential', { target, durationMs: seconds * 1000 }),
    honest.call('broadcast', { perSec: 20, durationMs: seconds * 1000 })
  ])
  const load = { victim: await victim.call('load'), honest: await honest.call('load') }
  await sleep(1_000) // the last messages on their way
  const d = await victim.call('delivered', { flooder })
  return {
    p50: round(pct(req.latencies, 0.5)),
    p99: round(pct(req.latencies, 0.99)),
    n: req.latencies.length,
    errors: req.errors,
    broadcast: { sent: b.sent, delivered: d.delays.length, p50: round(pct(d.delays, 0.5), 0), p99: round(pct(d.delays, 0.99), 0) },
    rateLimited: d.rateLimited,
    droppedUnread: d.droppedUnread,
    flooderScore: d.flooderScore,
    graylistedAt: d.graylistedAt,
    load
  }
}

async function gossipRun (label: string, pubsub: Record<string, number>, seconds: number, intake = true, nice = 0): Promise<GossipRun> {
  const [victim, honest, flooder] = [new Proc(), new Proc(), new Proc()]
  try {
    const mesh = `gflood${process.pid}-${label.split(' ')[1]}`
    const v = await victim.call('init', { mesh, rpc: {}, pubsub, intake })
    if (process.env.FLOOD_CPU_PROF_DIR !== undefined) process.stderr.write(`${label}: victim pid ${String(v.pid)}\n`)
    const h = await honest.call('init', { mesh, rpc: {}, pubsub })
    const f = await flooder.call('init', { mesh, rpc: {}, pubsub })
    // --nice N: the flooder's process at that niceness, as an attacker on a host of its own would not take the victim's CPU.
    if (nice !== 0) setPriority(f.pid, nice)
    await victim.call('listen', { from: h.peerId, flooder: f.peerId })
    await honest.call('connect', { addr: v.addr, target: v.peerId })
    await flooder.call('connect', { addr: v.addr, target: v.peerId })
    await honest.call('seesSubscriber', { target: v.peerId })
    await flooder.call('seesSubscriber', { target: v.peerId })
    await honestPhase(honest, victim, v.peerId, f.peerId, 1) // warm-up
    const { rateLimited: _q, droppedUnread: _d, flooderScore: _s, graylistedAt: _g, ...quiet } = await honestPhase(honest, victim, v.peerId, f.peerId, seconds)
    const floodStart = Date.now()
    const flooding = flooder.call('gossipFlood', { durationMs: (seconds + 2) * 1000 })
    await sleep(300) // the flood under way
    const { rateLimited, droppedUnread, flooderScore, graylistedAt, ...loaded } = await honestPhase(honest, victim, v.peerId, f.peerId, seconds)
    const after = (t: number | undefined): number | undefined => t === undefined ? undefined : t - floodStart
    const atVictim = { rateLimited, droppedUnread, flooderScore, graylistedAfterMs: after(graylistedAt), stallAfterMs: after(loaded.load.victim.stallAt) ?? 0 }
    return { label, quiet, flood: loaded, flooder: await flooding, victim: atVictim }
  } finally {
    await Promise.all([victim.stop(), honest.stop(), flooder.stop()])
  }
}

async function main (): Promise<void> {
  const { values: args } = benchArgs({ options: { json: { type: 'boolean', default: false }, seconds: { type: 'string', default: '4' }, concurrency: { type: 'string', default: '128' }, 'handler-us': { type: 'string', default: '0' }, only: { type: 'string' }, runs: { type: 'string', default: '1' }, scenarios: { type: 'string' }, nice: { type: 'string', default: '0' } } })
  const seconds = Number(args.seconds)
  const concurrency = Number(args.concurrency)
  const handlerUs = Number(args['handler-us'])
  const log = (s: string): void => { if (!args.json) process.stderr.write(s + '\n') }
  const runs: Run[] = []
  const scenarios: Array<[string, Record<string, number>, number | undefined]> = [
    ['limits off', { requestsPerSec: 0, bytesPerSec: 0, floodSeconds: 0 }, undefined],
    ['limits on, refusals answered at once', {}, 0],
    ['limits on (defaults: a refused peer is held)', {}, undefined]
  ]
  for (const [label, rpc, holdMinMs] of args.only === 'gossip' ? [] : scenarios) {
    const r = await run(label, rpc, seconds, concurrency, handlerUs, holdMinMs)
    runs.push(r)
    log(`${label}`)
    log(`  honest, quiet          p50 ${r.quiet.p50} ms  p99 ${r.quiet.p99} ms  (${r.quiet.n} requests, ${r.quiet.errors} errors)`)
    log(`  honest, under flood    p50 ${r.flood.p50} ms  p99 ${r.flood.p99} ms  (${r.flood.n} requests, ${r.flood.errors} errors)`)
    log(`  flooder                ${r.flooder.perSec} requests/s answered: ${JSON.stringify(r.flooder.codes)}${r.flooder.cutOffAtMs !== undefined ? `, disconnected after ${round(r.flooder.cutOffAtMs / 1000, 1)} s` : ''}`)
  }
  const gossipRuns: GossipRun[] = []
  // --scenarios a,b picks by key: gossipsub reading its streams itself (before the intake) or not, limits off or on.
  const gossipScenarios = ([
    ['before-off', 'gossip limits off, read by gossipsub (before the intake)', { publishPerSec: 0, floodSeconds: 0 }, false],
    ['before-on', 'gossip limits on, read by gossipsub (before the intake)', {}, false],
    ['off', 'gossip limits off (intake: turns only)', { publishPerSec: 0, floodSeconds: 0 }, true],
    ['on', 'gossip limits on (defaults)', {}, true],
    ['on-100', 'gossip limits on, publishPerSec 100', { publishPerSec: 100 }, true]
  ] as Array<[string, string, Record<string, number>, boolean]>)
    .filter(([key]) => args.scenarios === undefined ? key !== 'on-100' : args.scenarios.split(',').includes(key))
    .map(([, label, pubsub, intake]) => [label, pubsub, intake] as const)
  // --runs N: the gossip scenarios N times, interleaved (A, B, A, B...), so the machine's load hits both alike.
  const rounds = Array.from({ length: Number(args.runs) }, () => gossipScenarios).flat()
  for (const [label, pubsub, intake] of args.only === 'rpc' ? [] : rounds) {
    const r = await gossipRun(label, pubsub, seconds, intake, Number(args.nice))
    gossipRuns.push(r)
    const line = (x: GossipRun['quiet']): string => `requests p50 ${x.p50} ms p99 ${x.p99} ms (${x.n}, ${x.errors} errors); ` +
      `broadcast ${x.broadcast.delivered}/${x.broadcast.sent} delivered, delay p50 ${x.broadcast.p50} ms p99 ${x.broadcast.p99} ms; ` +
      `victim ${x.load.victim.cpu} cores, loop p99 ${x.load.victim.loopP99Ms} ms, longest stall ${x.load.victim.stallMs} ms; honest ${x.load.honest.cpu} cores, loop p99 ${x.load.honest.loopP99Ms} ms`
    log(label)
    log(`  honest, quiet          ${line(r.quiet)}`)
    log(`  honest, under flood    ${line(r.flood)}`)
    log(`  flooder                ${r.flooder.perSec} gossip messages/s sent (${r.flooder.cpu} cores); the victim refused ${r.victim.rateLimited} validated, dropped ${r.victim.droppedUnread} RPCs unread, its score there ${r.victim.flooderScore}, ` +
      `graylisted ${r.victim.graylistedAfterMs !== undefined ? `${r.victim.graylistedAfterMs} ms` : 'never'} after the flood began; the victim's longest stall (${r.flood.load.victim.stallMs} ms) ended ${r.victim.stallAfterMs} ms after it began`)
  }
  if (args.json) process.stdout.write(JSON.stringify({ runs, gossipRuns, machine: { node: process.version, seconds, concurrency, handlerUs } }) + '\n')
  process.exit(0)
}

// The same file is the driver and, forked with FLOOD_CHILD=1, each node.
if (process.env.FLOOD_CHILD === '1') {
  // A driver that dies takes its nodes with it.
  process.on('disconnect', () => { process.exit(0) })
  process.on('message', (m: any) => {
    child(m).then(
      (result) => { process.send!({ id: m.id, result }) },
      (err) => { process.send!({ id: m.id, error: String((err as Error)?.stack ?? err) }) }
    )
    if (m.cmd === 'stop') setTimeout(() => process.exit(0), 200)
  })
} else {
  await main()
}
