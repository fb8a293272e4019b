/**
 * npm run bench:scale [-- --agents 10,50,100,200 --per-process 25 --preset local]
 * npm run bench:scale -- --traffic 10,30,50 [--preset lan]
 *
 * A mesh of N agents, `per-process` agents in each process (bench/scale-worker.ts), every one
 * bootstrapping from one of the first three. From the moment the first agent starts, it prints:
 * - elected: the first coordinator in office; known: every agent follows it; converged: besides,
 *   every agent sees every other alive (the start itself takes most of it: agents are started
 *   one after another, 30 ms apart, in each process);
 * - at rest (after `settle` seconds, over `window` seconds): membership and coordination messages
 *   per agent and second, as the agents count them (housekeeping_messages_total, in and out),
 *   gossipsub frames sent per agent and second, connections per agent, CPU per agent (% of one
 *   core: the processes' CPU over the window, divided by the agents), RSS per process and per agent;
 * - broadcast: every agent subscribes to one topic, one agent (not the coordinator) publishes at
 *   `rate` messages/s for `seconds`; send-to-receipt p50, p99 and max over every receiver (one
 *   machine, one clock), the share of the messages × receivers delivered, duplicates;
 * - scattered (`--scattered K`, 5; 0 off): K random agents subscribe to a topic, an agent that does
 *   not publishes 20 messages; the share delivered, p99 and max (docs/pubsub.md);
 * - memory: RSS per process, and per agent beyond the process's own (RSS less the RSS the
 *   process had before its first agent, divided by its agents);
 * - fail-over: the coordinator's transport is closed under it (as a dead process: connections
 *   gone, probes unanswered), and the time until every other agent follows a new one in office
 *   (polled, and by each agent's own clock: followed*), with the member statements it made, the
 *   checks per agent and the CPU of every process; `--timeline` prints the voters' view once a
 *   second, `--profile-failover DIR` a CPU profile of every process over it (`--profile-broadcast
 *   DIR` the same over the broadcast, whose CPU of every process is printed as broadcastCpuS).
 *
 * `--seeds-spread`: each seed the first agent of one of the first three processes (a deployment
 * runs each agent in its own process; the default puts all three in the first with 22 others).
 *
 * `--progress`: every 5 s while the mesh converges, how far it is (pairs not yet seen alive,
 * members seen per agent and by the seeds, agents following) and what the mesh did meanwhile:
 * each process's CPU, connections opened, statements checked and signed, member gossip and full
 * exchanges (answered in time, dropped as expired, answered late), and dials to peers not
 * connected, by the code that asked, with how long they took (docs/benchmarks.md, "The 200-agent
 * join, looked at over time").
 *
 * `--page` measures instead what the live page fetches from a0's debug endpoint (every agent
 * announcing its neighbours every 5 s, as by default): bytes per 2-s refresh, against the whole map.
 * With `--chromium` also the page itself in headless Chromium over 20 s, a group open and an agent
 * selected (live-page-chromium.ts): every response by path, the selected agent's messages included.
 *
 * `--traffic` measures the idle traffic alone, all agents in this one process (scale-traffic.ts);
 * with `--profile DIR` a CPU profile of its window at rest goes to DIR.
 * Nothing else runs: no topic, no request, no task. On a shared machine, run the variants to
 * compare interleaved, in one sitting (docs/benchmarks.md).
 *
 * `--profile-seeds DIR` (not with `--traffic`): a CPU profile of the first process over the
 * whole run, written when it stops; that process holds the three seeds and its share of agents.
 * `--profile-join DIR`: a CPU profile of every process over the join, until the mesh converges.
 *
 * `--seeds-apart`: the three seeds in a process of their own (as in a deployment, where each
 * agent is a process) and the others `per-process` to a process after it. By default the seeds
 * share the first process with 22 agents: that process's event loop then serves the join wave
 * and its agents' own traffic at once, and Node took one connection a loop turn from each
 * listening socket (libuv since 1.45, libuv/libuv#3696), so a loop turn of seconds leaves the
 * join's dials in the seeds' accept queues past their timeout (docs/benchmarks.md "Scale").
 */
import { benchArgs } from './args.js'
import { fileURLToPath } from 'node:url'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { ForkedWorker } from './forked-worker.js'
import { measureTraffic } from './scale-traffic.js'
import { pageInChromium } from './live-page-chromium.js'
import type { CreateAgentNodeOptions } from '../surfaces/index.js'

const { values } = benchArgs({
  options: {
    agents: { type: 'string', default: '10,50,100,200' },
    'per-process': { type: 'string', default: '25' },
    preset: { type: 'string', default: 'local' },
    settle: { type: 'string', default: '5' },
    window: { type: 'string', default: '15' },
    converge: { type: 'string', default: '180' },
    failover: { type: 'boolean', default: true },
    // During the fail-over, print each remaining voter's view of the election once a second.
    timeline: { type: 'boolean', default: false },
    // While the mesh converges, print every 5 s how far it is: the (agent, member) pairs not seen alive, and agents following.
    progress: { type: 'boolean', default: false },
    rate: { type: 'string', default: '100' },
    seconds: { type: 'string', default: '10' },
    scattered: { type: 'string', default: '5' },
    traffic: { type: 'string' },
    page: { type: 'boolean', default: false },
    /** With --page: also the page itself in headless Chromium over 20 s, a group open and an agent selected (live-page-chromium.ts). */
    chromium: { type: 'boolean', default: false },
    /** ms between two agents started in one process (the worker's default: 30). */
    gap: { type: 'string' },
    /** With --traffic: a V8 CPU profile of the window at rest, written to this folder (bench/profile-summary.ts reads it). */
    profile: { type: 'string' },
    'profile-seeds': { type: 'string' },
    /** A CPU profile of every process from before the seeds start until the mesh converges (or `converge` runs out), one file a process in DIR. */
    'profile-join': { type: 'string' },
    /** A CPU profile of every process from the coordinator's crash until all follow a new one (or 60 s), one file a process in DIR. */
    'profile-failover': { type: 'string' },
    /** A CPU profile of every process over the broadcast (publishing and 3 s after), one file a process in DIR. */
    'profile-broadcast': { type: 'string' },
    'seeds-apart': { type: 'boolean', default: false },
    'seeds-spread': { type: 'boolean', default: false },
    /**
     * JSON merged into every agent's options, over the bench's own: metric reports and mesh
     * announcements are off unless given here, e.g. '{"monitoring":{"metricsIntervalMs":10000},"meshAnnounceIntervalMs":5000}' (the defaults).
     */
    options: { type: 'string' }
  }
})
const preset = values.preset as 'local' | 'lan' | 'wan'
const extra = (values.options !== undefined ? JSON.parse(values.options) : {}) as CreateAgentNodeOptions
const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }
const r1 = (x: number): number => Math.round(x * 10) / 10
const WORKER = fileURLToPath(new URL('./scale-worker.js', import.meta.url))

/** A voter's view of the election (scale-worker's `voters`). */
interface VoterView {
  peerId: string
  role: string
  term: number
  leader?: string
  inOffice: boolean
  slackMs: number
  reachable: number
  sinceLeaderMs?: number
  /** Of the other voters: those this one holds a connection to, and those it sees alive. */
  connected: number
  alive: number
}

interface AgentStatus {
  peerId: string,
  alive: number,
  leader?: string,
  inOffice: boolean,
  bootstrapErrors?: { count: number, last: string },
  dialQueue?: string[],
  /** What it refused or hung up on, by kind (printed for the seeds). */
  refusals?: Record<string, number>,
  /** An agent with no connection: where its join through the seeds stands (BootstrapDialer.joinState). */
  join?: { round: string, roundForMs?: number, dialling: string[], rounds: number },
  term: number,
  voters: number,
  connections: number,
  /** With views: the active view, the reserve's size, and the agents it holds a connection to. */
  active?: string[],
  passive?: number,
  peersConnected?: number,
  pendingInbound?: number,
  /** Its own account of its situation, and how many members it sees in each state: printed when a mesh does not converge. */
  reason?: string,
  states?: Record<string, number>
  /** The members it holds suspect or offline. */
  lost?: string[]
}
/** `suspicions`: agents' suspicions of others, summed over the agents (member_changes_total to suspect): the churn an idle mesh makes of a lag. */
/** With views: active view sizes, agents with none, links held by one end only, reserve and connections per agent. */
function viewFacts (all: AgentStatus[]): string | undefined {
  if (all.every(a => a.active === undefined)) return undefined
  const of = new Map(all.map(a => [a.peerId, new Set(a.active ?? [])]))
  const sizes: Record<number, number> = {}
  let oneSided = 0
  for (const a of all) {
    const n = a.active?.length ?? 0
    sizes[n] = (sizes[n] ?? 0) + 1
    for (const p of a.active ?? []) if (of.get(p)?.has(a.peerId) !== true) oneSided++
  }
  const conn = all.map(a => a.peersConnected ?? 0).sort((x, y) => x - y)
  const passive = all.map(a => a.passive ?? 0).sort((x, y) => x - y)
  return `views: active sizes ${JSON.stringify(sizes)}; one-sided links ${oneSided}; reserve min ${passive[0]} p50 ${passive[passive.length >> 1]}; agents connected to, min ${conn[0]} p50 ${conn[conn.length >> 1]} max ${conn.at(-1)}`
}
interface Counters {
  membership: number
  /** Of which probes (direct and indirect) and member gossip. */
  probes: number
  memberGossip: number
  coordination: number
  frames: number
  suspicions: number
  /** Member statements made and checked (member_statements_total): each is a signature. */
  statementsSigned: number
  statementsChecked: number
  cpuUs: number
  rss: number
  rssBase: number
  agents: number
  /** Announcements refused, by reason (summed over the processes, not one of `keys` below). */
  announcementsRejected: Record<string, number>
}

type CountKey = Exclude<keyof Counters, 'announcementsRejected'>

type Counts = Record<string, number>
type ProgressPart = Counts & {
  dialsBy: Counts, requestsBy: Counts, dialMs: number[], loop: { p99: number, max: number }, upgrades: { seeds: number[], others: number[] }
}

/** What the agents' work is made of so far, summed over the processes (bench:scale --progress; the worker's `progress`). */
async function workSoFar (workers: ForkedWorker[]): Promise<{ parts: ProgressPart[], requestsBy: Counts, dialsBy: Counts, now: Counts }> {
  const parts = await Promise.all(workers.map(async w => await w.call('progress') as ProgressPart))
  const add = (o: Counts, x: Counts): Counts => { for (const [k, v] of Object.entries(x)) o[k] = (o[k] ?? 0) + v; return o }
  const requestsBy = parts.reduce<Counts>((o, p) => add(o, p.requestsBy ?? {}), {})
  const dialsBy = parts.reduce<Counts>((o, p) => add(o, p.dialsBy), {})
  const now = parts.map(({ dialsBy: _, dialMs: __, requestsBy: ___, loop: ____, upgrades: _____, ...rest }) => rest as Counts).reduce(add, {})
  return { parts, requestsBy, dialsBy, now }
}

/** `b` less `a`, key by key, the keys that changed. */
const grown = (a: Counts, b: Counts): Counts => Object.fromEntries(Object.entries(b).map(([k, v]) => [k, v - (a[k] ?? 0)]).filter(([, v]) => v !== 0))

async function statuses (workers: ForkedWorker[]): Promise<AgentStatus[]> {
  return (await Promise.all(workers.map(async w => await w.call('status') as AgentStatus[]))).flat()
}

/** The leader every agent follows, in office; undefined while they do not all agree. */
function known (all: AgentStatus[]): string | undefined {
  const boss = all.filter(a => a.inOffice)
  if (boss.length !== 1) return undefined
  const leader = boss[0].peerId
  return all.every(a => a.peerId === leader || a.leader === leader) ? leader : undefined
}

async function counters (workers: ForkedWorker[]): Promise<Counters & { at: number, rssMax: number }> {
  const cs = await Promise.all(workers.map(async w => await w.call('counters') as Counters))
  const total = (k: CountKey): number => cs.reduce((s, c) => s + c[k], 0)
  const keys: CountKey[] = ['membership', 'probes', 'memberGossip', 'coordination', 'frames', 'suspicions', 'statementsSigned', 'statementsChecked', 'cpuUs', 'rss', 'rssBase', 'agents']
  const announcementsRejected: Record<string, number> = {}
  for (const c of cs) {
    for (const [k, v] of Object.entries(c.announcementsRejected ?? {})) announcementsRejected[k] = (announcementsRejected[k] ?? 0) + v
  }
  const sums = Object.fromEntries(keys.map(k => [k, total(k)])) as unknown as Counters
  return { ...sums, announcementsRejected, rssMax: Math.max(...cs.map(c => c.rss)), at: performance.now() }
}

/** Messages of a kind per agent and second between two readings of the counters. */
const perAgentPerS = (a: Counters & { at: number }, b: Counters & { at: number }, k: CountKey): number =>
  Math.round((b[k] - a[k]) / ((b.at - a.at) / 1000) / b.agents * 10) / 10

const pct = (sorted: number[], p: number): number | null => sorted.length === 0 ? null : sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]

/** One agent other than the coordinator publishes at `rate`/s for `seconds`; every other agent receives. */
async function broadcast (workers: ForkedWorker[], all: AgentStatus[], leader: string | undefined): Promise<Record<string, number | null>> {
  const topic = 'scale-broadcast'
  const publisher = all.filter(a => a.peerId !== leader).at(-1) as AgentStatus
  await Promise.all(workers.map(async w => await w.call('subscribe', { topic, except: publisher.peerId })))
  // Long enough for the subscriptions to reach the publisher and the topic's gossip mesh to form.
  await sleep(5_000)
  let holder: ForkedWorker | undefined
  for (const w of workers) if ((await w.call('status') as AgentStatus[]).some(s => s.peerId === publisher.peerId)) holder = w
  const seconds = Number(values.seconds)
  const dir = values['profile-broadcast']
  if (dir !== undefined) await Promise.all(workers.map(async w => await w.call('profile', { on: true })))
  const cpu0 = await counters(workers)
  const { sent, batches } = await (holder as ForkedWorker).call('publish', { peerId: publisher.peerId, topic, rate: Number(values.rate), seconds }, (seconds + 120) * 1000) as { sent: number, batches: number }
  await sleep(3_000)
  const cpu1 = await counters(workers)
  if (dir !== undefined) await Promise.all(workers.map(async (w, p) => await w.call('profile', { on: false, file: join(dir, `broadcast-p${p}.cpuprofile`) }, 60_000)))
  const heard = await Promise.all(workers.map(async w => await w.call('latencies') as { latencies: number[], received: number, duplicates: number }))
  const lat = heard.flatMap(h => h.latencies).sort((x, y) => x - y)
  const received = heard.reduce((s, h) => s + h.received, 0)
  return {
    broadcastSent: sent,
    // Gossip messages the publisher sent them in (pubsub.maxBatchesPerSec, meshBatchesPerSec).
    broadcastBatches: batches,
    broadcastDelivered: Math.round(received / Math.max(1, sent * (all.length - 1)) * 10_000) / 10_000,
    broadcastDuplicates: heard.reduce((s, h) => s + h.duplicates, 0),
    broadcastP50Ms: pct(lat, 0.5),
    broadcastP99Ms: pct(lat, 0.99),
    broadcastMaxMs: lat.at(-1) ?? null,
    // Every process's CPU from the first message to 3 s after the last (the mesh at rest costs its share too).
    broadcastCpuS: Math.round((cpu1.cpuUs - cpu0.cpuUs) / 1e5) / 10,
    // What the mesh's upkeep did meanwhile (a loaded mesh suspects members, and each suspicion is a signed statement every agent checks).
    broadcastStatements: cpu1.statementsSigned - cpu0.statementsSigned,
    broadcastChecksPerAgent: Math.round((cpu1.statementsChecked - cpu0.statementsChecked) / cpu1.agents),
    broadcastMembershipPerS: perAgentPerS(cpu0, cpu1, 'membership'),
    broadcastProbesPerS: perAgentPerS(cpu0, cpu1, 'probes'),
    broadcastMemberGossipPerS: perAgentPerS(cpu0, cpu1, 'memberGossip')
  }
}

/**
 * A topic few agents read (docs/pubsub.md, "Topics in a large mesh"): `k` random agents subscribe,
 * an agent that does not (nor the coordinator) publishes 20 messages at 10/s; the share of the
 * messages × subscribers delivered, and send-to-receipt p99 and max (the first waits for a dial).
 */
async function scattered (workers: ForkedWorker[], all: AgentStatus[], leader: string | undefined, k: number): Promise<Record<string, number | null>> {
  const topic = 'scale-scattered'
  const others = all.filter(a => a.peerId !== leader).map(a => a.peerId).sort(() => Math.random() - 0.5)
  if (others.length <= k) return {}
  const only = others.slice(0, k)
  const publisher = others[k]
  await Promise.all(workers.map(async w => await w.call('subscribe', { topic, only })))
  // Long enough for the subscribers' statements to spread and their ring links to form.
  await sleep(5_000)
  let holder: ForkedWorker | undefined
  for (const w of workers) if ((await w.call('status') as AgentStatus[]).some(s => s.peerId === publisher)) holder = w
  const { sent } = await (holder as ForkedWorker).call('publish', { peerId: publisher, topic, rate: 10, seconds: 2 }, 120_000) as { sent: number }
  await sleep(3_000)
  const heard = await Promise.all(workers.map(async w => await w.call('latencies') as { latencies: number[], received: number, duplicates: number }))
  const lat = heard.flatMap(h => h.latencies).sort((x, y) => x - y)
  const received = heard.reduce((s, h) => s + h.received, 0)
  return {
    scatteredSubscribers: only.length,
    scatteredDelivered: Math.round(received / Math.max(1, sent * only.length) * 10_000) / 10_000,
    scatteredP99Ms: pct(lat, 0.99),
    scatteredMaxMs: lat.at(-1) ?? null
  }
}

async function run (n: number): Promise<Record<string, string | number | null>> {
  const per = Number(values['per-process'])
  // --seeds-apart: the three seeds in a process of their own (as in a deployment, where every
  // agent is a process), the others `per` to a process after them.
  const apart = values['seeds-apart'] === true
  // --seeds-spread: each seed the first agent of one of the first three processes, so the join's
  // work through the seeds gets three processes' share of the machine, not one's.
  const spread = !apart && values['seeds-spread'] === true
  const nSeeds = Math.min(3, n, spread ? Math.ceil(n / per) : 3)
  /** Where the seeds are among the agents (and in the status list, which is in the same order). */
  const seedAt = Array.from({ length: nSeeds }, (_, i) => spread ? i * per : i)
  const procs = apart ? 1 + Math.ceil((n - nSeeds) / per) : Math.ceil(n / per)
  const processOf = (index: number): number => apart ? (index < nSeeds ? 0 : 1 + Math.floor((index - nSeeds) / per)) : Math.floor(index / per)
  const mesh = `scale${process.pid}n${n}`
  // --profile-seeds DIR: a V8 CPU profile of the seeds' process (worker 0) over the whole run, written when it stops.
  const seedsProfile = values['profile-seeds'] !== undefined ? ['--cpu-prof', '--cpu-prof-dir', values['profile-seeds']] : []
  const workers = Array.from({ length: procs }, (_, i) => new ForkedWorker(WORKER, [], i === 0 ? seedsProfile : []))
  const row: Record<string, string | number | null> = { agents: n, processes: procs, preset }
  const joinProfile = values['profile-join']
  try {
    if (joinProfile !== undefined) await Promise.all(workers.map(async w => await w.call('profile', { on: true })))
    const t0 = performance.now()
    const since = (): number => r1((performance.now() - t0) / 1000)
    // The seeds first (worker 0), then every process starts its share at once.
    const options = { ...(values.page ? { meshAnnounceIntervalMs: 5_000 } : {}), ...extra }
    const seeds: string[] = []
    if (spread) {
      // One at a time, each joining the first.
      for (const [i, at] of seedAt.entries()) {
        const [s] = await workers[i].call('start', { mesh, preset, first: at, count: 1, seeds: seeds.slice(0, 1), seeding: true, options, debugFirst: values.page && i === 0, progress: values.progress }) as Array<{ addr: string }>
        seeds.push(s.addr)
      }
    } else {
      seeds.push(...(await workers[0].call('start', { mesh, preset, first: 0, count: nSeeds, seeds: [], seeding: true, options, debugFirst: values.page, progress: values.progress }) as Array<{ addr: string }>).map(s => s.addr))
    }
    const started = workers.map(async (w, i) => {
      const own = spread && i < nSeeds ? 1 : 0
      const first = apart ? (i === 0 ? n : nSeeds + (i - 1) * per) : spread ? i * per + own : i === 0 ? nSeeds : i * per
      const share = Math.min(per, n - i * per)
      const count = apart ? (i === 0 ? 0 : Math.min(per, n - first)) : spread ? share - own : share - (i === 0 ? nSeeds : 0)
      if (count > 0) await w.call('start', { mesh, preset, first, count, seeds, options, progress: values.progress, ...(values.gap !== undefined ? { gapMs: Number(values.gap) } : {}) }, 600_000)
    })
    let elected: number | null = null
    let knownAt: number | null = null
    let convergedAt: number | null = null
    /** Every agent sees every other alive (whoever it follows). */
    let membersAt: number | null = null
    const deadline = performance.now() + Number(values.converge) * 1000
    let all: AgentStatus[] = []
    let done = false
    void Promise.all(started).then(() => { row.startedS = since() })
    let progressAt = 0
    let work: Record<string, number> = {}
    let cpuBy: number[] = []
    while (!done && performance.now() < deadline) {
      await sleep(250)
      all = await statuses(workers)
      if (values.progress && since() >= progressAt) {
        progressAt = since() + 5
        const votes = new Map<string, number>()
        for (const a of all) if (a.leader !== undefined) votes.set(a.leader, (votes.get(a.leader) ?? 0) + 1)
        const most = Math.max(0, ...votes.values())
        const states: Record<string, number> = {}
        for (const a of all) for (const [k, v] of Object.entries(a.states ?? {})) states[k] = (states[k] ?? 0) + v
        const { parts, requestsBy, dialsBy, now } = await workSoFar(workers)
        const dialMs = parts.flatMap(p => p.dialMs).sort((x, y) => x - y)
        console.error(`+${since()} s: requests to peers not connected, by command and type (so far): ${JSON.stringify(requestsBy)}`)
        console.error(`+${since()} s: dials to peers not connected, by caller (so far): ${JSON.stringify(dialsBy)}; took p50 ${Math.round(pct(dialMs, 0.5) ?? 0)} ms, p90 ${Math.round(pct(dialMs, 0.9) ?? 0)} ms, ${dialMs.length} ended`)
        // The view messages counted under `view_${what}_${type}` (scale-worker.ts), by type, those not 0.
        const byType = (what: string): Array<[string, number]> => Object.entries(now).filter(([k, v]) => k.startsWith(`view_${what}_`) && v > 0).map(([k, v]) => [k.slice(`view_${what}_`.length), v])
        const dialled = byType('dialled')
        if (dialled.length > 0) console.error(`+${since()} s: view messages to peers not connected, each a connection opened, by type (so far): ${JSON.stringify(Object.fromEntries(dialled))}`)
        const failed = byType('failed')
        if (failed.length > 0) console.error(`+${since()} s: view messages that failed, by type (so far): ${JSON.stringify(Object.fromEntries(failed))}`)
        const delta = Object.entries(now).map(([k, v]) => `${k} ${v - (work[k] ?? 0)}`).join(', ')
        const perProcess = parts.map((p, i) => p.cpuMs - (cpuBy[i] ?? 0))
        cpuBy = parts.map(p => p.cpuMs)
        work = now
        console.error(`+${since()} s: CPU ms per process since the last line: ${perProcess.join(' ')}`)
        const upgradeFigures = (ms: number[]): string => { ms.sort((x, y) => x - y); return ms.length === 0 ? 'none' : `${ms.length}, p50 ${Math.round(pct(ms, 0.5) ?? 0)} p90 ${Math.round(pct(ms, 0.9) ?? 0)} max ${ms.at(-1)} ms` }
        console.error(`+${since()} s: inbound connections upgraded since the last line (accepted to upgraded): at the seeds ${upgradeFigures(parts.flatMap(p => p.upgrades.seeds))}; at the others ${upgradeFigures(parts.flatMap(p => p.upgrades.others))}`)
        console.error(`+${since()} s: event loop delay per process since the last line, p99/max ms: ${parts.map(p => `${p.loop.p99}/${p.loop.max}`).join(' ')}`)
        console.error(`+${since()} s: since the last line: ${delta}`)
        const alive = all.map(a => a.alive).sort((x, y) => x - y)
        console.error(`+${since()} s: members seen alive per agent: min ${alive[0]}, p10 ${pct(alive, 0.1)}, p50 ${pct(alive, 0.5)}, max ${alive.at(-1)}; the seeds: ${seedAt.map(i => all[i]?.alive).join(', ')}`)
        const vf = viewFacts(all)
        if (vf !== undefined) console.error(`+${since()} s: ${vf}`)
        // The members most held suspect or offline, with their process: a lagging process's agents, or a few agents' own trouble.
        const lostBy = new Map<string, number>()
        for (const a of all) for (const p of a.lost ?? []) lostBy.set(p, (lostBy.get(p) ?? 0) + 1)
        if (lostBy.size > 0) {
          const ids = all.map(a => a.peerId)
          const top = [...lostBy].sort((x, y) => y[1] - x[1]).slice(0, 8).map(([p, k]) => `a${ids.indexOf(p)}/p${processOf(ids.indexOf(p))}: ${k}`)
          console.error(`+${since()} s: ${lostBy.size} members held suspect or offline by someone; the most (agent/process: by how many): ${top.join(', ')}`)
        }
        // Agents with no connection at all: where their join through the seeds stands.
        const lone = all.map((a, i) => ({ a, p: processOf(i) })).filter(x => x.a.connections === 0)
        if (lone.length > 0) {
          console.error(`+${since()} s: ${lone.length} agents with no connection, by process ${JSON.stringify(lone.map(x => x.p))}; bootstrap dials failed ${JSON.stringify(lone.map(x => x.a.bootstrapErrors?.count ?? 0))}, ` +
            `last errors ${JSON.stringify(lastErrors(lone.map(x => x.a)))}; join rounds ${JSON.stringify(lone.slice(0, 5).map(x => x.a.join))}`)
        }
        console.error(`+${since()} s: ${all.length} agents up; pairs not seen alive ${all.reduce((s, a) => s + n - 1 - a.alive, 0)}` +
          ` (agents lacking some: ${all.filter(a => a.alive < n - 1).length}); states ${JSON.stringify(states)}; following the most followed leader ${most}, another ${all.filter(a => a.leader !== undefined).length - most}`)
      }
      if (all.length < n) continue
      if (elected === null && all.some(a => a.inOffice)) elected = since()
      const leader = known(all)
      if (leader !== undefined && knownAt === null) knownAt = since()
      const whole = all.every(a => a.alive === n - 1)
      if (whole && membersAt === null) membersAt = since()
      if (leader !== undefined && whole) { convergedAt = since(); done = true }
    }
    await Promise.all(started)
    if (joinProfile !== undefined) await Promise.all(workers.map(async (w, p) => await w.call('profile', { on: false, file: join(joinProfile, `join-p${p}.cpuprofile`) }, 60_000)))
    Object.assign(row, { electedS: elected, knownS: knownAt, membersS: membersAt, convergedS: convergedAt })
    if (convergedAt === null) {
      Object.assign(row, { minAlive: Math.min(...all.map(a => a.alive)), following: all.filter(a => a.leader !== undefined).length })
      // Why not: each agent's own account of its situation, counted.
      const why = new Map<string, number>()
      for (const a of all) why.set(a.reason ?? '-', (why.get(a.reason ?? '-') ?? 0) + 1)
      console.error(`not converged at ${n} agents:`, Object.fromEntries(why))
      const vf = viewFacts(all)
      if (vf !== undefined) console.error(vf)
      console.error('member states seen by each agent:', JSON.stringify(all.map(a => a.states)))
      // Agents that see no other member: their connections, and why their bootstrap dials failed.
      const alone = all.filter(a => a.alive === 0)
      // The seeds' connections (the first three agents): the ones everybody dials first.
      console.error('the seeds\' connections:', JSON.stringify(seedAt.map(i => all[i]?.connections)), 'refusals:', JSON.stringify(seedAt.map(i => all[i]?.refusals)), 'inbound pending:', JSON.stringify(seedAt.map(i => all[i]?.pendingInbound)), 'agents alone, by process:',
        JSON.stringify(all.map((a, i) => ({ a, p: processOf(i) })).filter(x => x.a.alive === 0).map(x => x.p)))
      if (alone.length > 0) {
        console.error(`${alone.length} agents see no other member; their connections:`, JSON.stringify(alone.map(a => a.connections)),
          'bootstrap dials failed per agent:', JSON.stringify(alone.map(a => a.bootstrapErrors?.count ?? 0)), 'last errors:', lastErrors(alone),
          'dial queues of the first three:', JSON.stringify(alone.slice(0, 3).map(a => a.dialQueue)),
          'their join rounds:', JSON.stringify(alone.map(a => a.join)))
        for (const w of workers) {
          const r = await w.call('redial', {}, 40_000) as unknown[]
          if (r.length > 0) console.error('lone agents dial their seed again:', JSON.stringify(r))
        }
      }
      // Agents that do not even know some members (unknown, not suspected): who is unknown to how
      // many, and what those agents refused of the member gossip.
      const ids = all.map(a => a.peerId)
      type Unknown = { peerId: string, unknown: string[], unheld: string[], neighbours: string[], rejected: Record<string, number> }
      const unknown = (await Promise.all(workers.map(async w => await w.call('unknown', { ids }) as Unknown[]))).flat()
      const lacking = unknown.filter(u => u.unknown.length > 0)
      if (lacking.length > 0) {
        const byMember = new Map<string, number>()
        for (const u of lacking) for (const id of u.unknown) byMember.set(id, (byMember.get(id) ?? 0) + 1)
        console.error(`${lacking.length} agents do not know every member; unknown members (index: agents that do not know it):`,
          JSON.stringify(Object.fromEntries([...byMember].sort((a, b) => b[1] - a[1]).slice(0, 20).map(([id, k]) => [ids.indexOf(id), k]))),
          'their member-gossip refusals:', JSON.stringify(lacking.slice(0, 10).map(u => u.rejected)))
        // For the first few: of each unknown member, how many of the agent's neighbours know it, and
        // how many hold its statement (only those pass it on in a full exchange); and how many agents hold it at all.
        const of = new Map(unknown.map(u => [u.peerId, u]))
        const holders = (id: string): number => unknown.filter(u => u.peerId !== id && !u.unheld.includes(id)).length
        console.error('unknown members and where they could come from:', JSON.stringify(lacking.slice(0, 6).map(u => ({
          agent: ids.indexOf(u.peerId),
          neighbours: u.neighbours.length,
          missing: u.unknown.slice(0, 4).map(id => ({
            member: ids.indexOf(id),
            itHolds: !u.unheld.includes(id),
            neighboursKnowing: u.neighbours.filter(n => of.get(n) !== undefined && !(of.get(n) as Unknown).unknown.includes(id)).length,
            neighboursHolding: u.neighbours.filter(n => of.get(n) !== undefined && !(of.get(n) as Unknown).unheld.includes(id)).length,
            holdersInMesh: holders(id)
          }))
        }))))
      }
      if (lacking.length > 0) {
        for (const w of workers) {
          const r = await w.call('resync', { n }, 20_000) as unknown[]
          if (r.length > 0) console.error('agents lacking members ask a neighbour for a full exchange:', JSON.stringify(r))
        }
      }
      // A process whose event loop lags cannot answer probes in time: say how much each lagged.
      for (const w of workers) console.error('event loop delay (ms) per process:', JSON.stringify(await w.call('lag', {}, 20_000)))
    }
    await sleep(Number(values.settle) * 1000)
    if (values.page) {
      // Two announcement intervals, so a0's map holds everyone still there.
      await sleep(10_000)
      const { url, ...p } = await workers[0].call('page') as { url: string, every2s: number, every5s: number, mapAgents: number, mapLinks: number, wholeMapBytes: number }
      Object.assign(row, { ...p, pageBytesPerRefresh: Math.round(p.every2s + p.every5s * 2 / 5) })
      if (values.chromium) {
        const c = await pageInChromium(url)
        console.error(`page in Chromium at ${n} agents: ${c.bytes} bytes in ${c.seconds} s (${c.perRefresh} per 2-s refresh); by path ${JSON.stringify(c.byPath)}`)
        Object.assign(row, { chromiumBytesPerRefresh: c.perRefresh })
      }
      return row
    }
    const work0 = values.progress ? await workSoFar(workers) : undefined
    const a = await counters(workers)
    await sleep(Number(values.window) * 1000)
    const b = await counters(workers)
    if (work0 !== undefined) {
      // At rest a connection opened is churn: each costs tens of ms of CPU at both ends (bench/connection-cost.ts).
      const work1 = await workSoFar(workers)
      const opened = (work1.now.opened ?? 0) - (work0.now.opened ?? 0)
      console.error(`at rest: connections opened (both ends count) ${opened} in ${values.window} s; requests to peers not connected, by command and type: ` +
        `${JSON.stringify(grown(work0.requestsBy, work1.requestsBy))}; dials to peers not connected, by caller: ${JSON.stringify(grown(work0.dialsBy, work1.dialsBy))}`)
    }
    const seconds = (b.at - a.at) / 1000
    const perAgent = (x: number): number => r1(x / seconds / b.agents)
    const now = await statuses(workers)
    const restViews = viewFacts(now)
    if (restViews !== undefined) console.error(`at rest: ${restViews}`)
    Object.assign(row, {
      voters: Math.max(...now.map(s => s.voters)),
      membershipPerS: perAgent(b.membership - a.membership),
      coordinationPerS: perAgent(b.coordination - a.coordination),
      gossipFramesPerS: perAgent(b.frames - a.frames),
      suspicionsPerS: r1((b.suspicions - a.suspicions) / seconds),
      connections: r1(now.reduce((s, x) => s + x.connections, 0) / now.length),
      cpuPctPerAgent: Math.round((b.cpuUs - a.cpuUs) / 1e6 / seconds / b.agents * 100 * 100) / 100,
      rssMiBPerProcess: Math.round(b.rssMax / 2 ** 20),
      rssMiBPerAgent: r1(b.rss / 2 ** 20 / b.agents),
      rssMiBPerExtraAgent: r1((b.rss - b.rssBase) / 2 ** 20 / b.agents)
    })
    const leader = known(now)
    if (Number(values.rate) > 0) Object.assign(row, await broadcast(workers, now, leader))
    if (Number(values.scattered) > 0) Object.assign(row, await scattered(workers, now, leader, Number(values.scattered)))
    // The fail-over runs from one coordinator in office even where a few agents never joined (a
    // 200-agent join on two cores often leaves some out): its shares say how the rest followed.
    // After the broadcast (which saturates two cores at 200 agents) the mesh may be between
    // coordinators: the fail-over starts from one in office, waited for up to 60 s.
    let current = await statuses(workers)
    const w0 = performance.now()
    while (current.filter(a => a.inOffice).length !== 1 && performance.now() - w0 < 60_000) {
      await sleep(500)
      current = await statuses(workers)
    }
    row.inOfficeWaitS = r1((performance.now() - w0) / 1000)
    const inOffice = current.filter(a => a.inOffice)
    const crashed = inOffice.length === 1 ? inOffice[0].peerId : undefined
    if (values.failover && crashed !== undefined) {
      const leader = crashed
      row.followingAtCrash = current.filter(a => a.peerId === leader || a.leader === leader).length
      let holder: ForkedWorker | undefined
      for (const w of workers) if ((await w.call('status') as AgentStatus[]).some(s => s.peerId === leader)) holder = w
      const failoverProfile = values['profile-failover']
      if (failoverProfile !== undefined) await Promise.all(workers.map(async w => await w.call('profile', { on: true })))
      const c0 = await counters(workers)
      const crashAt = Date.now()
      const k0 = performance.now()
      await (holder as ForkedWorker).call('crash', { peerId: leader })
      let failover: number | null = null
      // When half, 90% and 99% of the other agents followed one new coordinator in office (the
      // whole mesh is failoverMs): one straggler in a lagging process sets the last figure alone.
      const shares: Array<[number, string]> = [[0.5, 'failoverP50Ms'], [0.9, 'failoverP90Ms'], [0.99, 'failoverP99Ms']]
      const reached: Record<string, number> = {}
      // Once a second, the voters left as each sees the election (stderr): where a slow fail-over goes.
      let nextLine = 0
      while (performance.now() - k0 < 60_000) {
        // Four polls a second: each asks every agent for its status, work that lagging processes
        // then do during the fail-over (the agents' own clocks give followed*, below).
        await sleep(250)
        if (values.timeline && performance.now() - k0 >= nextLine) {
          nextLine += 1000
          const vs = (await Promise.all(workers.map(async (w, p) => (await w.call('voters') as VoterView[]).map(v => ({ ...v, p }))))).flat()
          console.error(`+${Math.round(performance.now() - k0)} ms`, vs.map(v =>
            `${v.peerId.slice(-4)}@p${v.p} ${v.role} t${v.term}${v.inOffice ? ' IN' : ''} lead=${v.leader?.slice(-4) ?? '-'} ` +
            `since=${v.sinceLeaderMs ?? '-'} slack=${v.slackMs} reach=${v.reachable} conn=${v.connected} alive=${v.alive}`).join(' | '))
        }
        const all = (await statuses(workers)).filter(a => a.peerId !== leader)
        const boss = all.filter(a => a.inOffice)
        if (boss.length === 1) {
          const following = all.filter(a => a === boss[0] || a.leader === boss[0].peerId).length / all.length
          for (const [share, key] of shares) if (reached[key] === undefined && following >= share) reached[key] = Math.round(performance.now() - k0)
        }
        const next = known(all)
        if (next !== undefined && next !== leader) { failover = Math.round(performance.now() - k0); break }
      }
      Object.assign(row, reached)
      row.failoverMs = failover
      // When each agent followed the new coordinator, as the agents saw it (the shares above are
      // polled, 20 times a second from lagging processes): 50%, 90%, all of the agents.
      const next = failover !== null ? known((await statuses(workers)).filter(a => a.peerId !== leader)) : undefined
      if (next !== undefined) {
        const at = (await Promise.all(workers.map(async w => await w.call('followed', { leader: next }) as Array<{ at: number | null, voter: boolean }>))).flat()
        const after = (xs: typeof at): number[] => xs.map(x => x.at === null ? Infinity : Math.max(0, x.at - crashAt)).sort((a, b) => a - b)
        const share = (ms: number[], p: number): number | null => {
          const v = ms[Math.min(ms.length - 1, Math.ceil(ms.length * p) - 1)]
          return Number.isFinite(v) ? v : null
        }
        const ms = after(at)
        Object.assign(row, { followedP50Ms: share(ms, 0.5), followedP90Ms: share(ms, 0.9), followedAllMs: share(ms, 1) })
        // The voters follow on the election itself; the others on the new coordinator's announcement.
        const voters = after(at.filter(x => x.voter))
        const others = after(at.filter(x => !x.voter))
        row.followedVotersMs = voters.map(v => Number.isFinite(v) ? v : 'never').join(' ')
        row.followedOthersP10P50P90Ms = [share(others, 0.1), share(others, 0.5), share(others, 0.9)].join(' ')
        // When the others followed, a line per second after the crash: how many each second.
        const perSecond = new Map<number, number>()
        for (const v of others) {
          const s = Number.isFinite(v) ? Math.floor(v / 1000) : -1
          perSecond.set(s, (perSecond.get(s) ?? 0) + 1)
        }
        row.followedOthersPerSecond = [...perSecond].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s < 0 ? 'never' : `${s}s`}:${n}`).join(' ')
      }
      // What the fail-over cost: member statements made and checked (each a signature), CPU of every process.
      const c1 = await counters(workers)
      Object.assign(row, {
        failoverStatements: c1.statementsSigned - c0.statementsSigned,
        failoverChecksPerAgent: Math.round((c1.statementsChecked - c0.statementsChecked) / c1.agents),
        failoverCpuS: r1((c1.cpuUs - c0.cpuUs) / 1e6),
        failoverAnnouncementsRejected: Object.keys(c1.announcementsRejected).map(k => `${k}:${c1.announcementsRejected[k] - (c0.announcementsRejected[k] ?? 0)}`).filter(x => !x.endsWith(':0')).join(' ')
      })
      if (failoverProfile !== undefined) {
        await mkdir(failoverProfile, { recursive: true })
        await Promise.all(workers.map(async (w, p) => await w.call('profile', { on: false, file: join(failoverProfile, `failover-p${p}.cpuprofile`) }, 60_000)))
      }
    }
  } finally {
    await Promise.all(workers.map(async w => { await w.call('stop', {}, 30_000).catch(() => {}); await w.kill() }))
  }
  return row
}

if (values.traffic !== undefined) {
  const rows = []
  for (const n of values.traffic.split(',').map(Number)) {
    const ms = (k: 'settle' | 'window' | 'converge'): number => Number(values[k]) * 1000
    const row = await measureTraffic(n, { preset, settleMs: ms('settle'), windowMs: ms('window'), convergeMs: ms('converge'), extra, ...(values.profile !== undefined ? { profile: values.profile } : {}) })
    console.log(JSON.stringify(row))
    rows.push(row)
  }
  console.table(rows)
} else {
  const rows = []
  for (const n of values.agents.split(',').map(Number)) {
    const row = await run(n)
    console.log(JSON.stringify(row))
    rows.push(row)
  }
  console.table(rows)
}

/** How many of `agents` last failed a bootstrap dial with each error. */
function lastErrors (agents: ReadonlyArray<{ bootstrapErrors?: { last: string } }>): Record<string, number> {
  const errors: Record<string, number> = {}
  for (const a of agents) if (a.bootstrapErrors !== undefined) errors[a.bootstrapErrors.last] = (errors[a.bootstrapErrors.last] ?? 0) + 1
  return errors
}
