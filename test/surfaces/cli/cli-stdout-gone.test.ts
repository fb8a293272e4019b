// What `start` and `sub` do when the reader of their stdout goes away (`agentmesh start | head -3`,
// `agentmesh sub t | head -1`, a log collector that died): the next line they print meets a
// closed pipe (EPIPE). It used to be an uncaught 'error' that ended the process on the spot with
// a stack trace, without the node's stop; with stderr on the same pipe, pino's exit flush then
// looped for good (test/node/log-stderr-gone.test.ts) and the process, ports bound, ignored SIGTERM.
// Real processes on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CLI, Proc, sleep, uniqueMesh, waitFor } from '../../helpers.js'

const START = ['start', '--json', '--open', '--no-mdns', '--no-data-dir', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0']

test('start runs on when its stdout\'s reader goes, printing nothing more, and stops cleanly on SIGTERM', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const a = new Proc([CLI, ...START, '--name', 'g1', '--mesh', mesh, '--debug', '127.0.0.1:0'])
  let b: Proc | undefined
  try {
    const ready = await a.json(o => o.event === 'ready', 'g1 ready')
    a.child.stdout!.destroy()
    // g2's join is a line g1 prints: the write that meets the closed pipe.
    b = new Proc([CLI, ...START, '--name', 'g2', '--mesh', mesh, '--bootstrap', ready.addresses[0]])
    await b.json(o => o.event === 'peer:join' && o.name === 'g1', 'g2 to see g1 join')
    await waitFor(async () => {
      const health = await (await fetch(`${ready.debug as string}/health`)).json() as { peers: Array<{ name: string }> }
      return health.peers.some(p => p.name === 'g2')
    }, 'g1 to see g2 (its join line written to the closed stdout)', 30_000)
    await sleep(500)
    assert.equal(a.child.exitCode, null, `g1 exited when its stdout closed: ${a.stderr.slice(-1_500)}`)
    assert.equal((await fetch(`${ready.debug as string}/health`)).status, 200, 'g1 still serves /health')
    a.child.kill('SIGTERM')
    assert.equal(await a.exited(20_000), 0, a.stderr.slice(-1_500))
    assert.doesNotMatch(a.stderr, /EPIPE/)
  } finally {
    await a.stop('SIGKILL')
    await b?.stop()
  }
})

test('sub stops, exit 0, when its stdout\'s reader goes', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const agent = new Proc([CLI, ...START, '--name', 'g3', '--mesh', mesh])
  let sub: Proc | undefined
  try {
    const address = (await agent.json(o => o.event === 'ready', 'g3 ready')).addresses[0]
    const client = ['--open', '--no-mdns', '--mesh', mesh, '--bootstrap', address]
    sub = new Proc([CLI, 'sub', '--json', ...client, 'gone.topic'])
    await sub.json(o => o.event === 'subscribed', 'sub to subscribe')
    sub.child.stdout!.destroy()
    // Published until the sub's write meets the closed pipe and it stops (the first may come before its subscription spread).
    await waitFor(async () => {
      const pub = new Proc([CLI, 'pub', ...client, 'gone.topic', '{"n":1}'])
      await pub.exited()
      return sub!.child.exitCode !== null
    }, 'sub to stop once a message met its closed stdout', 60_000, 200)
    assert.equal(await sub.exited(), 0, sub.stderr.slice(-1_500))
    assert.doesNotMatch(sub.stderr, /EPIPE/)
  } finally {
    await sub?.stop('SIGKILL')
    await agent.stop()
  }
})
