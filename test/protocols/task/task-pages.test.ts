/**
 * Records heavy with messages (up to 64 KiB each: docs/tasks.md "Messages to a task") travel in
 * pages bounded by size, not only by count (protocols/task/paging.ts). Before, twenty tasks with
 * two 31 KiB messages each made a page of 1.3 MB: past the 1 MiB message limit, a new
 * coordinator's write-back failed every second, it never took office, and every submission then
 * failed (found by a review of the messages). Real nodes on 127.0.0.1.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode } from '../../../surfaces/index.js'
import { weight, fitting, pagesOf, PAGE_CHARS } from '../../../protocols/task/paging.js'
import { LOADED_HOST_ELECTIONS, settledElection, startMesh, stopAll, waitFor } from '../../helpers.js'

const opts = { preset: 'local' as const, coordination: { bootstrapExpect: 3, ...LOADED_HOST_ELECTIONS } }

test('paging: pages hold at most the count and about PAGE_CHARS of JSON, an item past it alone; nothing lost or reordered', { timeout: 10_000 }, () => {
  const items = Array.from({ length: 50 }, (_, i) => ({ i, pad: 'x'.repeat(i % 7 === 0 ? PAGE_CHARS : 30_000) }))
  const pages = pagesOf(items, 200)
  assert.deepEqual(pages.flat().map(x => x.i), items.map(x => x.i))
  for (const p of pages) assert.ok(p.length === 1 || p.reduce((n, x) => n + weight(x), 0) <= PAGE_CHARS, `a page of ${p.length} weighs more than a page`)
  assert.ok(pages.length > 5, `${pages.length} pages`)
  assert.equal(fitting([], 10), 0)
  assert.equal(pagesOf(Array.from({ length: 450 }, (_, i) => i), 200).map(p => p.length).join(), '200,200,50')
})

test('a coordinator taking office over tasks carrying 1.2 MB of messages in all takes office and runs new tasks', { timeout: 4 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => opts)
  const live = (): AgentNode[] => nodes.filter(n => n.health().status !== 'stopped')
  try {
    // Settled, not merely seen in office once: office is a lease read against the clock, and on a
    // loaded host it lapsed between a look that found it and a second look (CI, Node 20).
    const { leader: coordinator } = await settledElection(nodes, 'a coordinator followed by both others')
    const [submitter, other] = nodes.filter(n => n !== coordinator)
    for (const n of nodes) n.onTask('quick', () => 'done')
    // Twenty tasks nobody runs (type "idle"), each with two 31 KiB messages: 1.24 MB of records.
    const handles = await Promise.all(Array.from({ length: 20 }, async (_, i) => await submitter.submitTask({ task_id: `heavy-${i}`, type: 'idle' })))
    for (const h of handles) {
      for (const m of ['a', 'b']) {
        const answer = await h.input('y'.repeat(31 * 1024), `${h.taskId}-${m}`)
        assert.equal(answer.type, 'task.control.ack', JSON.stringify(answer))
      }
    }
    await coordinator.stop()
    await waitFor(() => live().some(n => n.coordinator().inOffice), 'a new coordinator in office', 60_000)
    const after = await other.submitTask({ task_id: 'after-takeover', type: 'quick' })
    assert.equal(await after.result(), 'done')
    const kept = await handles[7].status()
    assert.equal(kept.messages?.length, 2, 'the messages outlived their coordinator')
  } finally {
    await stopAll(nodes)
  }
})
