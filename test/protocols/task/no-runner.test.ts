/**
 * A task of a type no agent runs says so in its status (issue 44: it waited with the reason
 * "no agents" while four agents were listed): the reason names the type and how many agents
 * were asked, and the task runs as soon as one agent registers a handler for it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

test('a task nobody has a handler for waits with a reason naming its type; it runs once a handler comes', { timeout: 90_000 }, async () => {
  const nodes = await startMesh(3, () => ({ coordination: { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 } }))
  try {
    await waitFor(() => nodes.some(n => n.coordinator().inOffice) && nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)
    const h = await nodes[0].submitTask({ task_id: 'orphan', type: 'nobody-runs-this', metadata: { n: 2 } })
    await waitFor(() => /no agent runs tasks of type "nobody-runs-this": the 3 live agents have no handler for it/.test(h.latest?.reason ?? ''),
      'the reason to name the type', 30_000).catch(async (err: Error) => { throw new Error(`${err.message}; last status: ${JSON.stringify(await h.status())}`) })
    assert.equal((await h.status()).status, 'submitted')
    // A handler comes: the task runs (offered again once the wait of that agent's refusal is over,
    // or at once to the agent that registered: both are fine here, within the deadline below).
    nodes[2].onTask('nobody-runs-this', async (ctx) => (ctx.task.metadata.n as number) * 21)
    assert.equal(await h.result(), 42)
  } finally {
    await stopAll(nodes)
  }
})
