/**
 * Reliable delivery through real nodes (issue 14): at-least-once to an agent that is down and
 * comes back, exactly-once duplicates across a receiver restart, and a sender restart resending
 * what its outbox held.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../../../surfaces/index.js'
import { freePort, nodeOptions, sleep, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

/** Short retries: a test waits seconds, not the defaults' minutes. */
const fast: CreateAgentNodeOptions = {
  retry: { maxRetries: 30, initialDelayMs: 100, maxDelayMs: 500, jitter: 0.2 },
  breaker: { failures: 0, resetMs: 1_000 },
  rpc: { timeoutMs: 2_000 }
}

/** A receiver on a fixed port with a fixed identity, so a restart is the same agent at the same address. */
async function receiver (mesh: string, key: PrivateKey, port: number, count: { n: number }, extra: CreateAgentNodeOptions = {}): Promise<AgentNode> {
  const node = await createAgentNode(nodeOptions(mesh, { name: 'receiver', privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`], ...extra }))
  node.handle('work', (req: any) => { count.n++; return { done: req.job, run: count.n } })
  await node.start()
  return node
}

test('at-least-once to an agent that is down, retried until it is started, is delivered once', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const key = await generateKeyPair('Ed25519')
  const port = await freePort()
  const count = { n: 0 }
  let r: AgentNode | undefined = await receiver(mesh, key, port, count)
  const s = await createAgentNode(nodeOptions(mesh, { name: 'sender', ...fast }))
  try {
    await s.start()
    await s.dial(r.addresses()[0])
    const peer = r.peerId
    await r.stop()
    const retries = (): number => (s.stats.snapshot().delivery_retries_total ?? []).reduce((sum, o) => sum + o.value, 0)
    const answer = s.request(peer, 'work', { job: 1 }, { delivery: 'at-least-once' })
    await waitFor(() => s.delivery.outbox.size === 1, 'the message in the outbox')
    // The receiver stays down while the sender tries it and fails, three times: the message waits in the outbox.
    await waitFor(() => retries() >= 3, 'three failed attempts while the receiver is down', 30_000)
    assert.equal(count.n, 0)
    assert.equal(s.delivery.outbox.size, 1)
    r = await receiver(mesh, key, port, count)
    assert.deepEqual(await answer, { done: 1, run: 1 })
    assert.equal(count.n, 1)
    assert.equal(s.delivery.outbox.size, 0)
    const outcomes = s.stats.snapshot().delivery_outcomes_total ?? []
    assert.ok(outcomes.some(o => o.labels.outcome === 'delivered' && o.value === 1))
  } finally {
    await stopAll([s, r])
  }
})

test('exactly-once: duplicates run the handler once, also across a receiver restart; another body under the key is MSG001', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    const count = { n: 0 }
    let r: AgentNode | undefined = await receiver(mesh, key, port, count, { dataDir: join(dir, 'r') })
    const s = await createAgentNode(nodeOptions(mesh, { name: 'sender', ...fast }))
    try {
      await s.start()
      await s.dial(r.addresses()[0])
      const peer = r.peerId
      const opts = { delivery: 'exactly-once' as const, idempotencyKey: 'order-42' }
      // Concurrent duplicates: the later ones wait for the first's answer.
      const answers = await Promise.all([1, 2, 3, 4, 5].map(async () => await s.request(peer, 'work', { job: 42 }, opts)))
      for (const a of answers) assert.deepEqual(a, { done: 42, run: 1 })
      assert.equal(count.n, 1)
      assert.deepEqual(await s.request(peer, 'work', { job: 42 }, opts), { done: 42, run: 1 })
      await r.stop()
      r = await receiver(mesh, key, port, count, { dataDir: join(dir, 'r') })
      assert.deepEqual(await s.request(peer, 'work', { job: 42 }, opts), { done: 42, run: 1 })
      assert.equal(count.n, 1, 'the handler did not run again after the restart')
      await assert.rejects(s.request(peer, 'work', { job: 43 }, opts), (e: any) => e.code === 'MSG001' && e.name === 'IdempotencyConflictError')
      assert.equal(count.n, 1)
      // Another key is another message.
      assert.deepEqual(await s.request(peer, 'work', { job: 42 }, { ...opts, idempotencyKey: 'order-43' }), { done: 42, run: 2 })
      const dedup = r.stats.snapshot().dedup_total ?? []
      assert.ok(dedup.some(d => d.labels.result === 'conflict'))
    } finally {
      await stopAll([s, r])
    }
  })
})

test('a handler that throws on an at-least-once message is answered CMD002 once, not retried', { timeout: 3 * 60_000 }, async () => {
  const [mesh, count] = [uniqueMesh(), { n: 0 }]
  const r = await createAgentNode(nodeOptions(mesh, { name: 'r' }))
  r.handle('boom', () => { count.n++; throw new Error('nope') })
  const s = await createAgentNode(nodeOptions(mesh, { name: 's', ...fast }))
  try {
    await r.start()
    await s.start()
    await s.dial(r.addresses()[0])
    await assert.rejects(s.request(r.peerId, 'boom', {}, { delivery: 'at-least-once' }), (e: any) => e.code === 'CMD002')
    assert.equal(count.n, 1)
    assert.equal(s.delivery.outbox.size, 0)
    await waitFor(() => (r.stats.snapshot().delivery_given_up_total ?? []).some(d => d.labels.reason === 'handler_failed'), 'the receiver to give it up')
    // A reliable publish without recipients is refused (CFG001), saying why (test/protocols/delivery/gossip-delivery.test.ts covers reliable publish).
    await assert.rejects(s.publish('t', {}, { delivery: 'at-least-once' }), (e: any) => e.code === 'CFG001')
  } finally {
    await stopAll([s, r])
  }
})

test('retries run out: DeliveryFailedError with the attempts, the message out of the outbox', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const gone = await createAgentNode(nodeOptions(mesh, { name: 'gone' }))
  const s = await createAgentNode(nodeOptions(mesh, { name: 's', ...fast, retry: { maxRetries: 2, initialDelayMs: 50, maxDelayMs: 100, jitter: 0 } }))
  try {
    await gone.start()
    await s.start()
    await s.dial(gone.addresses()[0])
    await gone.stop()
    await assert.rejects(s.request(gone.peerId, 'work', {}, { delivery: 'at-least-once' }),
      (e: any) => e.name === 'DeliveryFailedError' && e.attempts === 3 && e.code === 'COM002' && /given up after 3 attempts/.test(e.message))
    assert.equal(s.delivery.outbox.size, 0)
  } finally {
    await stopAll([s, gone])
  }
})

test('a ttl that runs out ends the retries: DeliveryFailedError (COM001) and an `expired` dead letter, well before the retries would', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const gone = await createAgentNode(nodeOptions(mesh, { name: 'gone' }))
  // 100 retries of up to 500 ms: without the ttl this would take most of a minute.
  const s = await createAgentNode(nodeOptions(mesh, { name: 's', ...fast, retry: { maxRetries: 100, initialDelayMs: 100, maxDelayMs: 500, jitter: 0 } }))
  try {
    await gone.start()
    await s.start()
    await s.dial(gone.addresses()[0])
    await gone.stop()
    await assert.rejects(s.request(gone.peerId, 'work', { job: 'late' }, { delivery: 'exactly-once', ttlMs: 1_200 }),
      (e: any) => e.name === 'DeliveryFailedError' && e.code === 'COM001' && /ttl passed/.test(e.message) && e.attempts < 100 && typeof e.deadLetterId === 'string')
    const letters = s.deadLetters.list().letters
    assert.equal(letters.length, 1)
    assert.equal(letters[0].reason, 'expired')
    assert.deepEqual(letters[0].envelope.payload, { job: 'late' })
    assert.equal(s.delivery.outbox.size, 0)
    await assert.rejects(s.request(gone.peerId, 'work', {}, { delivery: 'at-least-once', ttlMs: -5 }), (e: any) => e.code === 'MSG001' || e.name === 'ValidationError')
    assert.equal(s.delivery.outbox.size, 0, 'a bad ttl is refused before the outbox')
  } finally {
    await stopAll([s, gone])
  }
})

test('a sender restarted from its data directory resends what its outbox held', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const [rKey, sKey] = [await generateKeyPair('Ed25519'), await generateKeyPair('Ed25519')]
    const port = await freePort()
    const count = { n: 0 }
    let r: AgentNode | undefined = await receiver(mesh, rKey, port, count)
    const peer = r.peerId
    const address = r.addresses()[0]
    const sOpts = nodeOptions(mesh, { name: 'sender', privateKey: sKey, dataDir: join(dir, 's'), ...fast })
    let s: AgentNode | undefined = await createAgentNode(sOpts)
    try {
      await s.start()
      await s.dial(address)
      await r.stop()
      const lost = s.request(peer, 'work', { job: 7 }, { delivery: 'at-least-once' }).catch((e: Error) => e)
      await waitFor(() => s?.delivery.outbox.size === 1, 'the message in the outbox')
      await s.stop()
      assert.ok(await lost instanceof Error, 'its caller learns that the node stopped')
      r = await receiver(mesh, rKey, port, count)
      s = await createAgentNode({ ...sOpts, bootstrap: [address] })
      await s.start()
      await waitFor(() => count.n === 1, 'the restarted sender to resend it', 20_000)
      await waitFor(() => s?.delivery.outbox.size === 0, 'the outbox emptied')
      await sleep(500)
      assert.equal(count.n, 1)
    } finally {
      await stopAll([s, r])
    }
  })
})
