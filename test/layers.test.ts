/**
 * The layer rule and the file sizes, read from the TypeScript sources (this file runs from
 * dist/test; the sources are two folders up). Layers run one way:
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

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..')
const FOLDERS = ['node', 'protocols', 'discovery']
const MAX_LINES = 400

/** Every .ts file under the layered folders, as a path from the repository root with '/'. */
function sources (): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(ROOT, dir))) {
      const path = `${dir}/${name}`
      if (statSync(join(ROOT, path)).isDirectory()) walk(path)
      else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path)
    }
  }
  for (const f of FOLDERS) walk(f)
  return out
}

/** The local files a source imports (static, side-effect, re-export and dynamic imports). */
function localImports (file: string): string[] {
  const text = readFileSync(join(ROOT, file), 'utf8')
  const specs = [...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]|(?:^|\n)\s*import\s+['"]([^'"]+)['"]|\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)]
    .map(m => m[1] ?? m[2] ?? m[3] ?? '')
  return specs.filter(s => s.startsWith('.')).map(s => relative(ROOT, resolve(ROOT, dirname(file), s)).split(sep).join('/'))
}

/** The layer a file belongs to: protocols/<name>, discovery or node. */
function folder (file: string): string {
  const parts = file.split('/')
  return parts[0] === 'protocols' ? `protocols/${parts[1]}` : parts[0]
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
  discovery: 3,
  'protocols/coordination': 4,
  'protocols/resource': 4,
  'protocols/task': 4,
  'protocols/negotiation': 4,
  'protocols/monitoring': 4,
  'protocols/learning': 4,
  node: 5
}

/** The rule an import from `from` to `to` breaks, if any. */
function broken (from: string, to: string): string | undefined {
  const a = folder(from)
  const b = folder(to)
  if (a === b) return undefined
  if (a !== 'node' && b === 'node') return 'nothing in protocols/ or protocols/discovery/ imports node/'
  if (a === 'protocols/core') return 'protocols/core imports no other local folder'
  if (a === 'protocols/envelope' && b !== 'protocols/core') return 'protocols/envelope imports only protocols/core'
  if (a === 'protocols/admission' && b !== 'protocols/core') return 'protocols/admission imports only protocols/core'
  if (a === 'protocols/sealing' && b !== 'protocols/core') return 'protocols/sealing imports only protocols/core'
  if (a === 'protocols/resource' && b === 'protocols/task') return 'resource never imports task (task may import resource)'
  const ra = RANK[a]
  const rb = RANK[b]
  if (ra === undefined || rb === undefined) return `${ra === undefined ? a : b} is in no layer: add it to RANK in test/layers.test.ts`
  if (rb > ra) return `layers run one way: ${a} (layer ${ra}) may not import ${b} (layer ${rb})`
  return undefined
}

test('layers: every import in node/, protocols/ and protocols/discovery/ runs down the layers', () => {
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

test('layers: the rule itself catches what it should', () => {
  assert.match(broken('protocols/rpc/index.ts', 'node/stats.js') ?? '', /imports node/)
  assert.match(broken('protocols/discovery/members.ts', 'node/log.js') ?? '', /imports node/)
  assert.match(broken('protocols/core/errors.ts', 'protocols/envelope/schema.js') ?? '', /core imports no other/)
  assert.match(broken('protocols/envelope/codec.ts', 'protocols/rpc/frames.js') ?? '', /envelope imports only/)
  assert.match(broken('protocols/resource/index.ts', 'protocols/task/schemas.js') ?? '', /resource never imports task/)
  assert.match(broken('protocols/pubsub/index.ts', 'protocols/discovery/card.js') ?? '', /one way/)
  assert.equal(broken('protocols/task/index.ts', 'protocols/resource/index.js'), undefined)
  assert.match(broken('protocols/sealing/box.ts', 'protocols/pubsub/index.js') ?? '', /sealing imports only/)
  assert.equal(broken('protocols/pubsub/index.ts', 'protocols/sealing/index.js'), undefined)
  assert.equal(broken('node/agent-node.ts', 'protocols/core/errors.js'), undefined)
  assert.deepEqual(localImports('node/index.ts').filter(f => f.startsWith('node/')).sort().slice(0, 1), ['node/agent-node.js'])
})

test(`file sizes: no file in node/, protocols/, protocols/discovery/ over ${MAX_LINES} lines`, () => {
  const over = sources()
    .map(file => ({ file, lines: readFileSync(join(ROOT, file), 'utf8').replace(/\n$/, '').split('\n').length }))
    .filter(f => f.lines > MAX_LINES)
    .map(f => `${f.file}: ${f.lines} lines`)
  assert.deepEqual(over, [], `files over ${MAX_LINES} lines (split them by concern):\n  ${over.join('\n  ')}`)
})
