/**
 * The layer rule and the file sizes, read from the TypeScript sources (this file runs from
 * dist/test/repo; the sources are three folders up). Layers run one way:
 *   protocols/core -> protocols/envelope, protocols/admission -> protocols/sealing -> protocols/rpc, protocols/pubsub -> protocols/delivery -> discovery
 *   -> the other protocols (coordination, resource, task, negotiation, monitoring, learning) -> node
 * Nothing in protocols/ or protocols/discovery/ imports node/; protocols/core imports no other local
 * folder; protocols/envelope only core; task may import resource, never the reverse.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..')
const FOLDERS = ['node', 'protocols', 'surfaces']
/** A file over WARN_LINES is reported (a diagnostic, not a failure); over MAX_LINES it fails. */
const WARN_LINES = 400
const MAX_LINES = 800
/** The most files one import circle may hold: two files that name each other are one concept cut in two; three or more is a knot. */
const MAX_CIRCLE = 2

/** Every .ts file under the layered folders (or `folders`), as a path from the repository root with '/'. */
function sources (folders = FOLDERS): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = `${dir}/${name}`
      if (statSync(join(ROOT, path)).isDirectory()) walk(path)
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
    }
  }
  for (const f of folders) walk(f)
  return out
}

/** The local files a source imports (static, side-effect, re-export and dynamic imports; `import type` too). */
function localImports (file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map(m => m[1] ?? m[2] ?? m[3] ?? '')
  return specs.filter(s => s.startsWith('.')).map(s => relative(ROOT, resolve(ROOT, dirname(file), s)).split(sep).join('/'))
}

/** The layer a file belongs to: protocols/<name>, node, surfaces/<name>, or surfaces (the package entry and its composition). */
function folder (file: string): string {
  const parts = file.split('/')
  if (parts[0] === 'protocols' || (parts[0] === 'surfaces' && parts.length > 2)) return `${parts[0]}/${parts[1]}`
  return parts[0]
}

const RANK: Record<string, number> = {
  'protocols/core': 0,
  'protocols/envelope': 1,
  'protocols/admission': 1,
  // Between admission and pubsub: pubsub seals and opens through it; it needs only core.
  'protocols/sealing': 1.5,
  'protocols/rpc': 2,
  'protocols/pubsub': 2,
  'protocols/delivery': 2.5,
  'protocols/discovery': 3,
  'protocols/coordination': 4,
  'protocols/resource': 4,
  'protocols/task': 4,
  'protocols/negotiation': 4,
  'protocols/monitoring': 4,
  'protocols/learning': 4,
  node: 5,
  // Above the runtime: what serves a node to those who are not its code. The shared HTTP server
  // and the operations every binding runs; the bindings over them; the CLI and the package's entry
  // (surfaces/index.ts, compose.ts), which put a node and its surfaces together.
  'surfaces/http': 6,
  'surfaces/operations': 6,
  'surfaces/debug': 7,
  'surfaces/gateway': 7,
  'surfaces/mcp': 7,
  'surfaces/cli': 8,
  surfaces: 8
}

/** The rule an import from `from` to `to` breaks, if any. */
function broken (from: string, to: string): string | undefined {
  const a = folder(from)
  const b = folder(to)
  if (a === b) return undefined
  if (!a.startsWith('surfaces') && b.startsWith('surfaces')) return 'nothing in node/ or protocols/ imports surfaces/'
  if (a.startsWith('protocols/') && b === 'node') return 'nothing in protocols/ imports node/'
  if (a === 'protocols/core') return 'protocols/core imports no other local folder'
  if (a === 'protocols/envelope' && b !== 'protocols/core') return 'protocols/envelope imports only protocols/core'
  if (a === 'protocols/admission' && b !== 'protocols/core') return 'protocols/admission imports only protocols/core'
  if (a === 'protocols/sealing' && b !== 'protocols/core') return 'protocols/sealing imports only protocols/core'
  if (a === 'protocols/resource' && b === 'protocols/task') return 'resource never imports task (task may import resource)'
  const ra = RANK[a]
  const rb = RANK[b]
  if (ra === undefined || rb === undefined) return `${ra === undefined ? a : b} is in no layer: add it to RANK in test/repo/layers.test.ts`
  if (rb > ra) return `layers run one way: ${a} (layer ${ra}) may not import ${b} (layer ${rb})`
  return undefined
}

test('layers: every import in node/, protocols/ and surfaces/ runs down the layers', { timeout: 3 * 60_000 }, () => {
  const files = sources()
  assert.ok(files.length > 40, `found the sources at ${ROOT}`)
  const breaks: string[] = []
  for (const file of files) {
    for (const to of localImports(file)) {
      const rule = broken(file, to)
      if (rule !== undefined) breaks.push(`${file} imports ${to.replace(/\.js$/, '.ts')}: ${rule}`)
    }
  }
  assert.deepEqual(breaks, [], `imports that break the layer rule:\n  ${breaks.join('\n  ')}`)
})

test('layers: the rule itself catches what it should', { timeout: 3 * 60_000 }, () => {
  assert.match(broken('protocols/rpc/index.ts', 'node/stats.js') ?? '', /imports node/)
  assert.match(broken('protocols/discovery/members.ts', 'node/log.js') ?? '', /imports node/)
  assert.match(broken('protocols/core/errors.ts', 'protocols/envelope/schema.js') ?? '', /core imports no other/)
  assert.match(broken('protocols/envelope/codec.ts', 'protocols/rpc/frames.js') ?? '', /envelope imports only/)
  assert.match(broken('protocols/resource/index.ts', 'protocols/task/schemas.js') ?? '', /resource never imports task/)
  assert.match(broken('protocols/pubsub/index.ts', 'protocols/discovery/card.js') ?? '', /one way/)
  assert.match(broken('node/agent-node.ts', 'surfaces/gateway/index.js') ?? '', /imports surfaces/)
  assert.match(broken('protocols/delivery/index.ts', 'surfaces/operations/index.js') ?? '', /imports surfaces/)
  assert.match(broken('surfaces/operations/index.ts', 'surfaces/gateway/index.js') ?? '', /one way/)
  assert.match(broken('surfaces/gateway/index.ts', 'surfaces/cli/common.js') ?? '', /one way/)
  assert.equal(broken('surfaces/gateway/index.ts', 'node/agent-node.js'), undefined)
  assert.equal(broken('surfaces/debug/routes.ts', 'surfaces/operations/dead-letters.js'), undefined)
  assert.equal(broken('surfaces/cli/start.ts', 'surfaces/compose.js'), undefined)
  assert.equal(broken('protocols/task/index.ts', 'protocols/resource/index.js'), undefined)
  assert.match(broken('protocols/sealing/box.ts', 'protocols/pubsub/index.js') ?? '', /sealing imports only/)
  assert.equal(broken('protocols/pubsub/index.ts', 'protocols/sealing/index.js'), undefined)
  assert.equal(broken('node/agent-node.ts', 'protocols/core/errors.js'), undefined)
  assert.deepEqual(localImports('node/index.ts').filter(f => f.startsWith('node/')).sort().slice(0, 1), ['node/agent-node.js'])
})

/**
 * The import graph's strongly connected components wider than MAX_CIRCLE files (Tarjan's
 * algorithm over `graph`, each file named as its source with '.ts').
 *
 * `import type` counts as an import here. It is erased from the JavaScript, so a circle of types
 * breaks nothing when the modules load; but the files still name each other, and what the rule
 * guards is the reading, not the loading: no file of a circle can be understood, moved or tested
 * without the others. Counting only imports that load, the check would have found nothing: the
 * node's 26-file circle through the gateway and the debug endpoint (and the 5- and 3-file ones
 * after it) each closed through an `import type`. A type both sides need goes into a file of
 * its own (node/service-types.ts).
 */
function circles (graph: Map<string, string[]>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const visit = (v: string): void => {
    index.set(v, next)
    low.set(v, next)
    next++
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
      }
    }
    if (low.get(v) !== index.get(v)) return
    const component: string[] = []
    let w: string
    do {
      w = stack.pop() as string
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    if (component.length > MAX_CIRCLE) found.push(component.sort())
  }
  for (const v of graph.keys()) if (!index.has(v)) visit(v)
  return found
}

test(`import circles: none in node/, protocols/, surfaces/ holds more than ${MAX_CIRCLE} files`, { timeout: 3 * 60_000 }, () => {
  const graph = new Map(sources().map(file => [file, localImports(file).map(to => to.replace(/\.js$/, '.ts'))]))
  const wide = circles(graph)
  assert.deepEqual(wide, [], `import circles over ${MAX_CIRCLE} files (move what both sides need into a file of its own):\n  ${wide.map(c => `${c.length} files: ${c.join(' -> ')}`).join('\n  ')}`)
})

test('import circles: the check finds what it should', { timeout: 3 * 60_000 }, () => {
  const g = new Map([['a.ts', ['b.ts']], ['b.ts', ['c.ts']], ['c.ts', ['a.ts', 'd.ts']], ['d.ts', ['e.ts']], ['e.ts', ['d.ts']]])
  assert.deepEqual(circles(g), [['a.ts', 'b.ts', 'c.ts']], 'three files in a circle; two that name each other pass')
  assert.deepEqual(circles(new Map([['a.ts', ['b.ts']], ['b.ts', []]])), [])
})

test(`file sizes: no file in node/, protocols/, surfaces/ over ${MAX_LINES} lines; over ${WARN_LINES} reported`, { timeout: 3 * 60_000 }, (t) => {
  const sized = sources().map(file => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').replace(/\n$/, '').split('\n').length }))
  for (const f of sized.filter(f => f.lines > WARN_LINES && f.lines <= MAX_LINES)) {
    t.diagnostic(`${f.file}: ${f.lines} lines (over ${WARN_LINES}: one concept, or two to split by meaning?)`)
  }
  const over = sized.filter(f => f.lines > MAX_LINES).map(f => `${f.file}: ${f.lines} lines`)
  assert.deepEqual(over, [], `files over ${MAX_LINES} lines (split them by concern):\n  ${over.join('\n  ')}`)
})

/**
 * The benchmarks and the tests share a harness (harness/: the simulation's model and fake keys,
 * the fuzz targets, the fault campaign and its network namespaces, child processes, seeded
 * randomness). Both import it; neither it nor bench/ imports test/, whose files are the tests and
 * their own helpers.
 */
test('bench/ and harness/ import nothing from test/', { timeout: 3 * 60_000 }, () => {
  const files = sources(['bench', 'harness'])
  assert.ok(files.some(f => f.startsWith('bench/')) && files.some(f => f.startsWith('harness/')), `found bench/ and harness/ at ${ROOT}`)
  const fromTest: string[] = []
  for (const file of files) {
    const text = readFileSync(join(ROOT, file), 'utf8')
    // Imports, and the paths a file runs or reads (`new URL('../test/fixtures/x.js', import.meta.url)`).
    const urls = [...text.matchAll(/new URL\(\s*['"](\.[^'"]*)['"]\s*,\s*import\.meta\.url/g)].map(m => relative(ROOT, resolve(ROOT, dirname(file), m[1])).split(sep).join('/'))
    for (const to of [...localImports(file), ...urls]) if (to === 'test' || to.startsWith('test/')) fromTest.push(`${file} -> ${to}`)
  }
  assert.deepEqual(fromTest, [], `bench/ or harness/ reaching into test/ (move what both need into harness/):\n  ${fromTest.join('\n  ')}`)
})
