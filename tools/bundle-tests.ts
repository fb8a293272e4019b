/**
 * The suite's test files bundled (test/suite.ts, before it runs them): each file with what it
 * imports, ours and the packages', in a few shared chunks, so that the process node --test
 * starts for a file loads those instead of resolving and compiling ~1,000 modules one by one.
 * The same reason as the CLI's bundle (tools/bundle-cli.ts), for the ~160 processes a run starts
 * for its files: each spent 1.3-1.7 s of CPU loading the compiled modules before its first test,
 * ~200 s of a run's ~1,300 (measured: rpc.test's process loads in 1.3 s of CPU from the bundle,
 * 2.2 s from the modules).
 *
 * What a test sees is the same code: the bundle is made of dist/ as tsc wrote it. What differs,
 * and how it is kept the same:
 * - `import.meta.url` in our modules is their own file's URL in dist/, written in as a string, so
 *   that a module that finds files beside itself (fixtures, package.json, createRequire) finds
 *   them. A module whose source holds the words inside a string would have them rewritten too: the
 *   build fails for one (`import.meta.url` kept for code only).
 * - An import whose path is computed at run time (`import(new URL(x, import.meta.url).href)`)
 *   loads that module from dist/, as a second copy: tests use it only to read what a module exports.
 * - The packages the CLI's bundle leaves out (tools/bundle-cli.ts EXTERNAL) stay out here, and
 *   so do playwright-core (a browser driver, loaded only by the files that drive Chromium),
 *   esbuild (its API finds its binary from its own file: the browser bundle's test builds one)
 *   and every package that finds files from its own place (PLACE_BOUND, checked at each build).
 * - A file that reads the source text of a package's functions (the adaptations' hashes of the
 *   upstream code they were measured on) runs as tsc wrote it: a bundle rewrites that text. The
 *   suite names those files (test/suite.ts UNBUNDLED).
 * - Stack traces name the bundle's chunks, with our function names: run a file from dist/test
 *   (`node --test dist/test/...`) to see the modules' own lines.
 */
import { build, type Metafile, type Plugin } from 'esbuild'
import { readFileSync } from 'node:fs'
import { join, relative, resolve, sep } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { EXTERNAL } from './bundle-cli.js'

const DIST = resolve(fileURLToPath(new URL('..', import.meta.url)))
const ROOT = resolve(DIST, '..')
const TESTS = join(DIST, 'test')

/** `import.meta.url` as code, not inside a string: after a quote or backtick, or followed by one, it is text. */
const AS_CODE = /(?<![\w$.'"`])import\.meta\.url(?![\w$'"`])/g
const IN_TEXT = /['"`]import\.meta\.url|import\.meta\.url['"`]/

function ownUrl (): Plugin {
  return {
    name: 'agentmesh-test-own-url',
    setup (b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(DIST + sep)) return undefined
        const source = readFileSync(args.path, 'utf8')
        if (!source.includes('import.meta.url')) return undefined
        if (IN_TEXT.test(source)) {
          return { errors: [{ text: `${relative(DIST, args.path)} holds import.meta.url inside a string: the test bundle cannot tell its code from its text (tools/bundle-tests.ts)` }] }
        }
        return { contents: source.replace(AS_CODE, JSON.stringify(pathToFileURL(args.path).href)), loader: 'js' }
      })
    }
  }
}

/**
 * Packages loaded from node_modules, not bundled: each has a file that finds others from its own
 * place (`import.meta.url`, `__dirname`, `__filename`), which in a chunk would be the chunk's, or
 * in an ES module no name at all (typescript reads `__filename` as it loads: readme.test would not
 * load; the OpenAPI validator reads its schemas beside itself). The build fails for a package not
 * listed here that has such a file.
 */
const PLACE_BOUND = ['@seriousme/openapi-schema-validator', 'commander', 'pino', 'thread-stream', 'typescript']

/** A package's file that finds others from its own place: as ES module, or as CommonJS. */
const FINDS_FILES = /\bimport\.meta\.url\b|\b__dirname\b|\b__filename\b/

/** The packages among `inputs` (paths relative to the package's root) with a file that finds files from its own place. */
function packagesFindingFiles (inputs: string[]): string[] {
  const found = new Set<string>()
  for (const path of inputs) {
    const pkg = /^node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(path)?.[1]
    if (pkg === undefined || found.has(pkg)) continue
    if (FINDS_FILES.test(readFileSync(join(ROOT, path), 'utf8'))) found.add(pkg)
  }
  return [...found].sort()
}

export interface TestBundle {
  /** The bundled test files, by the path of the file under dist/test each was made of. */
  files: Map<string, string>
  outputs: number
  bytes: number
}

/**
 * Bundles `files` (compiled test files under dist/test) into `outdir`, keeping each file's
 * path below dist/test (the suite and its summary name files by their base name).
 */
export async function bundleTests (files: string[], outdir: string): Promise<TestBundle> {
  for (const f of files) if (!resolve(f).startsWith(TESTS + sep)) throw new Error(`${f} is not a compiled test file under ${TESTS}`)
  const result = await build({
    entryPoints: files,
    outbase: TESTS,
    outdir,
    bundle: true,
    splitting: true,
    // No keepNames: its __name() wrapper is in the text of every function, and a function a test
    // hands to a page (playwright's page.evaluate) runs there without it (browser.test,
    // live-page-layout.test: "__name is not defined"). esbuild renames a class only where two of
    // one name meet in a chunk; our error classes, named on the wire (protocols/core/errors.ts),
    // keep theirs, and a test of them would fail here first.
    chunkNames: 'chunks/[name]-[hash]',
    platform: 'node',
    format: 'esm',
    target: 'node20',
    metafile: true,
    absWorkingDir: ROOT,
    logLevel: 'error',
    external: [...EXTERNAL, ...PLACE_BOUND, 'playwright-core', 'esbuild'],
    // CommonJS packages in an ES module bundle call require() for Node's own modules.
    banner: { js: "import { createRequire as __agentmeshRequire } from 'node:module'; const require = __agentmeshRequire(import.meta.url);" },
    plugins: [ownUrl()]
  })
  const meta = result.metafile as Metafile
  const placeBound = packagesFindingFiles(Object.keys(meta.inputs))
  if (placeBound.length > 0) {
    throw new Error(`packages that find files from their own place were bundled: ${placeBound.join(', ')}; list them in tools/bundle-tests.ts PLACE_BOUND (or make them load another way)`)
  }
  const made = new Map<string, string>()
  let bytes = 0
  for (const [out, o] of Object.entries(meta.outputs)) {
    bytes += o.bytes
    if (o.entryPoint !== undefined) made.set(resolve(ROOT, o.entryPoint), resolve(ROOT, out))
  }
  const bundled = new Map<string, string>()
  for (const f of files) {
    const out = made.get(resolve(f))
    if (out === undefined) throw new Error(`the test bundle has no file made of ${f}`)
    bundled.set(resolve(f), out)
  }
  return { files: bundled, outputs: Object.keys(meta.outputs).length, bytes }
}
