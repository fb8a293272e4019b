// deadline(): a timeout that still fires when nothing else holds it (Node 20's AbortSignal.any
// lets a lone AbortSignal.timeout source be garbage-collected: nodejs/node#57736).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { deadline } from '../../../protocols/core/deadline.js'

test('deadline fires with a TimeoutError after garbage collection, follows its sources, and clear() detaches it', { timeout: 3 * 60_000 }, async () => {
  setFlagsFromString('--expose-gc')
  const gc = runInNewContext('gc') as () => void
  let reason: unknown
  deadline(100, new AbortController().signal).signal.addEventListener('abort', (e) => { reason = (e.target as AbortSignal).reason })
  gc()
  await new Promise(resolve => setTimeout(resolve, 30))
  gc()
  await new Promise(resolve => setTimeout(resolve, 300))
  assert.equal((reason as DOMException | undefined)?.name, 'TimeoutError', 'the deadline fired')

  const source = new AbortController()
  const d = deadline(60_000, source.signal)
  source.abort(new Error('stopping'))
  assert.equal(d.signal.aborted, true)
  assert.equal((d.signal.reason as Error).message, 'stopping')

  const quiet = new AbortController()
  const e = deadline(50, quiet.signal)
  e.clear()
  await new Promise(resolve => setTimeout(resolve, 120))
  assert.equal(e.signal.aborted, false, 'cleared: no timeout')
  quiet.abort()
  assert.equal(e.signal.aborted, false, 'cleared: the source no longer reaches it')
})

test('deadline(Infinity): no timer (setTimeout would fire it at once), it ends with its sources alone', { timeout: 60_000 }, async () => {
  const source = new AbortController()
  const d = deadline(Infinity, source.signal)
  await new Promise(resolve => setTimeout(resolve, 50))
  assert.equal(d.signal.aborted, false, 'not fired by a timer')
  source.abort(new Error('stopped'))
  assert.equal(d.signal.aborted, true)
  assert.equal((d.signal.reason as Error).message, 'stopped')
  d.clear()
})
