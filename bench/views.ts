// `npm run bench:views`: the bounded connection graph (HyParView's partial views,
// protocols/discovery/hyparview.ts) alone, in simulated time (harness/view-sim.ts), at sizes this
// machine cannot run as processes. Per N it prints: connections per agent after the rest (the
// active view: min, mean and max), the time until a join wave through three seeds leaves one
// connected graph, messages per agent per second, connections opened and swaps per agent a
// minute at rest, and the time until 10% crashed at once are
// gone from every survivor's view with the survivors still one connected graph. The aim (issue
// 46): per-agent figures flat as N grows.
//   --n 1000,3000,10000   the sizes     --seed S   the schedule     --rest S  seconds of rest measured (20)
//   --swap MS             swaps every MS on average (HyParView's default; 0: none)
//   --late P              P of the messages (0-1) come 1 s to --late-ms (9000) late     --unordered  links keep no order
//                         (the shell sends each view message as a request of its own); one-sided links are printed either way
//   --by-type             also the messages sent at rest, by type (what a swap costs: compare with --swap 0, over several seeds),
//                         and the join's dials per agent by the type of the message that opened them
//   --settle S            seconds run after the join before the rest is measured (0)
//   --shell               agents learn the members as the real shell does (a newcomer all of them at once, everyone every 5 s), ask
//                         reserve peers they hold a connection to first and answer only connected shuffle origins
//   --gap MS              joins this far apart (2)
//   --neighbour-timeout MS  how long a neighbour request may go unanswered (HyParView's 5,000; real nodes add their dial
//                         timeout: 15,000 with the defaults, node/member-connections.ts)
//   --json                JSON lines only
import { ViewWorld } from '../harness/view-sim.js'
import { HYPARVIEW_DEFAULTS } from '../protocols/discovery/hyparview.js'

const args = process.argv.slice(2)
const arg = (name: string, dflt: string): string => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt }
const sizes = arg('n', arg('agents', '1000,3000,10000')).split(',').map(Number)
const seed = Number(arg('seed', '1'))
const restS = Number(arg('rest', '20'))
const swapIntervalMs = Number(arg('swap', String(HYPARVIEW_DEFAULTS.swapIntervalMs)))
const jsonOnly = args.includes('--json')
const links = { late: Number(arg('late', '0')), lateMs: Number(arg('late-ms', '9000')), inOrder: !args.includes('--unordered'), shell: args.includes('--shell') }
const byType = args.includes('--by-type')
const settleS = Number(arg('settle', '0'))
const neighbourTimeoutArg = arg('neighbour-timeout', '')
const neighbourTimeoutMs = neighbourTimeoutArg === '' ? undefined : Number(neighbourTimeoutArg)
const TYPES = ['join', 'forward-join', 'neighbour', 'neighbour-reply', 'disconnect', 'shuffle', 'shuffle-reply', 'swap', 'swap-reply'] as const
/** Joins are this far apart; how often the graph is looked at; how long a phase may take at most. */
const GAP_MS = Number(arg('gap', '2'))
const LOOK_MS = 250
const LIMIT_MS = 300_000

interface Result {
  n: number
  activeMean: number
  activeMax: number
  /** Every agent in one connected graph. */
  joinS: number | null
  /** Connections opened per agent from the first join to the rest (a message to a peer with none open: harness/view-sim.ts). */
  joinDialsPerAgent: number
  /** The fewest connections an agent holds once the graph settled (after the rest). */
  activeMin: number
  restMsgsPerAgentS: number
  /** Swaps started per agent a minute at rest (hyparview.ts: on a closed neighbourhood, and at random). */
  restSwapsPerAgentMin: number
  /** Connections opened per agent a minute at rest (a view one short asking its reserve, a shuffle's reply): tens of ms of CPU each in real nodes. */
  restOpenedPerAgentMin: number
  /** Links held by one end only, after the rest. */
  oneSided: number
  /** With --by-type: the messages sent at rest, by type. */
  restByType?: Record<string, number>
  /** With --by-type: the join's connections opened per agent, by the type of the message that opened each. */
  joinDialsByType?: Record<string, number>
  crashed: number
  repairS: number | null
  activeMeanAfter: number
  wallS: number
  heapMiB: number
}

/** Simulated time until `done` holds, looked at every LOOK_MS, or null past LIMIT_MS. */
function until (w: ViewWorld, done: () => boolean): number | null {
  const start = w.now
  while (w.now - start < LIMIT_MS) {
    w.run(w.now + LOOK_MS)
    if (done()) return (w.now - start) / 1000
  }
  return null
}

function connected (w: ViewWorld): boolean {
  const live = w.live()
  return live.length > 0 && w.flood(live[0]).reached === live.length
}

function runOne (n: number): Result {
  const started = Date.now()
  const w = new ViewWorld(seed, { swapIntervalMs, ...(neighbourTimeoutMs !== undefined ? { neighbourTimeoutMs } : {}) }, links)
  w.joinWave(n, GAP_MS)
  const joinWindow = n * GAP_MS
  const joinS = until(w, () => w.now >= joinWindow && connected(w))
  w.run(w.now + settleS * 1000)
  const joinDialsPerAgent = w.dials / n
  const joinDialsByType = Object.fromEntries(TYPES.map(t => [t, round(w.dialsBy(t) / n)]).filter(([, v]) => v !== 0))
  const before = w.sent
  const dialsBefore = w.dials
  const swapsBefore = w.count('swap')
  const typesBefore = TYPES.map(t => w.count(t))
  w.run(w.now + restS * 1000)
  const restMsgsPerAgentS = (w.sent - before) / n / restS
  const restSwapsPerAgentMin = (w.count('swap') - swapsBefore) / n / (restS / 60)
  const restOpenedPerAgentMin = (w.dials - dialsBefore) / n / (restS / 60)
  const settled = w.views()
  const activeMin = Math.min(...w.live().map(id => w.agents.get(id)?.activeView().length ?? 0))
  const live = w.live()
  // 10% at once, by a seeded shuffle of the agents (the seeds among them if drawn).
  const crashed = [...live].sort(() => w.random() - 0.5).slice(0, Math.floor(n / 10))
  for (const id of crashed) w.crash(id)
  const repairS = until(w, () => w.views().deadNamed.length === 0 && connected(w))
  const after = w.views()
  return {
    n,
    activeMean: round(settled.mean),
    activeMax: settled.max,
    joinS,
    joinDialsPerAgent: round(joinDialsPerAgent),
    activeMin,
    restMsgsPerAgentS: round(restMsgsPerAgentS),
    restSwapsPerAgentMin: Math.round(restSwapsPerAgentMin * 1000) / 1000,
    restOpenedPerAgentMin: Math.round(restOpenedPerAgentMin * 1000) / 1000,
    oneSided: settled.asymmetric.length,
    ...(byType ? { restByType: Object.fromEntries(TYPES.map((t, i) => [t, w.count(t) - typesBefore[i]])), joinDialsByType } : {}),
    crashed: crashed.length,
    repairS,
    activeMeanAfter: round(after.mean),
    wallS: round((Date.now() - started) / 1000),
    heapMiB: Math.round(process.memoryUsage().heapUsed / 2 ** 20)
  }
}

function round (x: number): number { return Math.round(x * 100) / 100 }

if (!jsonOnly) {
  const late = links.late > 0 ? `, ${links.late * 100}% of messages 1-${links.lateMs / 1000} s late` : ''
  console.log(`bench:views seed ${seed}, sizes ${sizes.join(', ')}; links 1-10 ms${late}, ${links.inOrder ? 'in order' : 'in no order'}, joins ${GAP_MS} ms apart through three seeds${links.shell ? ', the shell\'s member view' : ''}`)
  console.log('agents  connections min/mean/max  one-sided  join: one connected graph  join: opened/agent  msgs/agent/s at rest  opened/agent/min at rest  swaps/agent/min  10% crashed: repaired in  mean after  wall  heap')
}
for (const n of sizes) {
  const r = runOne(n)
  if (jsonOnly) { console.log(JSON.stringify(r)); continue }
  const s = (x: number | null): string => x === null ? `> ${LIMIT_MS / 1000} s` : `${x.toFixed(2)} s`
  if (r.restByType !== undefined) console.log(`        at rest, by type: ${JSON.stringify(r.restByType)}`)
  if (r.joinDialsByType !== undefined) console.log(`        join: opened/agent by the message that opened it: ${JSON.stringify(r.joinDialsByType)}`)
  console.log(`${String(r.n).padStart(6)}  ${`${r.activeMin} / ${r.activeMean} / ${r.activeMax}`.padStart(26)}  ${String(r.oneSided).padStart(9)}  ${s(r.joinS).padStart(25)}  ${r.joinDialsPerAgent.toFixed(2).padStart(18)}  ${r.restMsgsPerAgentS.toFixed(2).padStart(20)}  ${r.restOpenedPerAgentMin.toFixed(3).padStart(24)}  ${r.restSwapsPerAgentMin.toFixed(3).padStart(15)}  ${`${r.crashed}: ${s(r.repairS)}`.padStart(25)}  ${String(r.activeMeanAfter).padStart(10)}  ${r.wallS} s  ${r.heapMiB} MiB`)
}
