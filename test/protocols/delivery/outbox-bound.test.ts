/**
 * The outbox's bound (docs/delivery.md, "The outbox"): OUTBOX_MAX_ENTRIES (10,000) reliable
 * messages held at most; a caller that finds it full waits for room (backpressure) within its
 * own signal, and gets in once a message leaves. The real bound of a real node: 10,000 messages
 * to an agent that is down, held by an open breaker and long retry delays.
 */
import { setMaxListeners } from 'node:events'
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode } from '../../../surfaces/index.js'
import { OUTBOX_MAX_ENTRIES } from '../../../protocols/delivery/index.js'
import { nodeOptions, sleep, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

test('a full outbox (10,000) makes the next caller wait: not in the outbox, withdrawn by its signal while it waits, and let in when a message leaves', { timeout: 5 * 60_000 }, async () => {
  assert.equal(OUTBOX_MAX_ENTRIES, 10_000, 'the bound docs/delivery.md names')
  const mesh = uniqueMesh()
  const gone = await createAgentNode(nodeOptions(mesh, { name: 'gone' }))
  // One failure opens the breaker for 10 minutes and a retry waits as long: the messages stay put.
  const s = await createAgentNode(nodeOptions(mesh, {
    name: 's',
    breaker: { failures: 1, resetMs: 600_000 },
    retry: { maxRetries: 100, initialDelayMs: 600_000, maxDelayMs: 600_000, jitter: 0 },
    rpc: { timeoutMs: 2_000 }
  }))
  const everyone = new AbortController()
  // Every one of the 10,000 listens to it.
  setMaxListeners(Infinity, everyone.signal)
  const settled: Array<Promise<unknown>> = []
  /** A reliable request whose outcome is kept (so none is unhandled) and told by `state`. */
  const send = (job: unknown, signal: AbortSignal): { done: Promise<unknown>, state: { settled: boolean } } => {
    const state = { settled: false }
    const done = s.request(gone.peerId, 'work', { job }, { delivery: 'at-least-once', signal })
    const watched = done.then(() => { state.settled = true }, () => { state.settled = true })
    settled.push(watched)
    return { done, state }
  }
  const holds = (job: unknown): boolean => s.delivery.outbox.entries().some(e => (e.payload as any).job === job)
  try {
    await gone.start()
    await s.start()
    await s.dial(gone.addresses()[0])
    await gone.stop()
    // Open the breaker with one attempt that fails, so the 10,000 do not each dial the dead address.
    await assert.rejects(s.request(gone.peerId, 'work', { job: 'probe' }, { delivery: 'at-most-once' }))
    await waitFor(() => s.delivery.breaker(gone.peerId)?.state === 'open', 'the breaker to the stopped agent open')

    const first = new AbortController()
    const firstSent = send(0, AbortSignal.any([first.signal, everyone.signal]))
    for (let i = 1; i < OUTBOX_MAX_ENTRIES; i++) send(i, everyone.signal)
    await waitFor(() => s.delivery.outbox.size === OUTBOX_MAX_ENTRIES, `${OUTBOX_MAX_ENTRIES} messages in the outbox`, 120_000)

    // Full: the next caller waits, and is not let in however long it waits.
    const late = new AbortController()
    const lateSent = send('late', AbortSignal.any([late.signal, everyone.signal]))
    await sleep(1_000)
    assert.equal(lateSent.state.settled, false, 'a caller of a full outbox waits')
    assert.equal(s.delivery.outbox.size, OUTBOX_MAX_ENTRIES, 'the outbox holds no more than its bound')
    assert.equal(holds('late'), false)
    // Its signal withdraws it while it waits.
    const reason = new Error('no longer wanted')
    late.abort(reason)
    await assert.rejects(lateSent.done, (e: any) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.message === reason.message)
    assert.equal(s.delivery.outbox.size, OUTBOX_MAX_ENTRIES)

    // Another waits; one message withdrawn makes room, and the waiting one takes it.
    const next = send('next', everyone.signal)
    await sleep(500)
    assert.equal(next.state.settled, false)
    assert.equal(holds('next'), false)
    first.abort(new Error('withdrawn to make room'))
    await assert.rejects(firstSent.done, /withdrawn to make room/)
    await waitFor(() => holds('next'), 'the waiting message let into the outbox once a message left')
    assert.equal(s.delivery.outbox.size, OUTBOX_MAX_ENTRIES)
    assert.equal(holds(0), false, 'the withdrawn message is gone')
    assert.equal(next.state.settled, false, 'let in, it is now waiting for its retry like the others')
  } finally {
    everyone.abort(new Error('test over'))
    await Promise.all(settled)
    await stopAll([s, gone])
  }
})
