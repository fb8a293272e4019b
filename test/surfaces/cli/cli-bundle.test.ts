// The CLI's bundle (tools/bundle-cli.ts) runs only while it is what the modules would run, and
// then behaves as they do: the same answers, and nodes of each kind in one mesh.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BUNDLE_MANIFEST, checkBundle, fileHash, type BundleManifest } from '../../../surfaces/cli/bundle-check.js'
import { skipWithout } from '../../requirements.js'
import { CLI, Proc, uniqueMesh, withTempDir } from '../../helpers.js'

const MODULES = { AGENTMESH_CLI_MODULES: '1' }

test('a bundle runs only while every file it was made of is as it was: a rebuild of the same bytes keeps it, a changed or missing file does not', { timeout: 30_000 }, async () => {
  await withTempDir(async (root) => {
    const bundle = join(root, 'dist', 'bundle')
    mkdirSync(bundle, { recursive: true })
    mkdirSync(join(root, 'node_modules'))
    const files = { 'dist/a.js': 'export const a = 1\n', 'node_modules/.package-lock.json': '{"lockfileVersion":3}\n' }
    for (const [path, text] of Object.entries(files)) writeFileSync(join(root, path), text)
    assert.match(checkBundle(root, bundle).stale ?? '', /no bundle/, 'no manifest: the modules run')

    const manifest: BundleManifest = {
      entry: 'program.js',
      inputs: Object.keys(files).map((path) => {
        const file = join(root, path)
        return { path, size: Buffer.byteLength(files[path as keyof typeof files]), mtimeMs: 1_000, sha256: fileHash(file) }
      })
    }
    writeFileSync(join(bundle, BUNDLE_MANIFEST), JSON.stringify(manifest))
    // The manifest's times (1 s after the epoch) are not the files': their bytes decide.
    assert.deepEqual(checkBundle(root, bundle), { entry: join(bundle, 'program.js') }, 'same bytes, another time: the bundle runs')

    writeFileSync(join(root, 'dist/a.js'), 'export const a = 2\n') // same size, other bytes
    utimesSync(join(root, 'dist/a.js'), 5, 5)
    assert.equal(checkBundle(root, bundle).stale, 'dist/a.js changed')
    writeFileSync(join(root, 'dist/a.js'), files['dist/a.js'])

    writeFileSync(join(root, 'node_modules/.package-lock.json'), '{"lockfileVersion":3,"packages":{}}\n')
    assert.equal(checkBundle(root, bundle).stale, 'node_modules/.package-lock.json changed', 'an npm install that changed node_modules')
  })
})

test('the bundled CLI answers as the modules do, and a bundled agent and a modules client talk in one mesh', { timeout: 3 * 60_000 }, async (t) => {
  if (skipWithout(t, 'cli-bundle')) return
  const procs: Proc[] = []
  try {
    for (const args of [['--version'], ['--help'], ['credential', '--help']]) {
      const bundled = new Proc([CLI, ...args])
      const modules = new Proc([CLI, ...args], MODULES)
      assert.equal(await bundled.exited(), 0, `bundle: agentmesh ${args.join(' ')}`)
      assert.equal(await modules.exited(), 0, `modules: agentmesh ${args.join(' ')}`)
      assert.ok(bundled.lines.length > 0)
      assert.deepEqual(bundled.lines, modules.lines, `agentmesh ${args.join(' ')}`)
    }

    const mesh = uniqueMesh()
    const agent = new Proc([CLI, 'start', '--open', '--json', '--mesh', mesh, '--name', 'b1', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--debug', '127.0.0.1:0'])
    procs.push(agent)
    const ready = await agent.json(o => o.event === 'ready', 'the bundled agent\'s ready line')
    // A module resolved beside its own file (createRequire of lmdb, the version's package.json) works in the bundle.
    const health: any = await (await fetch(`${ready.debug}/health`)).json()
    assert.equal(health.version, JSON.parse((await import('node:fs')).readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')).version)

    const request = new Proc([CLI, 'request', '--open', '--mesh', mesh, '--no-mdns', '--bootstrap', ready.addresses[0], 'b1', 'echo', '{"from":"modules"}'], MODULES)
    procs.push(request)
    assert.equal(await request.exited(), 0, `request from the modules: ${request.stderr}`)
    assert.deepEqual(JSON.parse(request.lines.join('\n')), { from: 'modules' })
  } finally {
    await Promise.all(procs.map(async p => { await p.stop() }))
  }
})
