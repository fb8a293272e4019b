import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig, parseConfig, ConfigError } from '../node/index.js'
import { withTempDir } from './helpers.js'

test('defaults fill every key, nested groups included', () => {
  const c = parseConfig({})
  assert.equal(c.mesh, 'default')
  assert.equal(c.maxMessageBytes, 1024 * 1024)
  assert.equal(c.rpc.timeoutMs, 30_000)
  assert.equal(c.pubsub.batchWindowMs, 10)
  assert.equal(c.pubsub.batchMaxEnvelopes, 50)
  assert.equal(c.rpc.window, 100)
})

test('file < environment < flags, and arrays and numbers come from strings', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'c.json')
    await writeFile(file, JSON.stringify({ name: 'from-file', mesh: 'filemesh', pubsub: { batchWindowMs: 5, batchMaxEnvelopes: 20 } }))
    const c = await loadConfig({
      file,
      env: { AGENTMESH_MESH: 'envmesh', AGENTMESH_PUBSUB_BATCH_WINDOW_MS: '7', AGENTMESH_BOOTSTRAP: '/ip4/1.2.3.4/tcp/1,/ip4/1.2.3.5/tcp/2', AGENTMESH_MDNS: 'false' },
      flags: { mesh: 'flagmesh' }
    })
    assert.equal(c.name, 'from-file')
    assert.equal(c.mesh, 'flagmesh')
    assert.equal(c.pubsub.batchWindowMs, 7)
    assert.equal(c.pubsub.batchMaxEnvelopes, 20)
    assert.deepEqual(c.bootstrap, ['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.5/tcp/2'])
    assert.equal(c.mdns, false)
  })
})

test('an unknown key in a file fails naming the key and the file', async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'c.json')
    await writeFile(file, JSON.stringify({ pubsub: { batchWindw: 5 } }))
    await assert.rejects(loadConfig({ file }), (e: any) => e instanceof ConfigError && e.code === 'CFG001' && /pubsub\.batchWindw: unknown key/.test(e.message) && e.message.includes(file))
  })
})

test('a bad value names the key and where it came from; unknown AGENTMESH_ variables fail', async () => {
  await assert.rejects(loadConfig({ env: { AGENTMESH_RPC_TIMEOUT_MS: 'soon' } }), (e: any) => /rpc\.timeoutMs: .*number.*environment AGENTMESH_RPC_TIMEOUT_MS/.test(e.message))
  await assert.rejects(loadConfig({ flags: { listen: ['localhost:7000'] } }), (e: any) => /listen\.0: expected a multiaddr.*flags/.test(e.message))
  await assert.rejects(loadConfig({ env: { AGENTMESH_NAEM: 'x' } }), (e: any) => /unknown environment variable AGENTMESH_NAEM/.test(e.message))
})
