import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AgentMeshError, ConnectionError, errorFromWire, InvalidTaskStateError, NotSentError, TimeoutError, UnknownTaskError } from '../../../protocols/core/errors.js'

test('errorFromWire: the class the answer names; with no name, the one class of its code; else a plain AgentMeshError of the code', { timeout: 60_000 }, () => {
  const named = errorFromWire(new UnknownTaskError('no task t1').toJSON())
  assert.ok(named instanceof UnknownTaskError && named.name === 'UnknownTaskError' && named.message === 'no task t1')
  // A task control's refusal carries a code and a reason, no name: TSK001 and TSK002 have one class each.
  const byCode = errorFromWire({ code: 'TSK001', message: 'no task t2' })
  assert.ok(byCode instanceof UnknownTaskError, byCode.name)
  assert.equal(byCode.name, 'UnknownTaskError')
  assert.ok(errorFromWire({ code: 'TSK002', message: 'over' }) instanceof InvalidTaskStateError)
  assert.ok(errorFromWire({ code: 'COM001', message: 'late' }) instanceof TimeoutError)
  // COM002 is ConnectionError's and NotSentError's: no class is guessed.
  const ambiguous = errorFromWire({ code: 'COM002', message: 'gone' })
  assert.equal(ambiguous.constructor, AgentMeshError)
  assert.equal(ambiguous.code, 'COM002')
  assert.ok(errorFromWire(new NotSentError('never sent').toJSON()) instanceof ConnectionError)
  // A code this node does not know is CMD002, named as the peer named it.
  const unknown = errorFromWire({ code: 'ZZZ999', name: 'FutureError', message: 'new' })
  assert.equal(unknown.code, 'CMD002')
  assert.equal(unknown.name, 'FutureError')
})
