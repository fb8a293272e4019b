/**
 * The gateway's REST against its own OpenAPI document, by schemathesis (a tool nobody here
 * wrote: interop/python/schemathesis_run.py), with three agents behind it: for ~45 s, at most
 * 25 examples per operation, every operation is called with generated input, valid and not, and
 * in sequences that follow the document's links. What a user of the document relies on: no 5xx,
 * every status and content type the document lists, every body valid against its schema.
 * Seeded, so a failure found here is found again (the run prints the curl line that shows it).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import { defineCommand } from '../../surfaces/index.js'
import { startMesh, stopAll, waitFor } from '../helpers.js'
import { PYTHON, skipWithout } from '../requirements.js'
import { account, runPython } from './python.js'

const STEADY = { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
const Square = defineCommand('square', { request: z.strictObject({ n: z.number() }), response: z.number() })
const SECONDS = 45

test('schemathesis: the gateway\'s REST answers as its OpenAPI document says (no 5xx, documented statuses, valid bodies)', { timeout: 240_000 }, async (t) => {
  if (skipWithout(t, 'python')) return
  const nodes = await startMesh(3, (i) => ({ preset: 'local', coordination: STEADY, ...(i === 0 ? { gateway: { listen: '127.0.0.1:0' } } : {}) }))
  try {
    nodes[2].handle(Square, ({ n }) => n * n)
    for (const n of nodes) n.onTask('add', (ctx) => Number(ctx.task.metadata.add ?? 0))
    await waitFor(() => nodes.every(n => n.coordinator().leader !== undefined), 'a coordinator', 20_000)
    const run = await runPython(PYTHON, 'interop/python/schemathesis_run.py', [nodes[0].gatewayUrl as string, String(SECONDS), '25', '1'], { timeoutMs: (SECONDS + 120) * 1_000 })
    const out = run.json
    assert.ok(out !== undefined, `the script's JSON; ${account(run)}`)
    const accounts = Object.entries(out.accounts as Record<string, string>).map(([op, text]) => `--- ${op}\n${text}`).join('\n')
    assert.deepEqual(out.failures, [], `schemathesis found failures:\n${accounts}`)
    assert.deepEqual(out.errors, [], `schemathesis met errors:\n${accounts}`)
    assert.equal(out.exit_code, 0, `${String(out.command)}\n${String(out.summary)}`)
    // It did test: every operation, and many cases (not a run that stopped at the document).
    assert.equal(out.operations.tested, out.operations.total, JSON.stringify(out.operations))
    assert.ok(out.operations.total >= 17, JSON.stringify(out.operations))
    assert.ok(out.test_cases.generated >= 50, JSON.stringify(out.test_cases))
  } finally {
    await stopAll(nodes)
  }
})
