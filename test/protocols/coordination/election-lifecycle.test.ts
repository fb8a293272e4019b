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
