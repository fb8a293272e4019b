/**
 * libp2p's debug output (node/libp2p-logger.ts): without `DEBUG` a node gives libp2p one logger
 * that does nothing (libp2p's own made three `debug` instances per connection, muxer and stream:
 * a seventh of an agent's heap), and with `DEBUG` set its lines still print, as libp2p users expect.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { DIST, startMesh, stopAll } from '../helpers.js'
import { namesLibp2p } from '../../node/libp2p-logger.js'

test('libp2p logs: which DEBUG values ask for libp2p\'s output', { timeout: 3 * 60_000 }, () => {
  for (const yes of ['libp2p:*', 'libp2p:noise', 'express:*,libp2p:gossipsub', '*', '*,-express:*', ' libp2p']) assert.equal(namesLibp2p(yes), true, yes)
  for (const no of ['', 'express:*', '-libp2p:*', 'express:*, -libp2p:noise', 'agentmesh']) assert.equal(namesLibp2p(no), false, no)
})

const debugSet = process.env.DEBUG !== undefined && namesLibp2p(process.env.DEBUG)
test('libp2p logs: quiet and shared without DEBUG; with DEBUG=libp2p:* a node process prints libp2p\'s lines', {
  timeout: 3 * 60_000,
  skip: debugSet ? `DEBUG=${process.env.DEBUG ?? ''} asks this process for libp2p's output: run without it` : false
}, async () => {
  const nodes = await startMesh(2)
  try {
    const logger = nodes[0].libp2p.logger
    const a = logger.forComponent('libp2p:a')
    assert.equal(a.enabled, false)
    assert.equal(a.newScope('stream'), logger.forComponent('libp2p:b'), 'one logger for every scope: nothing made per stream')
    assert.ok(nodes[0].libp2p.getConnections().length > 0, 'the nodes connected with it')
  } finally {
    await stopAll(nodes)
  }

  // A process of its own: `debug` reads DEBUG when it loads.
  const script = `
    const { createAgentNode } = await import(${JSON.stringify(join(DIST, 'node/index.js'))})
    const n = await createAgentNode({ mesh: 'logs', mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', security: { mode: 'open' } })
    await n.start(); await n.stop()`
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, DEBUG: 'libp2p:*' }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d: Buffer) => { stderr += d.toString() })
  child.stdout.resume()
  const code = await new Promise<number | null>(resolve => child.on('exit', resolve))
  assert.equal(code, 0, stderr.slice(-2000))
  assert.match(stderr, /libp2p:\S+/, 'libp2p\'s debug lines on stderr')
})
