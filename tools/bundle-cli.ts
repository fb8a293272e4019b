/**
 * `npm run build` (after tsc): bundles the CLI (dist/surfaces/cli/program.js) with esbuild into
 * dist/surfaces/cli/bundle/, which dist/surfaces/cli/main.js runs while it is fresh
 * (surfaces/cli/bundle-check.ts).
 *
 * Why: an agent process spends most of its start in Node's ES module loader, resolving and
 * compiling about 1,000 files (ours and libp2p's); the suite starts hundreds of them. A bundle of
 * the same code is a few files. `npm run bench:cli` measures the two.
 *
 * What stays as it is, and why:
 * - The bundle is split at the CLI's dynamic imports, so that `id` or `status` still loads none
 *   of libp2p (surfaces/cli/program.ts COMMANDS).
 * - Packages loaded outside the import graph stay in node_modules: lmdb and pino-pretty are
 *   required through createRequire, and lmdb is native. OpenTelemetry's SDK is CommonJS reached
 *   through a dynamic import, which esbuild turns into a default-only chunk that loses its named
 *   exports (`resourceFromAttributes is not a function`): it stays external too, and the build
 *   fails if any other package comes out in that shape.
 * - surfaces/cli/signals.js, which main.ts loads before the bundle and the command then uses:
 *   both must hold the same module (signals.ts says why).
 * - A module of ours that finds files beside itself (`new URL(..., import.meta.url)`: the
 *   package.json of the version, the store walker, createRequire) sees its own URL, not the
 *   chunk's: `import.meta.url` in our files is rewritten to the URL the module has in dist/.
 */
import { build, type Metafile, type Plugin } from 'esbuild'
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { BUNDLE_DIR, BUNDLE_MANIFEST, PACKAGE_ROOT, fileHash, type BundleInput, type BundleManifest } from '../surfaces/cli/bundle-check.js'

const DIST = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const ENTRY = 'program.js'

/** Packages left in node_modules (see above). */
export const EXTERNAL = ['lmdb', 'pino-pretty', '@opentelemetry/*']

/** npm's record of what node_modules holds: an install that changes a package rewrites it. */
const NODE_MODULES_RECORD = join('node_modules', '.package-lock.json')

/** Our compiled modules see their own URL (see above). */
function ownUrlPlugin (): Plugin {
  return {
    name: 'agentmesh-own-url',
    setup (b) {
      b.onLoad({ filter: /\.js$/ }, (args) => {
        if (!args.path.startsWith(DIST + sep)) return undefined
        const source = readFileSync(args.path, 'utf8')
        if (!source.includes('import.meta.url')) return undefined
        const rel = relative(BUNDLE_DIR, args.path).split('\\').join('/')
        return { contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(rel)}, import.meta.url).href`), loader: 'js' }
      })
    }
  }
}

/**
 * surfaces/cli/signals.js stays outside the bundle, imported from beside it: main.ts loads it
 * before the bundle, and the command must take its signals over in that same module (signals.ts).
 */
function sharedSignalsPlugin (): Plugin {
  const cli = join(DIST, 'surfaces', 'cli')
  return {
    name: 'agentmesh-shared-signals',
    setup (b) {
      b.onResolve({ filter: /^\.\/signals\.js$/ }, (args) => dirname(args.importer) === cli ? { path: '../signals.js', external: true } : undefined)
    }
  }
}

export interface CliBundle {
  dir: string
  bytes: number
  files: number
  /** Our modules and packages' files bundled. */
  modules: number
}

export async function bundleCli (): Promise<CliBundle> {
  rmSync(BUNDLE_DIR, { recursive: true, force: true })
  const result = await build({
    entryPoints: [join(DIST, 'surfaces', 'cli', ENTRY)],
    bundle: true,
    splitting: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outdir: BUNDLE_DIR,
    metafile: true,
    logLevel: 'warning',
    absWorkingDir: PACKAGE_ROOT,
    external: EXTERNAL,
    // CommonJS packages in an ES module bundle call require() for Node's own modules.
    banner: { js: "import { createRequire as __agentmeshRequire } from 'node:module'; const require = __agentmeshRequire(import.meta.url);" },
    plugins: [ownUrlPlugin(), sharedSignalsPlugin()]
  })
  const meta = result.metafile as Metafile
  let bytes = 0
  for (const [file, out] of Object.entries(meta.outputs)) {
    bytes += out.bytes
    // A CommonJS package behind a dynamic import comes out as a chunk exporting only `default`.
    if (out.exports.length === 1 && out.exports[0] === 'default' && out.entryPoint === undefined) {
      throw new Error(`${file} exports only a default (a CommonJS package behind a dynamic import?): list it in tools/bundle-cli.ts EXTERNAL`)
    }
  }
  const ours = Object.keys(meta.inputs).filter(p => !p.startsWith('node_modules/'))
  const inputs: BundleInput[] = [...ours, NODE_MODULES_RECORD].map((path) => {
    const file = join(PACKAGE_ROOT, path)
    const { size, mtimeMs } = statSync(file)
    return { path, size, mtimeMs, sha256: fileHash(file) }
  })
  const manifest: BundleManifest = { entry: ENTRY, inputs }
  writeFileSync(join(BUNDLE_DIR, BUNDLE_MANIFEST), JSON.stringify(manifest, null, 1) + '\n')
  return { dir: BUNDLE_DIR, bytes, files: Object.keys(meta.outputs).length, modules: Object.keys(meta.inputs).length }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  bundleCli().then((b) => {
    console.log(`${relative(process.cwd(), b.dir) || b.dir}: ${b.files} files, ${(b.bytes / 1024 / 1024).toFixed(1)} MiB, ${b.modules} modules`)
  }, (err) => {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  })
}
