/**
 * A one-shot command ends as soon as it has answered. libp2p 3.3.11 keeps a process alive about a
 * second after its node stopped (a refed debounce armed as the listener closes: docs/upstream.md,
 * 4), which made every `agentmesh request`, `pub` and `keyring` a second slower than its work; the
 * CLI now exits once the command's action is done (surfaces/cli/program.ts). The first test is
 * the upstream behaviour the CLI works around: it fails once libp2p stops lingering, and then
 * the exit in program.ts can go.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { CLI, Proc, uniqueMesh } from '../../helpers.js'

const LINGER = fileURLToPath(new URL('../../fixtures/libp2p-linger.js', import.meta.url))

test('upstream: a plain libp2p 3.3 node\'s process outlives its stop by its address manager\'s 1 s debounce', { timeout: 60_000 }, async () => {
  const p = new Proc([LINGER])
  const { stoppedAt, exitAt } = await p.json(o => 'exitAt' in o, 'the plain node\'s stop and exit', 30_000)
  console.log(`plain libp2p: the process ended ${exitAt - stoppedAt} ms after its node stopped`)
  assert.ok(exitAt - stoppedAt >= 800, `the process ended ${exitAt - stoppedAt} ms after the stop: libp2p no longer lingers, and the exit in surfaces/cli/program.ts can go (docs/upstream.md, 4)`)
})

test('agentmesh request answers, stops its node and exits at once, not a second later', { timeout: 2 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const agent = new Proc([CLI, 'start', '--json', '--open', '--no-mdns', '--no-data-dir', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0', '--name', 'x1', '--mesh', mesh])
  try {
    const address = (await agent.json(o => o.event === 'ready', 'the agent to be ready')).addresses[0]
    const req = new Proc([CLI, 'request', '--open', '--no-mdns', '--mesh', mesh, '--bootstrap', address, '--log-format', 'json', '-v', 'x1', 'echo', '"hi"'])
    assert.equal(await req.exited(60_000), 0, req.stderr)
    const exitAt = Date.now()
    assert.equal(req.lines.join('\n').trim(), '"hi"')
    const stopped = req.stderr.split('\n').filter(l => l.includes('"node stopped"')).map(l => Date.parse(JSON.parse(l).time as string))
    assert.equal(stopped.length, 1, req.stderr)
    console.log(`agentmesh request: exited ${exitAt - stopped[0]} ms after its node stopped`)
    assert.ok(exitAt - stopped[0] < 900, `exited ${exitAt - stopped[0]} ms after its node stopped (libp2p's debounce is 1,000)`)
  } finally {
    await agent.stop()
  }
})
