// No Docker engine runs here, so the image is checked the way it would run: its files laid out as
// the Dockerfile's last stage lays them out, the CLI started from there with the image's
// environment, and the image's HEALTHCHECK script against it; and by reading the files against
// what they rely on (config keys, the build context .dockerignore lets through, dependencies).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { cp, mkdir, readdir, readFile, stat, symlink } from 'node:fs/promises'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'
import { configKeys } from '../node/index.js'
import { DIST, Proc, uniqueMesh, withTempDir } from './helpers.js'

const ROOT = join(DIST, '..')
const SHIPPED = ['node', 'protocols', 'discovery']

async function text (file: string): Promise<string> { return await readFile(join(ROOT, file), 'utf8') }

test('every AGENTMESH_ variable the Dockerfile and compose file set is a config key', async () => {
  const known = new Set(configKeys().map(k => k.env))
  for (const file of ['docker/Dockerfile', 'docker/compose.yaml']) {
    const used = [...(await text(file)).matchAll(/\b(AGENTMESH_[A-Z0-9_]+)\b/g)].map(m => m[1])
    assert.ok(used.length > 0, `${file} sets AGENTMESH_ variables`)
    for (const v of used) assert.ok(known.has(v), `${file}: ${v} is not a config key`)
  }
})

test('no debug token is written down: compose requires one from the environment, the docs only ever pass a variable', async () => {
  const compose = await text('docker/compose.yaml')
  assert.match(compose, /AGENTMESH_DEBUG_TOKEN: "\$\{AGENTMESH_DEBUG_TOKEN:\?[^}$]*openssl rand[^}$]*\}"/, 'compose stops without a token and says how to make one')
  const readme = await text('README.md')
  const containers = readme.slice(readme.indexOf('## Containers'), readme.indexOf('\n## ', readme.indexOf('## Containers') + 1))
  assert.ok(containers.includes('AGENTMESH_DEBUG_TOKEN'), 'README, Containers: how to set the token')
  for (const [file, body] of [['README.md', readme], ['docker/compose.yaml', compose], ['docker/Dockerfile', await text('docker/Dockerfile')]]) {
    const literal = [...body!.matchAll(/(?:Bearer |--token |--debug-token |AGENTMESH_DEBUG_TOKEN=)(["']?)([^\s"'`]+)/g)].filter(m => !m[2]!.startsWith('$') && !m[2]!.startsWith('<'))
    assert.deepEqual(literal.map(m => m[0]), [], `${file} writes a token down`)
  }
})

/**
 * Whether Docker sends `path` (from the context's root, with '/') in the build context, by
 * .dockerignore's rules: a pattern matches the path or one of its parent folders, `!` lets a
 * match back in, the last matching line wins. `*` and `?` stop at '/', `**` does not.
 */
function sent (patterns: string[], path: string): boolean {
  let include = true
  for (const line of patterns) {
    const negated = line.startsWith('!')
    const glob = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '')
    const re = new RegExp('^' + glob.split(/(\*\*|\*|\?)/).map(p => p === '**' ? '.*' : p === '*' ? '[^/]*' : p === '?' ? '[^/]' : p.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('') + '(/.*)?$')
    if (re.test(path)) include = negated
  }
  return include
}

test('.dockerignore sends every file the Dockerfile copies from the context, and little else', async () => {
  const patterns = (await text('.dockerignore')).split('\n').map(l => l.trim()).filter(l => l.length > 0 && !l.startsWith('#'))
  const dockerfile = await text('docker/Dockerfile')
  const sources = [...dockerfile.matchAll(/^COPY\s+(?!--from)(.+)$/gm)].flatMap(m => m[1]!.trim().split(/\s+/).slice(0, -1))
  assert.ok(sources.includes('node') && sources.includes('package-lock.json'), `the context COPY lines were read: ${sources.join(' ')}`)
  // Walks the repository as Docker would, skipping the folders it would not send.
  const context: string[] = []
  let bytes = 0
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
      const path = dir === '' ? entry.name : `${dir}/${entry.name}`
      const isDir = entry.isDirectory() || (entry.isSymbolicLink() && (await stat(join(ROOT, path))).isDirectory())
      const reopened = patterns.some(p => p.startsWith(`!${path}/`))
      if (isDir) {
        if (sent(patterns, path) || reopened) await walk(path)
      } else if (sent(patterns, path)) {
        context.push(path)
        bytes += (await stat(join(ROOT, path))).size
      }
    }
  }
  await walk('')
  for (const source of sources) {
    assert.ok(context.some(f => f === source || f.startsWith(`${source}/`)), `the Dockerfile copies ${source}, which .dockerignore leaves out`)
  }
  for (const left of ['node_modules', 'dist', '.git', 'test', 'bench', 'examples', 'docs']) {
    assert.ok(!context.some(f => f === left || f.startsWith(`${left}/`)), `${left} is sent in the build context`)
  }
  assert.ok(bytes < 5 * 2 ** 20, `the build context is ${bytes} bytes`)
})

test('the build compiles only the shipped folders (tsconfig.build.json), and they import only production dependencies', async () => {
  assert.match(await text('docker/Dockerfile'), /tsc -p tsconfig\.build\.json/)
  const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
  const listed = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'tsconfig.build.json'), '--listFilesOnly'], { encoding: 'utf8' })
  assert.equal(listed.status, 0, listed.stdout + listed.stderr)
  const own = listed.stdout.split('\n').map(f => relative(ROOT, f.trim()).split('\\').join('/')).filter(f => f.length > 0 && !f.startsWith('node_modules/') && !f.startsWith('..'))
  assert.ok(own.includes('node/cli/main.ts'), 'the CLI is compiled')
  assert.deepEqual(own.filter(f => !SHIPPED.some(s => f.startsWith(`${s}/`))), [], 'files outside node/, protocols/, discovery/')

  const pkg = JSON.parse(await text('package.json'))
  assert.deepEqual(pkg.files, SHIPPED.map(s => `dist/${s}`), 'package.json ships what the image ships')
  const deps = new Set(Object.keys(pkg.dependencies))
  const missing = new Set<string>()
  for (const folder of SHIPPED) {
    for (const file of await readdir(join(DIST, folder), { recursive: true })) {
      if (!file.endsWith('.js')) continue
      const js = await readFile(join(DIST, folder, file), 'utf8')
      // import ... from, import(), bare import, require() and createRequire(...)(): package names only.
      for (const m of js.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+|\brequire\s*\(\s*|\)\(\s*)['"]((?:@[\w.-]+\/)?[\w.-]+(?:\/[\w./-]*)?|node:[\w/]+)['"]/g)) {
        const spec = m[1]!
        if (spec.startsWith('.')) continue
        const name = spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!
        if (!spec.startsWith('node:') && !builtinModules.includes(name) && !deps.has(name)) missing.add(`${name} (${folder}/${file})`)
      }
    }
  }
  assert.deepEqual([...missing], [], 'imported at run time but not in "dependencies" (the image installs --omit=dev)')
})

/** The image's /app: what the Dockerfile's last stage copies, dependencies linked rather than installed. */
async function imageLayout (dir: string): Promise<string> {
  const app = join(dir, 'app')
  await mkdir(join(app, 'docker'), { recursive: true })
  await cp(join(ROOT, 'package.json'), join(app, 'package.json'))
  for (const folder of SHIPPED) await cp(join(DIST, folder), join(app, 'dist', folder), { recursive: true })
  await cp(join(ROOT, 'docker', 'healthcheck.mjs'), join(app, 'docker', 'healthcheck.mjs'))
  await symlink(join(ROOT, 'node_modules'), join(app, 'node_modules'), 'dir')
  return app
}

test('the image\'s files alone run: its environment starts a node, its HEALTHCHECK passes only with the token, and compose\'s cli service reaches it', async () => {
  await withTempDir(async (dir) => {
    const app = await imageLayout(dir)
    const cli = join(app, 'dist', 'node', 'cli', 'main.js')
    const debugPort = 20_000 + Math.floor(Math.random() * 20_000)
    const token = randomBytes(24).toString('hex')
    const mesh = uniqueMesh()
    // The Dockerfile's ENV (with ports the test can own), plus compose's bootstrap service.
    const image = {
      NODE_ENV: 'production',
      AGENTMESH_IDENTITY: join(dir, 'identity.json'),
      AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws'
    }
    // compose.yaml runs open (a local try: nodes are closed by default, and compose makes no credentials).
    const env = { ...image, AGENTMESH_DEBUG: `0.0.0.0:${debugPort}`, AGENTMESH_DEBUG_TOKEN: token, AGENTMESH_MESH: mesh, AGENTMESH_SECURITY_MODE: 'open' }
    const node = new Proc([cli, 'start', '--json', '--name', 'bootstrap', '--roles', 'bootstrap,agent', '--no-mdns'], env)
    try {
      const ready = await node.json(o => o.event === 'ready', 'the ready line')
      assert.ok(ready.addresses.some((a: string) => a.includes('/ws/')), 'listens on WebSockets too')
      const health = await (await fetch(`http://127.0.0.1:${debugPort}/health`, { headers: { authorization: `Bearer ${token}` } })).json()
      assert.equal(health.version, JSON.parse(await text('package.json')).version, 'the version is read from the image\'s package.json')
      const healthcheck = join(app, 'docker', 'healthcheck.mjs')
      const ok = new Proc([healthcheck], { AGENTMESH_DEBUG: env.AGENTMESH_DEBUG, AGENTMESH_DEBUG_TOKEN: token })
      assert.equal(await ok.exited(), 0, ok.stderr)
      const noToken = new Proc([healthcheck], { AGENTMESH_DEBUG: env.AGENTMESH_DEBUG })
      assert.equal(await noToken.exited(), 1)

      // `docker compose run --rm cli request bootstrap echo ...`: the cli service's environment,
      // its bootstrap address (/dns4/bootstrap/tcp/7001 on the compose network) made local.
      const tcp = (ready.addresses as string[]).find(a => !a.includes('/ws/'))!.replace(/\/p2p\/.*$/, '')
      const cliEnv = { ...image, AGENTMESH_IDENTITY: join(dir, 'cli-identity.json'), AGENTMESH_DEBUG: `127.0.0.1:${debugPort + 1}`, AGENTMESH_MESH: mesh, AGENTMESH_BOOTSTRAP: tcp, AGENTMESH_SECURITY_MODE: 'open' }
      const request = new Proc([cli, 'request', '--log-level', 'silent', '--no-mdns', 'bootstrap', 'echo', '"from the cli service"'], cliEnv)
      assert.equal(await request.exited(30_000), 0, request.stderr)
      assert.equal(JSON.parse(request.lines.join('\n')), 'from the cli service')
    } finally {
      await node.stop()
    }
  })
})
