/**
 * node dist/bench/profile-summary.js DIR [MATCH] [--from S] [--to S]: self time by package and by
 * function, as a share of busy (non-idle) CPU, over the .cpuprofile files in DIR (from
 * `node --cpu-prof`, or from `npm run bench -- --profile DIR`). How the figures in
 * docs/benchmarks.md were read. --from/--to keep the samples taken between S seconds after each
 * profile's start (a process's start-up, module loading, is not the phase a bench measures).
 * Also each sample's time under the outermost agentmesh frame of its stack (a file of dist/node,
 * protocols or discovery, with its function), or under the outermost package when no agentmesh
 * frame is on it: which of our parts, with what they called, the busy time went to. And `by
 * part`: the same past our plumbing (a request's handler, not the rpc channel that ran it).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { benchArgs } from './args.js'

interface Profile {
  nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }>
  samples: number[]
  timeDeltas: number[]
}

const { values: opts, positionals } = benchArgs({ allowPositionals: true, options: { from: { type: 'string', default: '0' }, to: { type: 'string', default: 'Infinity' } } })
const dir = positionals[0]
const match = positionals[1] ?? '' // only the files whose name contains it (one phase, one worker)
if (dir === undefined) { console.error('usage: profile-summary DIR [MATCH] [--from S] [--to S]'); process.exit(2) }
const fromUs = Number(opts.from) * 1e6
const toUs = Number(opts.to) * 1e6
const byPkg = new Map<string, number>()
const byFn = new Map<string, number>()
const byOuter = new Map<string, number>()
const byPart = new Map<string, number>()
const OURS = /\/dist\/(node|protocols|discovery)\//
/** Our plumbing: what every message passes through, whoever sent it. `by part` charges a sample past it, to the part that used it. */
const PLUMBING = /\/dist\/(protocols\/(rpc|envelope|core)\/|node\/(stats|adaptations\/|noise-crypto|libp2p-logger))/
let busy = 0
for (const f of readdirSync(dir).filter(f => f.endsWith('.cpuprofile') && f.includes(match))) {
  const p = JSON.parse(readFileSync(`${dir}/${f}`, 'utf8')) as Profile
  const nodes = new Map(p.nodes.map(n => [n.id, n]))
  // A profile taken over the inspector (a bench's phase) ends with the profiler's own work, under
  // inspector's post: not the process's.
  const profiler = new Set(p.nodes.filter(n => n.callFrame.url === 'node:inspector').flatMap(n => n.children ?? []))
  const parent = new Map<number, number>()
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  /** The outermost agentmesh frame of a sample's stack, else its outermost package's. */
  const outer = (id: number): string => {
    let ours: string | undefined
    let pkg: string | undefined
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const cf = nodes.get(at)?.callFrame
      if (cf === undefined) break
      if (OURS.test(cf.url) && !cf.url.includes('node_modules')) ours = `${cf.url.replace(/.*\/dist\//, '')} ${cf.functionName === '' ? '(anonymous)' : cf.functionName}`
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(cf.url)?.[1]
      if (m !== undefined) pkg = `(no agentmesh frame) ${m}`
    }
    return ours ?? pkg ?? '(native or node only)'
  }
  /** The outermost frame of ours that is not plumbing (a file and its function); else the plumbing, else the outermost package. */
  const part = (id: number): string => {
    let ours: string | undefined
    let plumbing: string | undefined
    let pkg: string | undefined
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const cf = nodes.get(at)?.callFrame
      if (cf === undefined) break
      if (OURS.test(cf.url) && !cf.url.includes('node_modules')) {
        const file = cf.url.replace(/.*\/dist\//, '')
        if (PLUMBING.test(cf.url)) plumbing = `(plumbing) ${file}`
        else ours = `${file} ${cf.functionName === '' ? '(anonymous)' : cf.functionName}`
      }
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(cf.url)?.[1]
      if (m !== undefined) pkg = `(package) ${m}`
    }
    return ours ?? plumbing ?? pkg ?? `(native) ${nodes.get(id)?.callFrame.functionName ?? ''}`
  }
  const self = new Map<number, number>()
  let at = 0
  p.samples.forEach((s, i) => {
    at += p.timeDeltas[i] ?? 0
    if (at >= fromUs && at <= toUs) self.set(s, (self.get(s) ?? 0) + (p.timeDeltas[i] ?? 0))
  })
  let fileBusy = 0
  for (const [id, t] of self) {
    const cf = nodes.get(id)?.callFrame
    if (cf === undefined || cf.functionName === '(idle)' || profiler.has(id)) continue
    busy += t
    fileBusy += t
    const url = cf.url.replace(/^file:\/\/.*?\/(node_modules|dist)\//, '$1/')
    const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]
    const pkg = mod ?? (url === '' ? `(native ${cf.functionName})` : url.split('/').slice(0, 3).join('/'))
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + t)
    const fn = `${cf.functionName === '' ? '(anonymous)' : cf.functionName} ${url.split('/').slice(-2).join('/')}:${cf.lineNumber}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + t)
    const o = outer(id)
    byOuter.set(o, (byOuter.get(o) ?? 0) + t)
    const w = part(id)
    byPart.set(w, (byPart.get(w) ?? 0) + t)
  }
  console.log(`${f}: busy ${(fileBusy / 1e6).toFixed(2)} s`)
}
const top = (m: Map<string, number>, n: number): string => [...m].sort((a, b) => b[1] - a[1]).slice(0, n)
  .map(([k, t]) => `${(100 * t / busy).toFixed(2).padStart(6)}%  ${k}`).join('\n')
console.log(`busy CPU ${(busy / 1e6).toFixed(2)} s\n\nby package (share of busy CPU)\n${top(byPkg, 30)}\n\nby function\n${top(byFn, 30)}`)
console.log(`\nunder the outermost agentmesh frame (what it called included)\n${top(byOuter, 30)}`)
console.log(`\nby part: under the outermost agentmesh frame past the plumbing (rpc, envelopes, core, stats, adaptations, Noise's crypto), else the plumbing's, else the package's\n${top(byPart, 45)}`)
