/**
 * node --expose-gc dist/bench/memory.js [--agents 20[,40,...]] [--snapshots DIR] [--preset lan] [--settle 15]
 *
 * What one more agent costs in memory, and where it goes (issue 15: ≤ 5 MiB per extra agent in a
 * process). One process: a first agent (code loaded and compiled, every module's caches made),
 * then `--agents` more bootstrapping from it, in an open mesh on 127.0.0.1. After each step the
 * mesh settles, the heap is collected and the process's memory is read: RSS, V8 heap, memory
 * outside it (Buffers, WebAssembly). The figure per extra agent is the growth from one agent to
 * all, divided by the agents added, so the first agent's share of compiled code is not in it
 * (bench:scale divides RSS less the process's own by every agent, the first included).
 * `--agents 20,40,80`: steps, each reading taken once the process holds that many extra agents;
 * besides the growth from one agent, each step after the first prints the growth from the step
 * before divided by the agents added in it: what one more agent costs in a process that holds
 * many already, where V8's young generation (up to 32 MiB, grown once per process: 0.8 MiB of
 * the per-agent figure at 40 agents) has reached its size and is no longer charged to the agents.
 * `--snapshots DIR` writes a V8 heap snapshot after each step and prints what grew most between
 * the first and the last, by constructor: self size in the heap, per extra agent. `--again S`: one more reading (and
 * snapshot) S seconds later with the same agents, and what grew in that time (what an idle mesh
 * keeps piling up: a leak grows there, a cost per agent does not).
 */
import '../node/polyfills.js'
import { readFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { benchArgs } from './args.js'
import { getHeapSpaceStatistics, getHeapStatistics, writeHeapSnapshot } from 'node:v8'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'

const { values: args } = benchArgs({
  options: {
    agents: { type: 'string', default: '20' },
    snapshots: { type: 'string' },
    preset: { type: 'string', default: 'local' },
    settle: { type: 'string', default: '15' },
    top: { type: 'string', default: '25' },
    again: { type: 'string', default: '0' }
  }
})
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) { console.error('run with node --expose-gc'); process.exit(2) }
const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const MiB = (b: number): number => Math.round(b / 2 ** 20 * 10) / 10

interface Reading { rss: number, heapUsed: number, heapTotal: number, malloced: number, external: number, arrayBuffers: number, spaces: Record<string, number> }
async function read (): Promise<Reading> {
  for (let i = 0; i < 3; i++) { gc?.(); await sleep(100) }
  const m = process.memoryUsage()
  // Each V8 space's memory in RAM (what RSS sees of the heap), beside what live objects use.
  const spaces = Object.fromEntries(getHeapSpaceStatistics().map(s => [s.space_name.replace(/_space$/, ''), s.physical_space_size]))
  // V8's own memory outside the heap (compilers' zones, tables).
  const malloced = getHeapStatistics().malloced_memory
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, malloced, external: m.external, arrayBuffers: m.arrayBuffers, spaces }
}

/** Self size by constructor (object nodes) or by node type (strings, code, arrays...). */
function byConstructor (file: string): Map<string, { size: number, count: number }> {
  const snap = JSON.parse(readFileSync(file, 'utf8')) as { snapshot: { meta: { node_fields: string[], node_types: [string[]] } }, nodes: number[], strings: string[] }
  const fields = snap.snapshot.meta.node_fields
  const types = snap.snapshot.meta.node_types[0]
  const [T, N, S] = ['type', 'name', 'self_size'].map(f => fields.indexOf(f))
  const out = new Map<string, { size: number, count: number }>()
  for (let i = 0; i < snap.nodes.length; i += fields.length) {
    const type = types[snap.nodes[i + T]]
    const key = type === 'object' || type === 'closure' ? `${type}:${snap.strings[snap.nodes[i + N]]}` : `(${type})`
    const e = out.get(key) ?? { size: 0, count: 0 }
    e.size += snap.nodes[i + S]
    e.count++
    out.set(key, e)
  }
  return out
}

const counts = args.agents.split(',').map(Number)
if (counts.some((n, i) => !Number.isInteger(n) || n < 1 || (i > 0 && n <= counts[i - 1]))) { console.error('--agents: rising whole numbers, such as 20 or 20,40,80'); process.exit(2) }
const mesh = `mem${process.pid}`
const agents: AgentNode[] = []
const make = async (i: number, bootstrap?: string): Promise<AgentNode> => {
  const node = await createAgentNode({
    mesh,
    name: `m${i}`,
    preset: args.preset as 'local',
    mdns: false,
    security: { mode: 'open' },
    logLevel: 'silent',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    ...(bootstrap !== undefined ? { bootstrap: [bootstrap] } : {})
  })
  await node.start()
  agents.push(node)
  return node
}

const steps: Array<{ agents: number, r: Reading, snapshot?: string }> = []
const step = async (): Promise<void> => {
  await sleep(Number(args.settle) * 1000)
  const r = await read()
  let snapshot: string | undefined
  if (args.snapshots !== undefined) {
    await mkdir(args.snapshots, { recursive: true })
    snapshot = writeHeapSnapshot(join(args.snapshots, `step-${steps.length}-agents-${agents.length}.heapsnapshot`))
  }
  steps.push({ agents: agents.length, r, snapshot })
  const alive = agents.map(a => a.members().filter(m => m.state === 'alive').length)
  console.log(`${agents.length} agents: rss ${MiB(r.rss)} MiB, heap ${MiB(r.heapUsed)} used of ${MiB(r.heapTotal)} (${Object.entries(r.spaces).map(([k, v]) => `${k} ${MiB(v)}`).join(', ')}), V8 malloced ${MiB(r.malloced)}, external ${MiB(r.external)} (array buffers ${MiB(r.arrayBuffers)}); members alive seen: min ${Math.min(...alive)}, connections ${agents.reduce((n, a) => n + a.libp2p.getConnections().length, 0)}`)
}

const base = await read()
console.log(`no agent: rss ${MiB(base.rss)} MiB, heap ${MiB(base.heapUsed)}, external ${MiB(base.external)}`)
const first = await make(0)
await step()
for (const total of counts) {
  for (let i = agents.length; i <= total; i++) { await make(i, first.addresses()[0]); await sleep(30) }
  await step()
}
const growth = (x: Reading, y: Reading, n: number): string => {
  const per = (k: Exclude<keyof Reading, 'spaces'>): number => MiB((y[k] - x[k]) / n)
  return `rss ${per('rss')} MiB, heap ${per('heapUsed')} used, ${per('heapTotal')} held, V8 malloced ${per('malloced')}, external ${per('external')} (array buffers ${per('arrayBuffers')})`
}
console.log('')
for (let i = 1; i < steps.length; i++) {
  const extra = steps[i].agents - 1
  console.log(`per extra agent (${extra} added to one): ${growth(steps[0].r, steps[i].r, extra)}`)
  if (i > 1) console.log(`  from ${steps[i - 1].agents} agents to ${steps[i].agents}, per agent added: ${growth(steps[i - 1].r, steps[i].r, steps[i].agents - steps[i - 1].agents)}`)
}
const [a, b] = [steps[0], steps[steps.length - 1]]
const extra = b.agents - 1
console.log(`the first agent: rss ${MiB(a.r.rss - base.rss)} MiB, heap ${MiB(a.r.heapUsed - base.heapUsed)}`)

const diff = (from: string, to: string, divide: number, title: string): void => {
  const [x, y] = [byConstructor(from), byConstructor(to)]
  const grew = [...y].map(([k, v]) => ({ k, size: v.size - (x.get(k)?.size ?? 0), count: v.count - (x.get(k)?.count ?? 0) })).sort((p, q) => q.size - p.size)
  console.log(`\n${title} (self size in the V8 heap; Buffers' bytes are outside it):`)
  for (const g of grew.slice(0, Number(args.top))) console.log(`${(g.size / divide / 1024).toFixed(1).padStart(9)} KiB  ${String(Math.round(g.count / divide)).padStart(7)} objects  ${g.k}`)
}
if (a.snapshot !== undefined && b.snapshot !== undefined) diff(a.snapshot, b.snapshot, extra, 'grew most, per extra agent')
if (Number(args.again) > 0) {
  args.settle = args.again
  await step()
  const c = steps[steps.length - 1]
  console.log(`after ${args.again} s more: rss ${MiB(c.r.rss - b.r.rss)} MiB, heap ${MiB(c.r.heapUsed - b.r.heapUsed)} (whole process)`)
  if (b.snapshot !== undefined && c.snapshot !== undefined) diff(b.snapshot, c.snapshot, 1, `grew most in those ${args.again} s, whole process`)
}
await Promise.all(agents.map(async n => { await n.stop() }))
