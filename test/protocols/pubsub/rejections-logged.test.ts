// A batch refused is counted each time and logged at most once a second per peer that sent it,
// with how many it sent since: a publisher's own fan-out stream costs it no gossipsub score, so
// its bad batches, up to its rate limit, would otherwise each write a warning line.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { pino } from 'pino'
import { encodeBatch, envelopeToJson, makeEnvelope } from '../../../protocols/envelope/index.js'
import { GossipGuard } from '../../../protocols/pubsub/index.js'
import { Inbound } from '../../../protocols/pubsub/inbound.js'
import { sleep } from '../../helpers.js'

const P = '12D3KooWK1CnnJqu9B6ADomEiVi4wejxjoFQ367AN3Kc48LV3YEB'
const Q = '12D3KooWPcGSsWHfqCH53ViMVTfQ4Hi3V8bUFqjiXiomQwhyTvKE'

test('rejected batches: each counted, logged once a second per sender with the count since', { timeout: 30_000 }, async () => {
  const lines: Array<Record<string, unknown>> = []
  const log = pino({ level: 'warn' }, { write: (s: string) => { lines.push(JSON.parse(s)) } })
  const counted: string[] = []
  const stats = { inc: (name: string, labels?: Record<string, string>) => { if (name === 'gossip_rejected_total') counted.push(labels?.reason ?? '') } } as any
  const guard = new GossipGuard({ libp2p: { services: {}, hangUp: async () => {} } as any, stats, log, publishPerSec: 0, floodSeconds: 0 })
  const inbound = new Inbound({ self: 'me', stats, log, guard, maxBatchBytes: 1 << 20, gate: () => undefined })
  // Envelopes that claim another source than the peer that published them: forged.
  const forged = encodeBatch([envelopeToJson(makeEnvelope({ source: Q, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: 1 }))])
  const logged = (): Array<Record<string, unknown>> => lines.filter(l => l.msg === 'gossip message rejected')
  for (let i = 0; i < 50; i++) assert.deepEqual(inbound.check(P, P, 'news', forged, undefined, 'direct'), { reason: 'forged_source' })
  assert.equal(counted.length, 50, 'each counted')
  assert.equal(logged().length, 1, 'the first logged')
  assert.equal(logged()[0].peer, P)
  // Another sender is logged on its own.
  inbound.check(Q, P, 'news', forged, undefined, 'gossip')
  assert.equal(logged().length, 2)
  assert.equal(logged()[1].peer, Q)
  // A second later the next is logged with how many P sent since the last logged one (49, and this one).
  await sleep(1_100)
  inbound.check(P, P, 'news', forged, undefined, 'direct')
  assert.equal(logged().length, 3)
  assert.equal(logged()[2].rejected, 50)
  assert.equal(counted.length, 52)
})
