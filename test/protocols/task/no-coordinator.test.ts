// A task read while no coordinator is in office fails as a timeout (COM001) naming why, not as
// the timer's bare DOMException: the gateway answered that as an internal error (-32603 over A2A,
// seen in CI-like load when a lone node's office lapsed between a submission and its read).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AgentMeshError } from '../../../protocols/core/errors.js'
import { startMesh, stopAll } from '../../helpers.js'

test('with no coordinator in office, a task read fails COM001 "no coordinator in office" once its deadline passes', { timeout: 90_000 }, async () => {
  // One agent of three expected: no election, so no coordinator, ever.
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 3 } }))
  try {
    const started = Date.now()
    const err = await nodes[0].tasks.client.query('t-nobody-knows').then(() => undefined, (e: unknown) => e)
    console.log(`failed after ${Date.now() - started} ms: ${String(err)}`)
    assert.ok(err instanceof AgentMeshError, `a typed error, got ${String(err)}`)
    assert.equal(err.code, 'COM001')
    assert.match(err.message, /no coordinator in office within \d+ ms/)
  } finally {
    await stopAll(nodes)
  }
})
