/**
 * Whether the CLI's bundle (tools/bundle-cli.ts) was made of the files that are here now.
 *
 * The bundle holds our compiled modules and their dependencies in a few files: a process loads
 * it in about a third of the CPU that Node's loader spends on the ~1,000 modules it replaces.
 * It is only worth running while it is what the modules would run: after a `tsc` of changed
 * sources, or an `npm install` that changed node_modules, the modules are run instead, never a
 * stale bundle. The manifest beside the bundle lists every input it was made of (our files and
 * npm's record of node_modules) with its size, modification time and hash; a file whose time
 * changed but whose bytes did not (a rebuild of the same source) still matches.
 *
 * Imports nothing but Node's own modules: it runs before anything else on every CLI start.
 */
import { createHash } from 'node:crypto'
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Where tools/bundle-cli.ts writes the bundle: dist/surfaces/cli/bundle/. */
export const BUNDLE_DIR = fileURLToPath(new URL('./bundle/', import.meta.url))
/** The package's root, three levels above dist/surfaces/cli/. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url))

/** The manifest's name, in the bundle's directory. */
export const BUNDLE_MANIFEST = 'manifest.json'

export interface BundleInput {
  /** Relative to the package's root (where package.json is). */
  path: string
  size: number
  mtimeMs: number
  sha256: string
}

export interface BundleManifest {
  /** The bundle's entry, relative to the manifest's directory. */
  entry: string
  inputs: BundleInput[]
}

/** The sha256 of a file's bytes, hex. */
export function fileHash (path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex')
}

/**
 * The bundle's entry (an absolute path) if every input listed in `dir`'s manifest is as it was
 * when the bundle was made; otherwise undefined, with the first input that differs as `stale`.
 */
export function checkBundle (root: string, dir: string): { entry?: string, stale?: string } {
  let manifest: BundleManifest
  try {
    manifest = JSON.parse(readFileSync(join(dir, BUNDLE_MANIFEST), 'utf8')) as BundleManifest
  } catch {
    return { stale: `no bundle (${join(dir, BUNDLE_MANIFEST)})` }
  }
  for (const input of manifest.inputs) {
    const file = join(root, input.path)
    let size: number, mtimeMs: number
    try {
      ({ size, mtimeMs } = statSync(file))
    } catch {
      return { stale: `${input.path} is gone` }
    }
    if (size !== input.size) return { stale: `${input.path} changed` }
    if (mtimeMs !== input.mtimeMs && fileHash(file) !== input.sha256) return { stale: `${input.path} changed` }
  }
  return { entry: join(dir, manifest.entry) }
}
