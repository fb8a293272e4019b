/**
 * node dist/bench/heap-paths.js SNAPSHOT NAME [--samples 5] [--depth 8] [--before OLDER]
 *
 * Who holds the objects named NAME (a constructor, `Listener`, or a node type in parentheses,
 * `(string)`) in a V8 heap snapshot (bench/memory.ts --snapshots writes them): for a few of them,
 * the chain of retainers towards the roots, each hop as `holder.edge`. With `--before OLDER`,
 * only objects whose ids are not in the older snapshot of the same process: what was added
 * between the two. How bench/memory.ts's "grew most" lines were traced to their owners.
 * NAME `*`: every object. `--owners A,B,C`: instead of paths, each matched object's self size
 * charged to the nearest holder (up to --depth hops) whose name is one of A, B, C, the rest to
 * "(none)": a rough split of a heap by owner (the first path found, not the dominator tree).
 */
import { readFileSync } from 'node:fs'
import { benchArgs } from './args.js'

const { values: args, positionals } = benchArgs({
  allowPositionals: true,
  options: { samples: { type: 'string', default: '5' }, depth: { type: 'string', default: '8' }, before: { type: 'string' }, owners: { type: 'string' } }
})
const [file, name] = positionals
if (file === undefined || name === undefined) { console.error('usage: heap-paths SNAPSHOT NAME [--samples N] [--depth N] [--before OLDER]'); process.exit(2) }

interface Snapshot {
  snapshot: { meta: { node_fields: string[], node_types: [string[]], edge_fields: string[], edge_types: [string[]] } }
  nodes: number[]
  edges: number[]
  strings: string[]
}
const load = (f: string): Snapshot => JSON.parse(readFileSync(f, 'utf8')) as Snapshot
const snap = load(file)
const meta = snap.snapshot.meta
const NF = meta.node_fields.length
const EF = meta.edge_fields.length
const [T, N, ID, EC, S] = ['type', 'name', 'id', 'edge_count', 'self_size'].map(f => meta.node_fields.indexOf(f))
const [ET, EN, TO] = ['type', 'name_or_index', 'to_node'].map(f => meta.edge_fields.indexOf(f))
const nodeTypes = meta.node_types[0]
const edgeTypes = meta.edge_types[0]
const count = snap.nodes.length / NF
const label = (i: number): string => {
  const type = nodeTypes[snap.nodes[i * NF + T]]
  const n = snap.strings[snap.nodes[i * NF + N]]
  return type === 'object' || type === 'closure' ? `${n}` : `(${type})${type === 'string' ? ' "' + n.slice(0, 40) + '"' : ''}`
}

// Reverse edges: for each node, who points to it and by which edge (weak edges do not retain).
const holders: Array<Array<[number, string]>> = Array.from({ length: count }, () => [])
let e = 0
for (let i = 0; i < count; i++) {
  const edges = snap.nodes[i * NF + EC]
  for (let k = 0; k < edges; k++, e += EF) {
    const type = edgeTypes[snap.edges[e + ET]]
    if (type === 'weak' || type === 'shortcut') continue
    const to = snap.edges[e + TO] / NF
    const en = snap.edges[e + EN]
    holders[to].push([i, type === 'element' || type === 'hidden' ? `[${en}]` : String(snap.strings[en])])
  }
}

let older: Set<number> | undefined
if (args.before !== undefined) {
  const o = load(args.before)
  const onf = o.snapshot.meta.node_fields.length
  const oid = o.snapshot.meta.node_fields.indexOf('id')
  older = new Set<number>()
  for (let i = 0; i < o.nodes.length; i += onf) older.add(o.nodes[i + oid])
}

const wanted = name === '*' ? (): boolean => true : name.startsWith('(') ? (i: number): boolean => `(${nodeTypes[snap.nodes[i * NF + T]]})` === name : (i: number): boolean => snap.strings[snap.nodes[i * NF + N]] === name && ['object', 'closure'].includes(nodeTypes[snap.nodes[i * NF + T]])
const matches: number[] = []
for (let i = 0; i < count; i++) if (wanted(i) && (older === undefined || !older.has(snap.nodes[i * NF + ID]))) matches.push(i)
console.log(`${matches.length} objects ${name}${older !== undefined ? ' added since the older snapshot' : ''}`)

if (args.owners !== undefined) {
  const owners = new Set(args.owners.split(','))
  const charged = new Map<string, { size: number, count: number }>()
  for (const m of matches) {
    let at = m
    let owner = '(none)'
    const seen = new Set([at])
    for (let d = 0; d <= Number(args.depth); d++) {
      if (owners.has(snap.strings[snap.nodes[at * NF + N]])) { owner = snap.strings[snap.nodes[at * NF + N]]; break }
      const next = holders[at].find(([h]) => !seen.has(h) && nodeTypes[snap.nodes[h * NF + T]] !== 'synthetic')
      if (next === undefined) break
      seen.add(next[0])
      at = next[0]
    }
    const c = charged.get(owner) ?? { size: 0, count: 0 }
    c.size += snap.nodes[m * NF + S]
    c.count++
    charged.set(owner, c)
  }
  for (const [k, v] of [...charged].sort((a, b) => b[1].size - a[1].size)) console.log(`${(v.size / 1024).toFixed(0).padStart(9)} KiB ${String(v.count).padStart(8)} objects  ${k}`)
  process.exit(0)
}

// A path: follow the first holder not yet seen, skipping the snapshot's synthetic roots' detours.
const step = Math.max(1, Math.floor(matches.length / Number(args.samples)))
const counts = new Map<string, number>()
for (let s = 0; s < matches.length; s++) {
  const path: string[] = []
  let at = matches[s]
  const seen = new Set([at])
  for (let d = 0; d < Number(args.depth); d++) {
    const next = holders[at].find(([h]) => !seen.has(h) && nodeTypes[snap.nodes[h * NF + T]] !== 'synthetic')
    if (next === undefined) break
    path.push(`${label(next[0])}.${next[1]}`)
    seen.add(next[0])
    at = next[0]
  }
  // Grouped with element indices and map slots left out: one owner, whatever the slot.
  const key = path.join(' <- ').replace(/\.\d+\b|\[\d+\]/g, '[n]')
  counts.set(key, (counts.get(key) ?? 0) + 1)
  if (s % step === 0 && s / step < Number(args.samples)) console.log(`\n${label(matches[s])} <- ${path.join(' <- ')}`)
}
console.log('\nmost common paths:')
for (const [k, v] of [...counts].sort((a, b) => b[1] - a[1]).slice(0, 8)) console.log(`${String(v).padStart(7)}  ${k.slice(0, 400)}`)
