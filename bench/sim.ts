// `npm run bench:sim`: membership and election at scale, in simulated time (bench/sim-world.ts
// drives the real member table, rumours, failure detector and election). Per N it prints:
// the traffic per agent at rest (messages, statements and bytes per second, by kind), the time
// until every agent holds every other alive after a join wave and until one coordinator is
// followed by all, and the time until 10% crashed at once (the coordinator among them) are held
// offline by every survivor and a new coordinator is followed by all. A ratio column compares
// each N with the one before: per-agent cost flat or logarithmic in N is the aim.
//   --n 100,1000        the sizes (--agents is the same)   --wan   the wan preset's timings over 20-150 ms links
//   --seed S            the schedule   --rest S  seconds of rest measured (60: two full exchanges each)
//   --sync-ms MS        membership.syncIntervalMs instead of the preset's
//   --max-connections C  connections an agent holds at most (300, connections.maxConnections)
//   --max-inbound I     inbound connections it takes (200, connections.maxInbound); past three
//                       quarters of it, it hands the oldest on (protocols/discovery/hand-off.ts)
//   --hand-off-ms MS    connections.handOffAfterMs (10000)
//   --join-max-delay MS connections.bootstrapMaxDelayMs (10000): a joiner refused by full seeds retries after at most this
//   --agents-per-seed A one seed per A agents, at least 3 (100); every newcomer lists them all and
//                       tries them in its own random order, as a deployment with several bootstrap addresses
//   --seeds K           K seeds whatever N (3 for every N before: the join's length then grew as N)
//   --feedback K        gossip stops telling a statement once K neighbours answered they held it
//                       (GOSSIP_FEEDBACK_LIMIT, 3); 0: no feedback, each told its full count (before issue 46's change)
//   --exchange-feedback K  the same for a statement learnt from a full exchange (EXCHANGE_FEEDBACK_LIMIT, 1);
//                       0: --feedback's K, as before (issue 46, 2026-11-30)
//   --all-news          a statement that told its receiver nothing but accusations (one past the
//                       confirmations' limit) told its full count: before that change
//   --joins-in-full     a join's statement (of a member its receiver's table did not hold) told its
//                       full count, as before feedback stopped it too (member-table.ts telling); with
//                       --all-news, every statement heard in gossip is told in full
//   --no-cells          exchanges compare whole buckets only, never by cell (before the digest's third version, issue 46)
//   --max-queued Q      statements an agent's gossip queue holds at most (DEFAULT_MAX_QUEUED, 128); 0: unbounded (before issue 46's bound)
//   --profile-join DIR  a V8 CPU profile of each N's join wave alone (DIR/join-N.cpuprofile; bench/profile-summary.ts reads it)
//   --snapshot FILE     V8 heap snapshots as the join converged (FILE-N-join) and after the rest phase (FILE-N) (bench/heap-paths.ts --owners splits them)
//   --json              JSON lines only     --quiet   no progress lines on stderr (one as each phase ends, one every 30 s of wall time)
//   --events E          each N stops after E events played (counted by 1,048,576: the first moments of its
//                       join, measured or profiled with --cpu-prof without running the rest), printing a JSON
//                       line { n, events, simS, cpuS } in place of its figures, with the heap then
//                       (liveHeapMiB after a collection with --expose-gc, arrayBuffersMiB) and the
//                       statements the agents held and had queued to tell (held, queued); at 10,000
//                       agents one million events took 819 s of CPU (issue 46, 2026-11-30)
// Run with `node --expose-gc` for the heap per (agent, member) pair measured after a collection.
// `npm run bench:sim` runs it so, with a 16 GiB heap (the issue's bound; Node's default here is
// ~4 GiB, under what 10,000 agents hold: 8.8 GB three seconds into the join) and young
// generations of 64 MB (the default 16 MB promoted the exchanges' short-lived lists: 3,000 agents'
// first million events spent 11.8 s in scavenges and 92 s in all, 6.4 and 81 s with 64 MB).
import { writeHeapSnapshot } from 'node:v8'
import { Session } from 'node:inspector'
import { mkdirSync, writeFileSync } from 'node:fs'
import { presets } from '../node/presets.js'
import { DEFAULT_BOOTSTRAP_MAX_DELAY_MS, DEFAULT_CONFIRMATIONS_FOR_MIN, DEFAULT_GOSSIP_FANOUT } from '../protocols/discovery/constants.js'
import { KINDS, SIM_DEFAULTS, seedsFor, World, type Kind } from './sim-world.js'

const args = process.argv.slice(2)
const arg = (name: string, dflt: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt }
const wan = args.includes('--wan')
const jsonOnly = args.includes('--json')
// --agents N: the issue's spelling (issue 46), the same as --n.
const sizes = arg('n', arg('agents', '100,1000')).split(',').map(Number)
const showProgress = !args.includes('--quiet')
const seed = Number(arg('seed', '1'))
const restS = Number(arg('rest', '60'))
const syncMs = arg('sync-ms', '')
const maxConnections = Number(arg('max-connections', String(SIM_DEFAULTS.maxConnections)))
const maxInbound = Number(arg('max-inbound', String(SIM_DEFAULTS.maxInbound)))
const handOffAfterMs = Number(arg('hand-off-ms', String(SIM_DEFAULTS.handOffAfterMs)))
const joinMaxDelayMs = Number(arg('join-max-delay', String(DEFAULT_BOOTSTRAP_MAX_DELAY_MS)))
const feedbackLimit = Number(arg('feedback', String(SIM_DEFAULTS.feedbackLimit)))
const exchangeFeedbackLimit = Number(arg('exchange-feedback', String(SIM_DEFAULTS.exchangeFeedbackLimit)))
const allNews = args.includes('--all-news')
const joinsInFull = args.includes('--joins-in-full')
const maxQueued = Number(arg('max-queued', String(SIM_DEFAULTS.maxQueued)))
const noCells = args.includes('--no-cells')
const snapshot = arg('snapshot', '')
const profileJoin = arg('profile-join', '')
const profileCrash = arg('profile-crash', '')
const eventsCap = Number(arg('events', 'Infinity'))
if (!(eventsCap > 0)) { console.error(`--events ${arg('events', '')}: a number of events, above 0`); process.exit(2) }
/** Thrown out of a run at `--events`: where it stopped. */
interface HeldAt { liveHeapMiB: number, arrayBuffersMiB: number, held: number, queued: number }
class EventsPlayed {
  constructor (readonly events: number, readonly simS: number, readonly cpuS: number, readonly at: HeldAt) {}
}

/**
 * Profiles one phase alone, the join wave or the crash (the run is synchronous: the inspector's
 * session, in this thread, answers each post before it returns). Returns the stop, which writes
 * the profile to `dir`.
 */
function profiler (n: number, dir: string, phase: 'join' | 'crash'): () => void {
  if (dir === '') return () => {}
  const session = new Session()
  session.connect()
  session.post('Profiler.enable')
  session.post('Profiler.start')
  return () => {
    session.post('Profiler.stop', (err, r) => {
      if (err !== null) throw err
      mkdirSync(dir, { recursive: true })
      writeFileSync(`${dir}/${phase}-${n}.cpuprofile`, JSON.stringify(r.profile))
    })
    session.disconnect()
  }
}
/**
 * Seeds in proportion to N: each takes `maxInbound` newcomers before its gater refuses, and hands
 * on a few a second after `handOffAfterMs`, so a fixed number of seeds made the join last as N
 * (3 seeds: all saw all at 38.5 s at 1,000 agents, 127.6 s at 3,000). One per 100 agents keeps a
 * seed's share of the wave under the three quarters of `maxInbound` (200) where it starts handing
 * on, so no newcomer waits for a hand-off; one per 300 (4 seeds at 1,000) still had a quarter of
 * the newcomers refused and waiting (30.5 s at 1,000, against 15.6 s).
 */
const agentsPerSeed = Number(arg('agents-per-seed', String(SIM_DEFAULTS.agentsPerSeed)))
const fixedSeeds = arg('seeds', '')
const seeds = (n: number): number => fixedSeeds !== '' ? Math.min(n, Number(fixedSeeds)) : seedsFor(n, agentsPerSeed)
const preset = wan ? presets.wan : presets.lan
const latency: [number, number] = wan ? [20, 150] : [0.5, 5]
const LIMIT_MS = 180_000

interface Result {
  n: number
  /** Seeds the newcomers joined through. */
  seeds: number
  preset: string
  latencyMs: [number, number]
  joinAllAliveS: number | null
  join999S: number | null
  joinCoordinatorS: number | null
  /** Election requests of the join wave to agents not connected (a dial each in the node), by message type. */
  joinElectionDials: Record<string, number>
  /** Election messages each agent sent, on average, from the start until the join converged (a storm of questions shows here). */
  joinElectionMsgs: number
  /** Coordinators in office at once, at most, over the whole run (checked every 100 ms). */
  officeMax: number
  rest: Record<Kind, { msgsPerAgentS: number, bytesPerAgentS: number }> & { total: { msgsPerAgentS: number, bytesPerAgentS: number } }
  statementsPerSync: number
  statementsPerGossip: number
  /** Statements each agent received in gossip and in full exchanges from the start until no agent had news left to tell (the join wave's news). */
  joinStatements: { gossip: number, sync: number }
  /** Of those, the statements new to the agent that it took (the rest it held already, or were past its budget of checks). */
  joinTaken: { gossip: number, sync: number }
  /** Kilobytes each agent sent in gossip and in full exchanges over the same span (digests, listings, patches: what the digest's third version cut). */
  joinKB: { gossip: number, sync: number }
  /**
   * The same full exchanges' kilobytes by message: digests, answers' listings, patches (the
   * asker's gives and wants), their answers; and the statements patches gave.
   */
  joinExchange: { digestsKB: number, listingsKB: number, patchesKB: number, patchAnswersKB: number, given: number }
  /** Statements each agent issued (its own) from its start until the join's news was told out: what every other must receive at least once. */
  joinIssued: number
  /** Simulated seconds from the start until no agent had news left to tell. */
  toldOutS: number
  /** Statements one agent had queued to tell, at most, sampled every 100 ms of the join wave. */
  joinQueuedMax: number
  /** Statements each agent's queue let go past its bound (--max-queued) before telling them their count, until no agent had news left to tell. */
  joinPruned: number
  /** Statements each survivor received in gossip and in full exchanges from the crash until it was seen. */
  crashStatements: { gossip: number, sync: number }
  /** Kilobytes each survivor sent in gossip and in full exchanges until the crash was seen. */
  crashKB: { gossip: number, sync: number }
  /** Statements the survivors issued from the crash until all saw the crashed offline. */
  crashIssued: number
  /** First-hand accusations of the crashed in the survivors' statements then: (accuser, crashed) pairs. */
  crashAccusations: number
  /** Gossip's feedback limit (0: none). */
  feedback: number
  /** Its limit for what a full exchange brought (0: `feedback`'s). */
  exchangeFeedback: number
  /** Statements an agent's gossip queue held at most (0: unbounded). */
  maxQueued: number
  crashed: number
  coordinatorCrashed: boolean
  /** Voters among the crashed, of the voter set then. */
  votersCrashed: [number, number]
  /** A majority of the voters crashed: no coordinator can be elected (failoverS stays null). */
  quorumLost: boolean
  lostOfflineS: number | null
  failoverS: number | null
  maxTable: number
  /** The heap and array buffers after the rest phase over N² (agent, member) pairs; collected first under --expose-gc (heapCollected). */
  heapPerPairB: number
  /** The same the moment the join wave converged (its news still being told): the run's peak of live memory. */
  joinHeapPerPairB: number
  heapCollected: boolean
  wallS: number
  /** CPU time of the run (user and system) and the simulated time it covered. */
  cpuS: number
  simS: number
}

/** A line on stderr as each phase ends: a long run (10,000 agents) shows where it is, its heap and its CPU so far. */
function progress (n: number, phase: string, simMs: number, t0: number, cpu0: NodeJS.CpuUsage): void {
  if (!showProgress) return
  const cpu = process.cpuUsage(cpu0)
  const { heapUsed, arrayBuffers, rss } = process.memoryUsage()
  const heapMB = Math.round((heapUsed + arrayBuffers) / 2 ** 20)
  console.error(`sim N=${n}: ${phase} at ${(simMs / 1_000).toFixed(1)} s simulated, wall ${((performance.now() - t0) / 1_000).toFixed(0)} s, cpu ${((cpu.user + cpu.system) / 1e6).toFixed(0)} s, heap and array buffers ${heapMB} MiB, rss ${Math.round(rss / 2 ** 20)} MiB`)
}

function runOne (n: number): Result {
  const t0 = performance.now()
  const joinProfiled = profiler(n, profileJoin, 'join')
  const cpu0 = process.cpuUsage()
  const world = new World({
    n,
    seed,
    membership: { ...preset.membership, ...(syncMs !== '' ? { syncIntervalMs: Number(syncMs) } : {}), confirmationsForMin: DEFAULT_CONFIRMATIONS_FOR_MIN },
    coordination: preset.coordination,
    latency,
    targetPeers: SIM_DEFAULTS.targetPeers,
    maxConnections,
    maxInbound,
    handOffAfterMs,
    joinMaxDelayMs,
    gossipFanout: DEFAULT_GOSSIP_FANOUT,
    ...(feedbackLimit > 0 ? { feedbackLimit } : {}),
    ...(exchangeFeedbackLimit > 0 ? { exchangeFeedbackLimit } : {}),
    ...(allNews ? { allNews } : {}),
    ...(joinsInFull ? { joinsInFull } : {}),
    ...(maxQueued > 0 ? { maxQueued } : {}),
    ...(noCells ? { noCells } : {}),
    seeds: seeds(n)
  })
  // A line every 30 s of wall time within a phase too, with the messages sent so far by kind.
  let lineAt = performance.now()
  world.onPlayed = () => {
    if (world.played >= eventsCap) {
      // What the run holds where it stops: the gossip queues were most of a join's heap (issue 46).
      // The CPU is read first: the collection below is not the run's.
      const cpu = process.cpuUsage(cpu0)
      ;(globalThis as { gc?: () => void }).gc?.()
      const { heapUsed, arrayBuffers } = process.memoryUsage()
      let held = 0
      let queued = 0
      for (const a of world.agents) { held += a.member?.rumours.size ?? 0; queued += a.member?.rumours.pending ?? 0 }
      const mib = (b: number): number => Math.round(b / 2 ** 20)
      const at = { liveHeapMiB: mib(heapUsed), arrayBuffersMiB: mib(arrayBuffers), held, queued }
      throw new EventsPlayed(world.played, world.now / 1_000, (cpu.user + cpu.system) / 1e6, at)
    }
    if (performance.now() - lineAt < 30_000) return
    lineAt = performance.now()
    progress(n, `${world.played} events played, messages sent so far ${KINDS.map(k => `${k} ${world.count[k].msgs}`).join(', ')}`, world.now, t0, cpu0)
  }
  world.joinWave()
  let allAlive: number | null = null
  let most: number | null = null
  let coordinator: number | null = null
  let joinQueuedMax = 0
  world.run(LIMIT_MS, () => {
    for (const a of world.agents) joinQueuedMax = Math.max(joinQueuedMax, a.member?.rumours.pending ?? 0)
    if (world.upCount < n) return false
    if (most === null && world.agents.reduce((s, a) => s + a.alive, 0) >= 0.999 * n * (n - 1)) most = world.now
    if (allAlive === null && world.agents.every(a => a.alive === n - 1)) allAlive = world.now
    const office = world.coordinator()
    if (coordinator === null && office.followers === n) coordinator = world.now
    return allAlive !== null && coordinator !== null
  }, 100)
  // At rest: news told out first (20 s, and until no agent has any left to tell: at 1,000 agents
  // the join wave's statements are still being passed on 20 s after the last agent saw every other), then `restS` measured.
  const livePerPair = (): number => {
    (globalThis as { gc?: () => void }).gc?.()
    // The member columns are typed arrays, whose bytes lie outside the V8 heap: counted too.
    const { heapUsed, arrayBuffers } = process.memoryUsage()
    return Math.round((heapUsed + arrayBuffers) / (n * n))
  }
  joinProfiled() // before the collection below, which is not the join's
  const joinHeapPerPairB = livePerPair()
  progress(n, 'join wave converged', world.now, t0, cpu0)
  if (snapshot !== '') writeHeapSnapshot(snapshot.replace(/(\.heapsnapshot)?$/, `-${n}-join.heapsnapshot`))
  const joinElectionDials = { ...world.electionDials }
  const joinElectionMsgs = world.count.election.msgs / n
  world.run(world.now + 20_000)
  world.run(world.now + 120_000, () => world.agents.every(a => (a.member?.rumours.pending ?? 0) === 0), 1_000)
  const toldOutS = world.now / 1_000
  const joinStatements = { gossip: world.statements.gossip / n, sync: world.statements.sync / n }
  const joinKB = { gossip: world.count.gossip.bytes / n / 1_000, sync: world.count.sync.bytes / n / 1_000 }
  const x = world.exchange
  const perAgentKB = (bytes: number): number => bytes / n / 1_000
  const joinExchange = {
    digestsKB: perAgentKB(x.digests),
    listingsKB: perAgentKB(x.listings),
    patchesKB: perAgentKB(x.patches),
    patchAnswersKB: perAgentKB(x.patchAnswers),
    given: x.given / n
  }
  const joinTaken = { gossip: 0, sync: 0 }
  for (const a of world.agents) { joinTaken.gossip += (a.member?.took.gossip ?? 0) / n; joinTaken.sync += (a.member?.took.sync ?? 0) / n }
  const joinIssued = world.agents.reduce((sum, a) => sum + (a.member?.issued ?? 0), 0) / n
  const joinPruned = world.agents.reduce((sum, a) => sum + (a.member?.rumours.pruned ?? 0), 0) / n
  world.resetCounts()
  const restFrom = world.now
  world.run(world.now + restS * 1_000)
  const span = (world.now - restFrom) / 1_000
  const per = (k: { msgs: number, bytes: number }): { msgsPerAgentS: number, bytesPerAgentS: number } =>
    ({ msgsPerAgentS: k.msgs / n / span, bytesPerAgentS: k.bytes / n / span })
  const rest = Object.fromEntries(KINDS.map(k => [k, per(world.count[k])])) as Result['rest']
  rest.total = per({ msgs: KINDS.reduce((s, k) => s + world.count[k].msgs, 0), bytes: KINDS.reduce((s, k) => s + world.count[k].bytes, 0) })
  const statementsPerSync = world.count.sync.msgs > 0 ? world.statements.sync / world.count.sync.msgs : 0
  const statementsPerGossip = world.count.gossip.msgs > 0 ? world.statements.gossip / world.count.gossip.msgs : 0
  const maxTable = world.maxTable()
  // Every agent holds every other: the simulation's memory grows with N², which is what bounds N here.
  const gc = (globalThis as { gc?: () => void }).gc
  const heapPerPairB = livePerPair()
  progress(n, `rest measured (${restS} s)`, world.now, t0, cpu0)
  if (snapshot !== '') writeHeapSnapshot(snapshot.replace(/(\.heapsnapshot)?$/, `-${n}.heapsnapshot`))
  // 10% crash at once (silently: no connection closes, probes time out), the coordinator among them.
  const leader = world.coordinator().leader
  const up = world.agents.filter(a => a.up)
  const victims = new Set<number>()
  if (leader !== undefined) victims.add(Number(leader.slice(1)))
  while (victims.size < Math.round(n / 10)) victims.add(world.pick(up).i)
  const crashAt = world.now
  // A majority of the voters among them leaves no one who can win a vote (as in Raft, Consul,
  // etcd): no fail-over, by design, until they come back. Printed as such, not as a slow fail-over.
  const voters = leader === undefined ? [] : (world.agents[Number(leader.slice(1))].election?.status(world.now).voters ?? [])
  const votersCrashed = voters.filter(v => victims.has(Number(v.slice(1)))).length
  const quorumLost = voters.length - votersCrashed < Math.floor(voters.length / 2) + 1
  const crashProfiled = profiler(n, profileCrash, 'crash')
  for (const v of victims) world.crash(world.agents[v])
  world.resetCounts()
  const issued = (): number => world.agents.reduce((sum, a) => sum + (a.up ? (a.member?.issued ?? 0) : 0), 0)
  const issuedBefore = issued()
  let lost: number | null = null
  let failover: number | null = null
  world.run(world.now + LIMIT_MS, () => {
    const survivors = world.agents.filter(a => a.up)
    if (lost === null && survivors.every(a => a.lostSeen === victims.size)) lost = world.now - crashAt
    if (failover === null) {
      const c = world.coordinator()
      if (c.leader !== undefined && c.leader !== leader && c.followers === survivors.length) failover = world.now - crashAt
    }
    return lost !== null && (failover !== null || quorumLost)
  }, 100)
  crashProfiled()
  progress(n, 'crash and fail-over seen', world.now, t0, cpu0)
  const survivors = n - victims.size
  const crashStatements = { gossip: world.statements.gossip / survivors, sync: world.statements.sync / survivors }
  const crashKB = { gossip: world.count.gossip.bytes / survivors / 1_000, sync: world.count.sync.bytes / survivors / 1_000 }
  // What the crash made the survivors say: statements issued, and the (accuser, crashed) pairs
  // their statements name first-hand once all see the crashed offline (member-table.ts HEARSAY_SHARE).
  const crashIssued = issued() - issuedBefore
  const accusing = (a: (typeof world.agents)[number]): number =>
    a.up ? (a.member?.table.announcement().suspects.filter(x => victims.has(Number(x.peerId.slice(1)))).length ?? 0) : 0
  const crashAccusations = world.agents.reduce((sum, a) => sum + accusing(a), 0)
  const cpu = process.cpuUsage(cpu0)
  const s = (ms: number | null): number | null => ms === null ? null : Math.round(ms) / 1_000
  return {
    n,
    seeds: seeds(n),
    preset: wan ? 'wan' : 'lan',
    latencyMs: latency,
    joinAllAliveS: s(allAlive),
    join999S: s(most),
    joinCoordinatorS: s(coordinator),
    joinElectionDials,
    joinElectionMsgs,
    officeMax: world.officeMax,
    rest,
    statementsPerSync,
    statementsPerGossip,
    joinStatements,
    joinKB,
    joinExchange,
    joinTaken,
    joinIssued,
    toldOutS,
    joinQueuedMax,
    joinPruned,
    crashStatements,
    crashKB,
    crashIssued,
    crashAccusations,
    feedback: feedbackLimit,
    exchangeFeedback: exchangeFeedbackLimit,
    maxQueued,
    crashed: victims.size,
    coordinatorCrashed: leader !== undefined,
    votersCrashed: [votersCrashed, voters.length],
    quorumLost,
    lostOfflineS: s(lost),
    failoverS: s(failover),
    maxTable,
    heapPerPairB,
    joinHeapPerPairB,
    heapCollected: gc !== undefined,
    wallS: Math.round(performance.now() - t0) / 1_000,
    cpuS: Math.round((cpu.user + cpu.system) / 1_000) / 1_000,
    simS: Math.round(world.now) / 1_000
  }
}

const results: Result[] = []
for (const n of sizes) {
  let r: Result
  try {
    r = runOne(n)
  } catch (err) {
    if (!(err instanceof EventsPlayed)) throw err
    console.log(JSON.stringify({ bench: 'sim', seed, n, events: err.events, simS: err.simS, cpuS: err.cpuS, ...err.at }))
    continue
  }
  results.push(r)
  console.log(JSON.stringify({ bench: 'sim', seed, ...r }))
}
if (results.length === 0) process.exit(0)

if (!jsonOnly) {
  const fmt = (x: number | null, d = 1): string => x === null ? 'none' : x.toLocaleString('en', { maximumFractionDigits: d, minimumFractionDigits: d })
  const rows: Array<[string, (r: Result) => number | null, number]> = [
    ['msgs/agent/s at rest, all', r => r.rest.total.msgsPerAgentS, 2],
    ['bytes/agent/s at rest, all', r => r.rest.total.bytesPerAgentS, 0],
    ...KINDS.map((k): [string, (r: Result) => number | null, number] => [`  bytes/agent/s, ${k}`, r => r.rest[k].bytesPerAgentS, 0]),
    ['statements per full exchange', r => r.statementsPerSync, 0],
    ['seeds the newcomers join through', r => r.seeds, 0],
    ['join wave: 99.9% of pairs see each other alive (s)', r => r.join999S, 1],
    ['join wave: all see all alive (s)', r => r.joinAllAliveS, 1],
    ['join wave: one coordinator followed by all (s)', r => r.joinCoordinatorS, 1],
    ['join wave: statements received per agent, gossip', r => r.joinStatements.gossip, 0],
    ['join wave: statements received per agent, full exchanges', r => r.joinStatements.sync, 0],
    ['  of which new to it and taken, gossip', r => r.joinTaken.gossip, 0],
    ['  of which new to it and taken, full exchanges', r => r.joinTaken.sync, 0],
    ['join wave: kilobytes sent per agent, gossip', r => r.joinKB.gossip, 0],
    ['join wave: kilobytes sent per agent, full exchanges', r => r.joinKB.sync, 0],
    ['  of which digests', r => r.joinExchange.digestsKB, 0],
    ['  of which answers\' listings', r => r.joinExchange.listingsKB, 0],
    ['  of which patches (the asker\'s gives and wants)', r => r.joinExchange.patchesKB, 0],
    ['  of which patches\' answers', r => r.joinExchange.patchAnswersKB, 0],
    ['join wave: statements given per agent in patches (the askers\' gives)', r => r.joinExchange.given, 0],
    ['join wave: statements issued per agent (each a statement every other must receive)', r => r.joinIssued, 1],
    ['join wave: no agent has news left to tell (s)', r => r.toldOutS, 1],
    ['join wave: statements one agent had queued to tell, at most', r => r.joinQueuedMax, 0],
    ['join wave: statements let go from each agent\'s queue past its bound, untold', r => r.joinPruned, 1],
    ['join wave: election messages sent per agent', r => r.joinElectionMsgs, 1],
    ['join wave: election requests to agents not connected (dials)', r => Object.values(r.joinElectionDials).reduce((a, b) => a + b, 0), 0],
    ['  of which config-query (the bootstrap check)', r => r.joinElectionDials['config-query'] ?? 0, 0],
    ['coordinators in office at once, at most', r => r.officeMax, 0],
    ['10% crash: all see them offline (s)', r => r.lostOfflineS, 1],
    ['coordinator fail-over, followed by all (s)', r => r.failoverS, 1],
    ['10% crash: first-hand accusations of the crashed, once seen ((accuser, crashed) pairs)', r => r.crashAccusations, 0],
    ['10% crash: statements the survivors issued until seen', r => r.crashIssued, 0],
    ['10% crash: statements received per survivor until seen, gossip', r => r.crashStatements.gossip, 0],
    ['10% crash: statements received per survivor until seen, full exchanges', r => r.crashStatements.sync, 0],
    ['10% crash: kilobytes sent per survivor until seen, gossip', r => r.crashKB.gossip, 0],
    ['10% crash: kilobytes sent per survivor until seen, full exchanges', r => r.crashKB.sync, 0],
    ['  voters among the crashed (a majority of them: no quorum, no fail-over)', r => r.votersCrashed[0], 0],
    ['members held per agent, at most', r => r.maxTable, 0],
    ['heap and array buffers per (agent, member) pair as the join converged, bytes (collected first under --expose-gc)', r => r.joinHeapPerPairB, 0],
    ['heap and array buffers per (agent, member) pair, bytes (node --expose-gc: collected first)', r => r.heapPerPairB, 0],
    ['wall time of the run (s)', r => r.wallS, 0],
    ['CPU time of the run (s)', r => r.cpuS, 0],
    ['CPU per simulated second (s)', r => r.simS > 0 ? r.cpuS / r.simS : null, 2]
  ]
  const head = ['', ...results.flatMap((r, i) => i === 0 ? [`N=${r.n}`] : [`N=${r.n}`, '×'])]
  console.log(`\nSimulation, ${wan ? 'wan' : 'lan'} preset, latency ${latency[0]}-${latency[1]} ms, seed ${seed}, gossip feedback ${feedbackLimit > 0 ? `${feedbackLimit}, ${exchangeFeedbackLimit > 0 ? exchangeFeedbackLimit : feedbackLimit} for an exchange's news` : 'none'}${allNews ? ', every statement told in full (--all-news)' : ''}${joinsInFull ? ', joins told in full (--joins-in-full)' : ''}, gossip queues ${maxQueued > 0 ? `of ${maxQueued} at most` : 'unbounded'}, ${noCells ? 'whole buckets only (--no-cells)' : 'large buckets compared by cell'}\n`)
  console.log(`| ${head.join(' | ')} |`)
  console.log(`|${head.map(() => '---').join('|')}|`)
  for (const [name, get, d] of rows) {
    const cells = results.flatMap((r, i) => {
      const v = get(r)
      if (i === 0) return [fmt(v, d)]
      const prev = get(results[i - 1])
      return [fmt(v, d), v !== null && prev !== null && prev > 0 ? `${fmt(v / prev, 2)}` : '']
    })
    console.log(`| ${name} | ${cells.join(' | ')} |`)
  }
}
