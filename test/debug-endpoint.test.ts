import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, ConfigError } from '../node/index.js'
import { nodeOptions, uniqueMesh } from './helpers.js'

test('debug endpoint: health of a node alone, bearer token checked, unknown routes 404, stop closes it', async () => {
  const token = 'a-long-enough-secret-token'
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'dbg', debug: '127.0.0.1:0', debugToken: token }))
  await node.start()
  const url = node.debugUrl as string
  try {
    assert.equal((await fetch(`${url}/health`)).status, 401)
    assert.equal((await fetch(`${url}/health`, { headers: { authorization: 'Bearer wrong' } })).status, 401)
    const ok = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(ok.status, 200)
    const health: any = await ok.json()
    assert.equal(health.status, 'alone')
    assert.equal(health.name, 'dbg')
    assert.equal(health.peerId, node.peerId)
    const nf = await fetch(`${url}/nowhere`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(nf.status, 404)
    assert.match(nf.headers.get('content-type') ?? '', /json/)
  } finally {
    await node.stop()
  }
  await assert.rejects(fetch(`${url}/health`), 'the port is closed after stop()')
})

test('debug endpoint: a port already taken is a clear start-up error', async () => {
  const a = await createAgentNode(nodeOptions(uniqueMesh(), { debug: '127.0.0.1:0' }))
  await a.start()
  const port = new URL(a.debugUrl as string).port
  const b = await createAgentNode(nodeOptions(uniqueMesh(), { debug: `127.0.0.1:${port}` }))
  try {
    await assert.rejects(b.start(), (e: any) => e instanceof ConfigError && /cannot listen on 127\.0\.0\.1:\d+/.test(e.message))
  } finally {
    await a.stop()
    await b.stop()
  }
})
