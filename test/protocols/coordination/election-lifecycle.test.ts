/**
 * The coordination's lifecycle and its Office face through a real node: start() and stop() are
 * safe twice (and stop before start), and coordinator() resolves on 'coordinator:change' once a
 * coordinator is in office, or rejects when its signal fires.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode } from '../../../surfaces/index.js'
import { ElectionService } from '../../../protocols/coordination/election-service.js'
import type { RpcService } from '../../../protocols/rpc/index.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const coordination = { bootstrapExpect: 1, heartbeatIntervalMs: 50, electionTimeoutMinMs: 300, electionTimeoutMaxMs: 600 }

test('coordination: start and stop twice are no-ops, stop before start is fine, and coordinator() waits for the office', { timeout: 3 * 60_000 }, async () => {
  const keys = { sign: () => '', verify: () => false }
  const idle = new ElectionService({ self: 'x', eligible: true, rpc: {} as unknown as RpcService, ...coordination, voterRemoveAfterMs: 60_000, keys })
  idle.stop()
  idle.stop()

  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'solo', coordination }))
  try {
    await node.start()
    const c = node.coordination
    c.start()
    // A lone eligible agent with bootstrapExpect 1 elects itself: coordinator() resolves once its lease holds.
    assert.equal(await c.coordinator({ signal: AbortSignal.timeout(10_000) }), node.peerId)
    assert.equal(c.inOffice, true, 'in office when coordinator() resolved')
    assert.deepEqual(c.voters(), [node.peerId])
    assert.equal(c.admits(c.term, node.peerId), false, 'a node does not admit itself as a remote coordinator')

    c.stop()
    c.stop()
    // Stopped, it sends no heartbeats: its lease runs out, and coordinator() then waits until its signal fires.
    await waitFor(() => !c.inOffice, 'the stopped coordinator\'s lease to run out')
    await assert.rejects(c.coordinator({ signal: AbortSignal.timeout(300) }), (err: Error) => err.name === 'TimeoutError' || err.name === 'AbortError')
    c.start()
    c.start()
    const term = c.term
    await c.coordinator({ signal: AbortSignal.timeout(10_000) })
    assert.ok(c.term >= term, 'started again from its state')
  } finally {
    await stopAll([node])
  }
})

test('coordinator() on a leader whose lease lapsed resolves when its next heartbeat renews it: no election, so no event, tells that', { timeout: 3 * 60_000 }, async () => {
  // A process stalled past its lease (a loaded host: the CI's gateway tests beside a CPU burner)
  // comes back as the leader of the same term, out of office until its next heartbeat renews
  // the lease. A submission on that node asked coordinator() in that gap and waited out its
  // whole deadline (COM001), since nothing changed that 'coordinator:change' would tell.
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'stalled', coordination }))
  try {
    await node.start()
    const c = node.coordination
    assert.equal(await c.coordinator({ signal: AbortSignal.timeout(10_000) }), node.peerId)
    const term = c.term
    // Past the lease (0.9 of the minimum timeout after its last heartbeat), short of check-quorum
    // (the maximum timeout), which would make it step down and win a new term instead.
    const stallUntil = Date.now() + (coordination.electionTimeoutMinMs + coordination.electionTimeoutMaxMs) / 2 + 20
    while (Date.now() < stallUntil) { /* the event loop stalls: no heartbeat goes out, the lease runs out */ }
    assert.equal(c.inOffice, false, 'the lease lapsed during the stall')
    assert.equal(c.leader, node.peerId, 'still the leader of its term')
    const changes: unknown[] = []
    c.addEventListener('coordinator:change', (e) => { changes.push(e.detail) })
    // Ten seconds: the heartbeat after the stall renews it within an interval; before the fix this waited all of them.
    assert.equal(await c.coordinator({ signal: AbortSignal.timeout(10_000) }), node.peerId)
    assert.equal(await node.coordinatorElected({ signal: AbortSignal.timeout(10_000) }).then(x => x.leader), node.peerId)
    assert.equal(c.inOffice, true)
    assert.equal(c.term, term, 'the same term: it was no election')
    assert.deepEqual(changes, [], 'and no coordinator:change was told')
  } finally {
    await stopAll([node])
  }
})
