/**
 * `npm run build:browser`: bundles dist/node/browser.js (node/browser.ts, compiled by tsc) with
 * esbuild into dist/browser/agentmesh.js, one ES module a page loads with <script type="module">.
 *
 * The bundle composes the same protocols as a Node node; what Node.js alone has is replaced at
 * bundle time, in three ways, each listed here:
 * - a module with a browser twin (`x.browser.ts` beside `x.ts`, the convention of package.json's
 *   "browser" field) is bundled as its twin: the version, the AEAD, the machine's size, the logs,
 *   the polyfills (the debug endpoint and the gateway need none: they are in surfaces/, which the
 *   runtime does not import);
 * - each Node built-in the protocols import is bundled as its stand-in in ./builtins/: crypto,
 *   events and perf_hooks work on the web's own APIs; fs, fs/promises and path throw CFG001
 *   when called: only files use them, through settings the browser entry refuses;
 * - `Buffer` is the `buffer` package, bound where code uses it (esbuild's inject, no global), and
 *   prom-client, which only the debug endpoint's /metrics reads, keeps its classes inert; zod
 *   keeps its English messages only (./zod-locales.ts); Ed25519 signs and verifies synchronously,
 *   as in Node (ED25519_SYNC below).
 * A Node built-in with no stand-in fails the build, naming the file that imports it.
 */
import { build, type Metafile, type Plugin } from 'esbuild'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const HERE = join(DIST, 'node', 'browser')

/** Node built-ins reached from the browser graph, and the stand-in bundled for each. */
export const BUILTINS: Record<string, string> = {
  crypto: 'crypto.js',
  events: 'events.js',
  perf_hooks: 'perf-hooks.js',
  fs: 'fs.js',
  'fs/promises': 'fs-promises.js',
  path: 'path.js'
}

/** Packages of the Node graph replaced in the browser one. */
export const PACKAGES: Record<string, string> = {
  'prom-client': 'prom-client.js'
}

/** zod's index of locales, where its APIs import it (z.locales, z.core.locales): English only (./zod-locales.ts). */
const ZOD_LOCALES = /node_modules\/zod\/v4\/(classic\/external|core\/index)\.js$/

/**
 * @libp2p/crypto's Ed25519 in a browser signs and verifies through WebCrypto, asynchronously; the
 * protocols sign and check election votes and envelope signatures synchronously, as Node's crypto
 * does (a promise there reads as a bad signature). Its own pure-JS functions (@noble/curves) are
 * synchronous: the browser bundle's Ed25519 keys use those.
 */
const ED25519_KEY = /node_modules\/@libp2p\/crypto\/dist\/src\/keys\/ed25519\/ed25519\.js$/
const ED25519_SYNC = 'ed25519-sync'

/**
 * Loaded only by code a browser node never runs (libp2p's Prometheus metrics, for a debug
 * endpoint): left as a dynamic import, never fetched.
 */
const NEVER_LOADED = ['@libp2p/prometheus-metrics']

function browserPlugin (): Plugin {
  return {
    name: 'agentmesh-browser',
    setup (b) {
      b.onResolve({ filter: /^(node:)?[a-z0-9_/-]+$/ }, (args) => {
        const name = args.path.replace(/^node:/, '')
        const builtin = BUILTINS[name]
        if (builtin !== undefined) return { path: join(HERE, 'builtins', builtin) }
        const pkg = PACKAGES[name]
        if (pkg !== undefined) return { path: join(HERE, pkg) }
        if (args.path.startsWith('node:')) {
          return { errors: [{ text: `${args.path} has no browser stand-in (tools/build-browser.ts BUILTINS); imported by ${args.importer}` }] }
        }
        return undefined
      })
      b.onResolve({ filter: /^\.\/index\.js$/ }, (args) => {
        if (!ED25519_KEY.test(args.importer)) return undefined
        return { path: join(dirname(args.importer), 'index.browser.js'), namespace: ED25519_SYNC }
      })
      b.onLoad({ filter: /.*/, namespace: ED25519_SYNC }, (args) => ({
        resolveDir: dirname(args.path),
        contents: 'export * from "./index.browser.js"\n' +
          'export { hashAndSignNoble as hashAndSign, hashAndVerifyNoble as hashAndVerify } from "./index.browser.js"\n'
      }))
      // A module of ours with a browser twin is bundled as the twin.
      b.onResolve({ filter: /^\.\.?\/.*\.js$/ }, (args) => {
        if (args.path === '../locales/index.js' && ZOD_LOCALES.test(args.importer)) return { path: join(HERE, 'zod-locales.js') }
        if (!args.importer.startsWith(DIST)) return undefined
        const twin = resolve(args.resolveDir, args.path).replace(/\.js$/, '.browser.js')
        return existsSync(twin) ? { path: twin } : undefined
      })
    }
  }
}

export interface BrowserBuild {
  /** The bundle's path. */
  file: string
  bytes: number
  /** Every file bundled, by path relative to the repository (esbuild's metafile inputs). */
  inputs: string[]
  /** Bytes of the bundle per package (node_modules/<name>) or folder of ours, largest first. */
  shares: Array<[string, number]>
}

/** Bundle the browser entry into `outfile` (default dist/browser/agentmesh.js). */
export async function buildBrowser (options: { outfile?: string, minify?: boolean } = {}): Promise<BrowserBuild> {
  const outfile = options.outfile ?? join(DIST, 'browser', 'agentmesh.js')
  const version = JSON.parse(readFileSync(join(DIST, '..', 'package.json'), 'utf8')).version as string
  const result = await build({
    entryPoints: [join(DIST, 'node', 'browser.js')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    outfile,
    sourcemap: true,
    minify: options.minify ?? false,
    metafile: true,
    logLevel: 'warning',
    absWorkingDir: join(DIST, '..'),
    external: NEVER_LOADED,
    inject: [join(HERE, 'globals.js')],
    define: { AGENTMESH_BUILD_VERSION: JSON.stringify(version) },
    plugins: [browserPlugin()]
  })
  const meta = result.metafile as Metafile
  const out = Object.entries(meta.outputs).find(([path]) => path.endsWith('.js'))
  const shares = new Map<string, number>()
  for (const [input, { bytesInOutput }] of Object.entries(out?.[1].inputs ?? {})) {
    const owner = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(input)?.[1] ?? input.split('/').slice(0, 3).join('/')
    shares.set(owner, (shares.get(owner) ?? 0) + bytesInOutput)
  }
  return { file: outfile, bytes: out?.[1].bytes ?? 0, inputs: Object.keys(meta.inputs), shares: [...shares].sort((a, b) => b[1] - a[1]) }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // --minify: a smaller bundle (names kept short, harder to debug); --sizes: what takes the room.
  const minify = process.argv.includes('--minify')
  buildBrowser({ minify }).then((b) => {
    console.log(`${b.file}: ${(b.bytes / 1024).toFixed(0)} KiB, ${b.inputs.length} modules`)
    if (process.argv.includes('--sizes')) for (const [owner, bytes] of b.shares.slice(0, 15)) console.log(`  ${(bytes / 1024).toFixed(0).padStart(5)} KiB  ${owner}`)
  }, (err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  })
}
