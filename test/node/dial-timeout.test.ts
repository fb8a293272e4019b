/**
 * `connections.dialTimeoutMs` is the whole time a dial gets, to a peer with one address too:
 * libp2p cuts each address's attempt at 6 s of its own (addressDialTimeout) unless told, so a
 * seed whose process was seconds behind saw every handshake abandoned at 6 s and redone (200
 * agents on two cores, docs/benchmarks.md). A real agent process, paused (SIGSTOP) so that the
 * kernel takes the connection and nothing answers the handshake, resumed after 8 s.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode } from '../../surfaces/index.js'
import { CLI, nodeOptions, Proc, sleep, uniqueMesh } from '../helpers.js'

const PAUSE_MS = 8_000

test('a dial waits out a peer that answers its handshake after 8 s when dialTimeoutMs allows it, and fails within dialTimeoutMs when not', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const b = new Proc([CLI, 'start', '--open', '--json', '--no-mdns', '--preset', 'local', '--mesh', mesh, '--name', 'sleeper',
    '--listen', '/ip4/127.0.0.1/tcp/0'])
  const patient = await createAgentNode(nodeOptions(mesh, { name: 'patient', preset: 'local', connections: { dialTimeoutMs: 30_000 } }))
  const hasty = await createAgentNode(nodeOptions(mesh, { name: 'hasty', preset: 'local', connections: { dialTimeoutMs: 2_000 } }))
  try {
    const ready = await b.json(o => o.event === 'ready', 'the sleeper ready')
    const address = (ready.addresses as string[])[0]
    await patient.start()
    await hasty.start()
    b.child.kill('SIGSTOP')
    const started = Date.now()
    const patientDial = patient.dial(address).then(peer => ({ peer, at: Date.now() - started }), (err: Error) => ({ err, at: Date.now() - started }))
    const hastyDial = hasty.dial(address).then(peer => ({ peer, at: Date.now() - started }), (err: Error) => ({ err, at: Date.now() - started }))
    await sleep(PAUSE_MS)
    b.child.kill('SIGCONT')
    const h = await hastyDial
    assert.ok('err' in h, 'the dial with 2 s to spare failed')
    // Failed by its own limit: not at once (a refused connection would be), and while the sleeper
    // was still paused (four times the limit: room for a loaded host, none for waiting it out).
    assert.ok(h.at >= 1_900 && h.at < PAUSE_MS, `the dial with 2 s to spare failed after ${h.at} ms: ${h.err.message}`)
    const p = await patientDial
    assert.ok('peer' in p, `the dial with 30 s to spare connected (it failed after ${p.at} ms: ${'err' in p ? p.err.message : ''})`)
    assert.equal(p.peer, ready.peerId)
    assert.ok(p.at >= PAUSE_MS, 'and it connected only once the sleeper was resumed')
  } finally {
    b.child.kill('SIGCONT')
    await b.stop()
    await patient.stop()
    await hasty.stop()
  }
})
