/**
 * Ordering of reliable direct messages between real nodes (issue 14): envelopes put on the wire
 * out of order (injected reordering: the test writes them on the rpc stream itself, as a network
 * that reorders would deliver them) reach the handler in their senders' order; a gap that stays
 * open is reported and the later messages run; one far beyond the buffer is refused RATE001; and
 * the node's own reliable requests carry the sequence that makes this work.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, encodeEnvelope, errorFromWire, makeEnvelope, type AgentNode } from '../../../surfaces/index.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

/** One envelope of sender stream `stream` with sequence `seq`, written on a's rpc stream to b; resolves with b's answer or error. */
async function sendSeq (a: AgentNode, b: AgentNode, stream: string, seq: number): Promise<unknown> {
  const envelope = makeEnvelope({
    source: a.peerId,
    destination: { peer: b.peerId },
    type: 'COMMAND',
    subject: 'step',
    payload: { seq },
    headers: { 'am-delivery': 'at-least-once', 'am-stream': stream, 'am-seq': String(seq) }
  })
  const rpc = (a as any).s.rpc
  const signal = AbortSignal.timeout(20_000)
  const channel = await rpc.channel(b.peerId, signal)
  const reply = await channel.request(envelope, encodeEnvelope(envelope), signal)
  if (reply.error !== undefined) throw errorFromWire(reply.error)
  return reply.payload
}

test('reliable messages run in their sender\'s order however they arrive; a gap is reported and passed; far ahead is RATE001', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const a = await createAgentNode(nodeOptions(mesh, { name: 'a' }))
  const b = await createAgentNode(nodeOptions(mesh, { name: 'b', delivery: { gapTimeoutMs: 2_000, reorderBuffer: 50 } }))
  const ran: number[] = []
  b.handle('step', (req: any) => { ran.push(req.seq); return { ok: req.seq } })
  try {
    await a.start()
    await b.start()
    await a.dial(b.addresses()[0])

    // Arrival 3, 5, 1, 4, 2: each handler starts only once those before it have.
    const arrivals = [3, 5, 1, 4, 2]
    const answers: Array<Promise<unknown>> = []
    for (const seq of arrivals) {
      answers.push(sendSeq(a, b, 'one', seq))
      // Let each reach b before the next is written (whatever order b sees them in, they run in order
      // as long as no gap outlasts gapTimeoutMs).
      await new Promise(resolve => setTimeout(resolve, 30))
    }
    assert.deepEqual(await Promise.all(answers), arrivals.map(seq => ({ ok: seq })))
    assert.deepEqual(ran, [1, 2, 3, 4, 5])

    // A gap: 7 never comes. 8 and 9 wait, then run past it once the gap times out, which is counted.
    ran.length = 0
    assert.deepEqual(await sendSeq(a, b, 'one', 6), { ok: 6 })
    const later = [sendSeq(a, b, 'one', 9), sendSeq(a, b, 'one', 8)]
    await new Promise(resolve => setTimeout(resolve, 100))
    assert.deepEqual(ran, [6], 'the messages after a gap wait for it')
    assert.deepEqual(await Promise.all(later), [{ ok: 9 }, { ok: 8 }])
    assert.deepEqual(ran, [6, 8, 9])
    const gaps = b.stats.snapshot().delivery_gaps_total ?? []
    assert.ok(gaps.some(g => g.labels.initial === 'false' && g.value === 1), JSON.stringify(gaps))
    // 7 arrives late (its sender retried): it runs, late rather than never.
    assert.deepEqual(await sendSeq(a, b, 'one', 7), { ok: 7 })
    assert.deepEqual(ran, [6, 8, 9, 7])

    // Far beyond the buffer (next is 10, the buffer 50): refused with RATE001, which a sender retries later.
    await assert.rejects(sendSeq(a, b, 'one', 100), (e: any) => e.code === 'RATE001')
    assert.deepEqual(ran, [6, 8, 9, 7])

    // Another stream (a sender that restarted) counts on its own.
    assert.deepEqual(await sendSeq(a, b, 'two', 1), { ok: 1 })
  } finally {
    await stopAll([a, b])
  }
})

test('a node\'s own reliable requests carry a sequence per destination, counted from 1 in a stream of this run', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const a = await createAgentNode(nodeOptions(mesh, { name: 'a' }))
  const b = await createAgentNode(nodeOptions(mesh, { name: 'b' }))
  const seen: Array<{ seq: string | undefined, stream: string | undefined }> = []
  b.handle('note', (_req, ctx) => { seen.push({ seq: ctx.envelope.headers['am-seq'], stream: ctx.envelope.headers['am-stream'] }); return {} })
  try {
    await a.start()
    await b.start()
    await a.dial(b.addresses()[0])
    for (let i = 0; i < 3; i++) await a.request(b.peerId, 'note', {}, { delivery: 'at-least-once' })
    await a.request(b.peerId, 'note', {})
    await waitFor(() => seen.length === 4, 'four requests handled')
    assert.deepEqual(seen.map(s => s.seq), ['1', '2', '3', undefined], 'at-most-once carries no sequence')
    assert.ok(seen[0].stream !== undefined && seen.slice(0, 3).every(s => s.stream === seen[0].stream))
  } finally {
    await stopAll([a, b])
  }
})
