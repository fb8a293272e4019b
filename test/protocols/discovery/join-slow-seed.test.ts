/**
 * A seed that takes connections late (its process paused: the kernel completes the TCP
 * handshake and queues the connection; nothing answers until it resumes, as a seed whose event
 * loop turns take seconds). A joiner that gave up each dial at `dialTimeoutMs` and dialled again
 * left an abandoned connection in the seed's accept queue for every try, and the seed, once it
 * ran, took them in order before the live one (200 agents on two cores: 100-200 dead
 * connections queued at each seed, a third of the agents never joined; docs/benchmarks.md
 * "Scale"). Each dial of the seed that timed out now waits twice as long the next time.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode } from '../../../surfaces/index.js'
import { CLI, nodeOptions, Proc, sleep, uniqueMesh, waitFor } from '../../helpers.js'

const PAUSE_MS = 20_000
const DIAL_TIMEOUT_MS = 3_000

test('a joiner whose seed answers only after 20 s joins with its dial timeout doubling (3, 6, 12 s): at most three dials, not one every few seconds', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const seed = new Proc([CLI, 'start', '--open', '--json', '--no-mdns', '--preset', 'local', '--mesh', mesh, '--name', 'slow-seed',
    '--listen', '/ip4/127.0.0.1/tcp/0'])
  let joiner: Awaited<ReturnType<typeof createAgentNode>> | undefined
  try {
    const ready = await seed.json(o => o.event === 'ready', 'the seed ready')
    const address = (ready.addresses as string[])[0]
    seed.child.kill('SIGSTOP')
    const started = Date.now()
    joiner = await createAgentNode(nodeOptions(mesh, {
      name: 'joiner', preset: 'local', bootstrap: [address], connections: { dialTimeoutMs: DIAL_TIMEOUT_MS, bootstrapInitialDelayMs: 500 }
    }))
    const failures: number[] = []
    joiner.addEventListener('bootstrap:error', () => { failures.push(Date.now() - started) })
    await joiner.start()
    await sleep(PAUSE_MS)
    seed.child.kill('SIGCONT')
    const j = joiner
    await waitFor(() => j.libp2p.getConnections().some(c => c.remotePeer.toString() === ready.peerId), 'the joiner connected to the seed', 30_000)
    // Before: a dial every 3.5-5 s for 20 s, five or six abandoned connections queued ahead of the one that got in.
    assert.ok(failures.length >= 1, 'the first dial, with 3 s, timed out')
    assert.ok(failures.length <= 3, `dials that timed out before joining: ${failures.length} (at ${failures.join(', ')} ms)`)
  } finally {
    seed.child.kill('SIGCONT')
    await joiner?.stop()
    await seed.stop()
  }
})
