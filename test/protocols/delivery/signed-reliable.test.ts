/**
 * Signed reliable gateway requests (issue 13, docs/security.md "Signed messages"): a request the
 * gateway sends for a client with at-least-once or exactly-once delivery arrives signed by the
 * gateway node, on its first attempt and on a retry (same envelope id, a signature that verifies),
 * also when the retry comes from the outbox after the gateway node restarted; an outbox entry
 * altered on disk is refused (SEC004, audited, a dead letter) rather than sent; a reliable
 * publish's direct copy whose signature does not verify is refused by its recipient.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createAgentNode, makeEnvelope, type AgentNode } from '../../../surfaces/index.js'
import type { OutboxEntry } from '../../../protocols/delivery/outbox.js'
import { hasValidSignature, signEnvelope } from '../../../protocols/envelope/signature.js'
import type { Envelope } from '../../../protocols/envelope/schema.js'
import { privateKeyOf } from '../../../protocols/coordination/election-keys.js'
import { nodeOptions, startMesh, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

type Retry = { id: string, attempt: number }

async function call (gw: AgentNode, to: string, delivery: string, payload: unknown): Promise<Response> {
  return await fetch(`${gw.gatewayUrl as string}/v1/agents/${to}/commands/echo?delivery=${delivery}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload)
  })
}

/** The receiver's rpc service down (its protocol unhandled, its streams closed) and up again: the node stays a member. */
async function rpcDown (node: AgentNode): Promise<void> { await (node as any).s.rpc.stop() }
async function rpcUp (node: AgentNode): Promise<void> { await (node as any).s.rpc.start() }

function assertSignedByGateway (env: Envelope, gw: string, delivery: string): void {
  assert.equal(env.source, gw, 'the gateway node is the source')
  assert.ok(hasValidSignature(env), `${delivery} attempt ${env.headers['am-attempt']}: the signature verifies at the receiver`)
  assert.deepEqual([env.headers['am-via'], env.headers['am-client'], env.headers['am-delivery']], ['gateway', 'loopback', delivery])
  assert.ok(!hasValidSignature({ ...env, headers: { ...env.headers, 'am-client': 'someone-else' } }), 'the client is covered by the signature')
}

test('a reliable gateway request arrives signed, and its retry after the receiver was down carries the same id and a signature that verifies', { timeout: 3 * 60_000 }, async () => {
  const [gw, b] = await startMesh(2, (i) => i === 0
    ? { gateway: { listen: '127.0.0.1:0' }, retry: { maxRetries: 30, initialDelayMs: 100, maxDelayMs: 400, jitter: 0 }, breaker: { failures: 0, resetMs: 1_000 } }
    : {})
  try {
    const got: Envelope[] = []
    b.handle('echo', (x, ctx) => { got.push(ctx.envelope); return x })
    const retries: Retry[] = []
    gw.delivery.addEventListener('retry', (e) => { retries.push({ id: e.detail.id, attempt: e.detail.attempt }) })
    for (const delivery of ['at-least-once', 'exactly-once']) {
      // Receiver up: the first attempt is answered.
      const first = await call(gw, b.peerId, delivery, { n: 1, delivery })
      assert.equal(first.status, 200)
      assert.deepEqual(await first.json(), { n: 1, delivery })
      const answered = got.at(-1) as Envelope
      assertSignedByGateway(answered, gw.peerId, delivery)
      assert.equal(answered.headers['am-attempt'], '1')
      if (delivery === 'exactly-once') assert.equal(answered.headers['am-idempotency-key'], answered.id, 'the key is covered too')

      // Receiver down for the first attempt: answered by a retry.
      const before = got.length
      retries.length = 0
      await rpcDown(b)
      const pending = call(gw, b.peerId, delivery, { n: 2, delivery })
      await waitFor(() => retries.length >= 1, `${delivery}: the first attempt to fail and a retry to be scheduled`)
      await rpcUp(b)
      const second = await pending
      assert.equal(second.status, 200)
      assert.deepEqual(await second.json(), { n: 2, delivery })
      assert.equal(got.length, before + 1, 'run once')
      const retried = got.at(-1) as Envelope
      assert.equal(retried.id, retries[0].id, 'the retry carries the id of the first attempt')
      assert.ok(Number(retried.headers['am-attempt']) > 1, `a retry (attempt ${retried.headers['am-attempt']})`)
      assertSignedByGateway(retried, gw.peerId, delivery)
    }
  } finally {
    await rpcUp(b).catch(() => {})
    await stopAll([gw, b])
  }
})

test('after a restart the gateway node resends its outbox signed; an entry altered on disk is refused with SEC004, audited and kept as a dead letter', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const b = await createAgentNode(nodeOptions(mesh, { name: 'b' }))
    await b.start()
    // A retry that would come only after the node stopped: the outbox keeps both messages.
    const gwOptions = (extra: object): any => nodeOptions(mesh, { name: 'gw', dataDir: join(dir, 'gw'), bootstrap: [b.addresses()[0]], ...extra })
    const waitLong = { maxRetries: 5, initialDelayMs: 120_000, maxDelayMs: 120_000, jitter: 0 }
    let gw: AgentNode | undefined = await createAgentNode(gwOptions({ gateway: { listen: '127.0.0.1:0' }, retry: waitLong }))
    let again: AgentNode | undefined
    try {
      await gw.start()
      await waitFor(() => gw?.peers().length === 1 && b.peers().length === 1, 'gw and b to see each other')
      const gwPeer = gw.peerId
      const got: Envelope[] = []
      b.handle('echo', (x, ctx) => { got.push(ctx.envelope); return x })
      const retries: Retry[] = []
      gw.delivery.addEventListener('retry', (e) => { retries.push({ id: e.detail.id, attempt: e.detail.attempt }) })
      await rpcDown(b)
      const calls = [call(gw, b.peerId, 'exactly-once', { n: 'honest' }), call(gw, b.peerId, 'exactly-once', { n: 'tampered' })].map(async p => await p.catch(() => undefined))
      await waitFor(() => retries.length >= 2, 'both first attempts to fail')

      // Someone with the data directory changes what one message says, and its signed envelope with it.
      const space = gw.store.space<OutboxEntry>('outbox')
      const held = [...space.entries()]
      assert.equal(held.length, 2)
      for (const [, e] of held) assert.ok(e.signed !== undefined && hasValidSignature(e.signed), 'the outbox holds the signed envelope')
      const [slot, entry] = held.find(([, e]) => (e.payload as any).n === 'tampered') as [string, OutboxEntry]
      const honestId = (held.find(([, e]) => (e.payload as any).n === 'honest') as [string, OutboxEntry])[1].id
      const forged = { n: 'forged' }
      await space.put(slot, { ...entry, payload: forged, signed: { ...(entry.signed as Envelope), payload: forged } })

      await gw.stop()
      gw = undefined
      await Promise.all(calls)
      await rpcUp(b)
      // Restarted, it may resend before it has reconnected to b: its retries come soon.
      again = await createAgentNode(gwOptions({ debug: '127.0.0.1:0', retry: { maxRetries: 30, initialDelayMs: 100, maxDelayMs: 400, jitter: 0 } }))
      await again.start()
      assert.equal(again.peerId, gwPeer, 'restarted with its identity')
      const restarted = again
      await waitFor(() => got.length >= 1 && restarted.deadLetters.count === 1 && restarted.delivery.outbox.size === 0, 'the honest message delivered and the altered one refused')
        .catch((err: Error) => { throw new Error(`${err.message}: ${got.length} at b, ${restarted.deadLetters.count} dead letters, ${restarted.delivery.outbox.size} in the outbox`) })

      assert.equal(got.length, 1, 'only the honest message reached b')
      const honest = got[0]
      assert.deepEqual(honest.payload, { n: 'honest' })
      assert.equal(honest.id, honestId, 'resent under its first id')
      assertSignedByGateway(honest, gwPeer, 'exactly-once')
      assert.equal(honest.headers['am-seq'], undefined, 'resent from an earlier run: unnumbered')

      const letter = restarted.deadLetters.list().letters[0]
      assert.equal(letter.reason, 'refused')
      assert.equal(letter.side, 'sender')
      assert.equal(letter.error.code, 'SEC004')
      assert.equal(letter.envelope.id, entry.id)
      const audit = await (await fetch(`${restarted.debugUrl as string}/audit?kind=signature.refused`)).json() as any[]
      assert.ok(audit.some(a => a.correlationId === entry.id && a.code === 'SEC004' && a.detail?.side === 'sender'), `audited: ${JSON.stringify(audit)}`)
    } finally {
      await stopAll([gw, again, b])
    }
  })
})

test('reliable publish: the gateway\'s direct copy arrives signed; a direct copy whose signature does not verify is refused SEC004 and not delivered', { timeout: 3 * 60_000 }, async () => {
  const [gw, b] = await startMesh(2, (i) => i === 0 ? { gateway: { listen: '127.0.0.1:0' }, retry: { maxRetries: 30, initialDelayMs: 100, maxDelayMs: 400, jitter: 0 } } : {})
  try {
    const events: Envelope[] = []
    const outcomes: number[] = []
    gw.delivery.addEventListener('outcome', (e) => { if (e.detail.outcome === 'delivered') outcomes.push(e.detail.attempts) })
    const retries: Retry[] = []
    gw.delivery.addEventListener('retry', (e) => { retries.push({ id: e.detail.id, attempt: e.detail.attempt }) })
    // b subscribes only after the copy's first attempt (RATE001, not subscribed yet): it gets the direct copy.
    const publishing = fetch(`${gw.gatewayUrl as string}/v1/topics/news/publish?delivery=at-least-once&recipients=${b.peerId}`, {
      method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ n: 1 })
    })
    await waitFor(() => retries.length >= 1, 'the direct copy refused while b is not subscribed')
    const sub = b.subscribe('news')
    void (async () => { for await (const m of sub) events.push(m.envelope) })()
    assert.equal((await publishing).status, 200)
    await waitFor(() => events.length === 1, 'the event at b')
    assert.ok(outcomes.some(a => a >= 1), 'acknowledged by a direct copy\'s answer')
    assertSignedByGateway(events[0], gw.peerId, 'at-least-once')

    // A copy altered after signing: refused before any subscription sees it.
    const rpc = (gw as any).s.rpc
    const signed = signEnvelope(makeEnvelope({ source: gw.peerId, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: { n: 2 }, headers: { 'am-delivery': 'at-least-once' } }), privateKeyOf(gw.libp2p))
    await assert.rejects(rpc.request(b.peerId, '$agentmesh/topic/deliver', { envelope: { ...signed, payload: { n: 666 } } }), (e: any) => e.code === 'SEC004')
    assert.deepEqual(await rpc.request(b.peerId, '$agentmesh/topic/deliver', { envelope: signed }), { accepted: true })
    await waitFor(() => events.length === 2, 'the honest copy at b')
    assert.deepEqual(events.map(e => e.payload), [{ n: 1 }, { n: 2 }], 'the altered copy never reached the subscription')
    sub.unsubscribe()
  } finally {
    await stopAll([gw, b])
  }
})
