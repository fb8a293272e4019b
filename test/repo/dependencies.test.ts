/**
 * package.json lists what is used, where it is used (issue 41): every entry of `dependencies` is
 * loaded at run time by the shipped code (dist/node, dist/protocols, dist/surfaces, as package.json's "files": static and
 * dynamic imports, and a package loaded by name, as pino-pretty is through createRequire), and
 * every entry of `devDependencies` by the tests, benchmarks, tools or examples, the lint config,
 * or the scripts (a compiler, a linter, type packages). The reverse (shipped code imports only
 * `dependencies`) is test/repo/docker.test.ts's.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import semver from 'semver'
import { DIST } from '../helpers.js'

const ROOT = join(DIST, '..')
const SHIPPED = ['node', 'protocols', 'surfaces']
const DEV_FOLDERS = ['test', 'harness', 'bench', 'tools', 'examples']
/** Dev packages used as commands of package.json's scripts, not imported. */
const COMMANDS: Record<string, string> = { typescript: 'tsc', eslint: 'eslint' }

/** The packages `js` loads: import ... from, import(), bare import, require() and createRequire(...)(). Comments left out. */
function packagesOf (js: string): string[] {
  const code = js.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '')
  const names: string[] = []
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\)\(\s*)['"]((?:@[\w.-]+\/)?[\w.-]+(?:\/[\w./-]*)?)['"]/g)) {
    const spec = m[1]
    if (spec.startsWith('.') || spec.startsWith('node:')) continue
    names.push(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0])
  }
  return names
}

async function packagesIn (folder: string, ext: RegExp): Promise<Set<string>> {
  const found = new Set<string>()
  for (const file of await readdir(folder, { recursive: true })) {
    if (ext.test(file)) for (const name of packagesOf(await readFile(join(folder, file), 'utf8'))) found.add(name)
  }
  return found
}

test('every dependency is loaded by the shipped code, every devDependency by tests, benchmarks, tools, examples or scripts', { timeout: 3 * 60_000 }, async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { dependencies: Record<string, string>, devDependencies: Record<string, string>, scripts: Record<string, string> }
  const shipped = new Set<string>()
  for (const folder of SHIPPED) for (const name of await packagesIn(join(DIST, folder), /\.js$/)) shipped.add(name)
  const unused = Object.keys(pkg.dependencies).filter(d => !shipped.has(d))
  assert.deepEqual(unused, [], 'in "dependencies" but loaded by no shipped file')

  // The sources, not dist: a type-only import of a dev package (the tests' types) counts as a use.
  const dev = new Set<string>()
  for (const folder of DEV_FOLDERS) for (const name of await packagesIn(join(ROOT, folder), /\.(ts|js|mjs)$/)) dev.add(name)
  for (const name of packagesOf(await readFile(join(ROOT, 'eslint.config.js'), 'utf8'))) dev.add(name)
  // The browser bundle's own modules: tools/build-browser.ts bundles what they import (the 'buffer' package) at build time.
  for (const name of await packagesIn(join(ROOT, 'node', 'browser'), /\.ts$/)) dev.add(name)
  const scripts = Object.values(pkg.scripts).join('\n')
  const unusedDev = Object.keys(pkg.devDependencies).filter(d =>
    !dev.has(d) && !d.startsWith('@types/') && !(COMMANDS[d] !== undefined && new RegExp(`\\b${COMMANDS[d]}\\b`).test(scripts)))
  assert.deepEqual(unusedDev, [], 'in "devDependencies" but used by no test, benchmark, tool, example or script')
  // 'buffer' is Node's own module to the shipped code; the package is bound only in the browser bundle (node/browser/globals.ts, built by esbuild).
  const shippedDev = Object.keys(pkg.devDependencies).filter(d => shipped.has(d) && d !== 'buffer')
  assert.deepEqual(shippedDev, [], 'in "devDependencies" but loaded by shipped code (the image installs --omit=dev)')
})

// Issue 44: `npm ci` warned EBADENGINE on Node 20 (a development dependency wanted Node 22), and
// package.json said ">=20" while @noble/* want 20.19 and neostandard 22.13 on the 22 line. Every
// Node that package.json's engines admits must satisfy every locked package's engines, so no
// `npm ci` on a Node we say we support prints the warning.
test('package.json\'s engines admit only Node versions every locked package accepts (npm ci prints no EBADENGINE)', { timeout: 60_000 }, async () => {
  const pkg = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { engines: { node: string } }
  const lock = JSON.parse(await readFile(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { engines?: { node?: string } | string[] }> }
  const ours = pkg.engines.node
  const refused: string[] = []
  let checked = 0
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Old packages wrote engines as an array of strings, which npm does not check.
    const range = Array.isArray(entry.engines) ? undefined : entry.engines?.node
    if (path === '' || range === undefined) continue
    checked++
    if (!semver.subset(ours, range)) refused.push(`${path.replace(/^.*node_modules\//, '')} wants ${range}`)
  }
  assert.ok(checked > 100, `only ${checked} locked packages name a Node version`)
  assert.deepEqual(refused, [], `engines ${ours} admits Node versions these refuse`)
  assert.ok(semver.satisfies(process.version, ours), `this Node (${process.version}) is outside engines ${ours}`)
})
