// No Docker engine runs here, so the image is checked the way it would run: the CLI with the
// image's environment, and the image's HEALTHCHECK script against it.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { configKeys } from '../node/index.js'
import { CLI, DIST, Proc, uniqueMesh, withTempDir } from './helpers.js'

const ROOT = join(DIST, '..')
const HEALTHCHECK = join(ROOT, 'docker', 'healthcheck.mjs')

test('every AGENTMESH_ variable the Dockerfile and compose file set is a config key', async () => {
  const known = new Set(configKeys().map(k => k.env))
  for (const file of ['docker/Dockerfile', 'docker/compose.yaml']) {
    const text = await readFile(join(ROOT, file), 'utf8')
    const used = [...text.matchAll(/\b(AGENTMESH_[A-Z0-9_]+)\b/g)].map(m => m[1])
    assert.ok(used.length > 0, `${file} sets AGENTMESH_ variables`)
    for (const v of used) assert.ok(known.has(v), `${file}: ${v} is not a config key`)
  }
})

test('the image\'s environment starts a node, and its HEALTHCHECK passes only with the token', async () => {
  await withTempDir(async (dir) => {
    const debugPort = 20_000 + Math.floor(Math.random() * 20_000)
    const token = 'change-me-to-a-long-random-secret'
    // The Dockerfile's ENV (with ports the test can own), plus compose's bootstrap service.
    const env = {
      NODE_ENV: 'production',
      AGENTMESH_IDENTITY: join(dir, 'identity.json'),
      AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/tcp/0/ws',
      AGENTMESH_DEBUG: `0.0.0.0:${debugPort}`,
      AGENTMESH_DEBUG_TOKEN: token,
      AGENTMESH_MESH: uniqueMesh()
    }
    const node = new Proc([CLI, 'start', '--json', '--name', 'bootstrap', '--roles', 'bootstrap,agent', '--no-mdns'], env)
    try {
      const ready = await node.json(o => o.event === 'ready', 'the ready line')
      assert.ok(ready.addresses.some((a: string) => a.includes('/ws/')), 'listens on WebSockets too')
      const ok = new Proc([HEALTHCHECK], { AGENTMESH_DEBUG: env.AGENTMESH_DEBUG, AGENTMESH_DEBUG_TOKEN: token })
      assert.equal(await ok.exited(), 0, ok.stderr)
      const noToken = new Proc([HEALTHCHECK], { AGENTMESH_DEBUG: env.AGENTMESH_DEBUG })
      assert.equal(await noToken.exited(), 1)
    } finally {
      await node.stop()
    }
  })
})
