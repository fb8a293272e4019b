// A refused coordination message is counted each time and logged once a minute per peer, message
// and reason (issue 44: a voter of another set logged 'not-a-voter' about three times a second on a
// terminal, each a warning line).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { createObserver } from '../../node/observe.js'
import { Stats } from '../../node/stats.js'

test('a peer whose coordination messages keep being refused costs one log line a minute, with the count; every refusal is counted', { timeout: 10_000 }, () => {
  const lines: any[] = []
  const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
  const stats = new Stats()
  const observer = createObserver(stats, pino({ level: 'info' }, sink))
  for (let i = 0; i < 30; i++) observer.rejected('coordination', { from: 'peer-a', message: 'heartbeat', reason: 'not-a-voter' })
  observer.rejected('coordination', { from: 'peer-a', message: 'heartbeat', reason: 'stale-term' })
  observer.rejected('coordination', { from: 'peer-b', message: 'heartbeat', reason: 'not-a-voter' })
  assert.equal(stats.get('coordination_rejected_total', { reason: 'not-a-voter' }), 31)
  assert.equal(stats.get('coordination_rejected_total', { reason: 'stale-term' }), 1)
  const refused = lines.filter(l => l.msg === 'coordination message refused')
  // One line per peer, message and reason: each kind is still said once.
  assert.deepEqual(refused.map(l => `${l.peer} ${l.reason}`), ['peer-a not-a-voter', 'peer-a stale-term', 'peer-b not-a-voter'])
  assert.ok(refused.every(l => l.level === 40 && l.refusals === undefined), 'the first of each is a warning, with no count yet')
})
