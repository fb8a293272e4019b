/**
 * Negotiation over /agentmesh/negotiate/1.0.0 between real nodes: a contract net with a late
 * bidder, a refusal and an invalid proposal; an award that is not confirmed going to the next
 * best; bilateral rounds that agree, run out, or are walked away from; a task placed by bids.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { z } from 'zod'
import type { AgentNode, TaskContext } from '../../../surfaces/index.js'
import type { NegotiationEvent } from '../../../protocols/negotiation/index.js'
import { officeHolder, startMesh, stopAll, waitFor } from '../../helpers.js'

const Bid = z.strictObject({ cost: z.number().nonnegative() })
const events = (n: AgentNode): NegotiationEvent[] => {
  const list: NegotiationEvent[] = []
  n.addEventListener('negotiation', (e) => { list.push(e.detail) })
  return list
}

test('negotiation: contract net awards the best proposal in time; a late one is refused NEG001, an invalid one MSG001, the rest rejected', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(6)
  try {
    const [initiator, ...bidders] = nodes
    const seen = nodes.map(events)
    const costs = [5, 3]
    const awarded: string[] = []
    bidders[0].negotiation.onCallForProposals('haul', { propose: () => ({ cost: costs[0] }), award: () => { awarded.push('n1'); return { eta: 10 } } })
    bidders[1].negotiation.onCallForProposals('haul', { propose: (cfp) => { assert.equal(cfp.task.load, 'crates'); return { cost: costs[1] } }, award: () => { awarded.push('n2'); return { eta: 7 } } })
    bidders[2].negotiation.onCallForProposals('haul', { propose: () => undefined })
    // The cheapest of all, but after reply-by.
    bidders[3].negotiation.onCallForProposals('haul', { propose: async (cfp) => { await new Promise(resolve => setTimeout(resolve, Date.parse(cfp.reply_by) - Date.now() + 150)); return { cost: 1 } }, award: () => { awarded.push('n4') } })
    bidders[4].negotiation.onCallForProposals('haul', { propose: () => ({ cost: 'cheap' }) })

    const r = await initiator.negotiation.contractNet({ subject: 'haul', candidates: bidders.map(b => b.peerId), task: { load: 'crates' }, replyWithinMs: 400, proposal: Bid, score: (p) => -p.cost })
    assert.equal(r.winner?.peer, bidders[1].peerId)
    assert.deepEqual(r.winner?.result, { eta: 7 })
    assert.deepEqual(awarded, ['n2'])
    assert.deepEqual(r.proposals.map(p => p.peer).sort(), [bidders[0].peerId, bidders[1].peerId].sort())
    assert.ok(r.refusals.some(x => x.peer === bidders[2].peerId && x.reason === 'declined'))
    assert.ok(r.refusals.some(x => x.peer === bidders[4].peerId && x.code === 'MSG001'))
    assert.deepEqual(r.late, [bidders[3].peerId])
    const outcome = (i: number): string | undefined => seen[i].find(e => e.kind === 'contract_net')?.outcome
    await waitFor(() => outcome(4) !== undefined && outcome(1) !== undefined, 'the participants to hear the outcome')
    assert.equal(outcome(1), 'rejected')
    assert.equal(outcome(2), 'awarded')
    assert.equal(outcome(3), 'refused')
    assert.equal(outcome(4), 'late', 'the late bidder was told it was late')
    assert.equal(outcome(0), 'awarded')
    // The counters say the same.
    const m = (await bidders[3].stats.exposition()).body
    assert.match(m, /negotiations_total\{kind="contract_net",role="participant",outcome="late"\} 1/)
  } finally {
    await stopAll(nodes)
  }
})

test('negotiation: an award that is not confirmed goes to the next best; no proposal at all is NEG002', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3)
  try {
    const [initiator, a, b] = nodes
    a.negotiation.onCallForProposals('paint', { propose: () => ({ cost: 1 }), award: () => { throw new Error('out of paint') } })
    b.negotiation.onCallForProposals('paint', { propose: () => ({ cost: 2 }), award: () => 'on it' })
    const r = await initiator.negotiation.contractNet({ subject: 'paint', candidates: [a.peerId, b.peerId], task: {}, replyWithinMs: 300, proposal: Bid })
    assert.equal(r.winner?.peer, b.peerId)
    assert.equal(r.winner?.result, 'on it')
    assert.deepEqual(r.failed, [{ peer: a.peerId, reason: 'out of paint' }])
    await assert.rejects(initiator.negotiation.contractNet({ subject: 'sculpt', candidates: [a.peerId, b.peerId], task: {}, replyWithinMs: 200 }),
      (e: Error & { code?: string }) => e.code === 'NEG002' && /0 proposals, 2 refusals/.test(e.message))
  } finally {
    await stopAll(nodes)
  }
})

test('negotiation: bilateral rounds reach agreement, run out of rounds (NEG002), or end with a walk-away', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2)
  try {
    const [buyer, seller] = nodes
    const Price = z.strictObject({ price: z.number() })
    // The seller starts from 100 and comes down by 10 a round; it takes anything at or above 70.
    seller.negotiation.onNegotiation<{ price: number }>('lamp', (theirs, round) => theirs.price >= 70 ? { accept: true } : { counter: { price: 100 - 10 * Math.floor(round / 2) } }, { terms: Price })
    const rounds: number[] = []
    const deal = await buyer.negotiation.negotiate({
      peer: seller.peerId,
      subject: 'lamp',
      terms: { price: 40 },
      schema: Price,
      maxRounds: 10,
      // The buyer goes up by 10 each time, and accepts any counter at or below 80.
      respond: (theirs, round) => { rounds.push(round); return theirs.price <= 80 ? { accept: true } : { counter: { price: 40 + 10 * Math.floor(round / 2) } } }
    })
    // 40 (1), 100 (2), 50 (3), 90 (4), 60 (5), 80 (6): the buyer takes the seller's 80.
    assert.equal(deal.terms.price, 80)
    assert.equal(deal.acceptedBy, 'us')
    assert.deepEqual(rounds, [2, 4, 6], 'the buyer answered the even rounds, numbered across both sides')
    assert.equal(deal.rounds, 6)

    // A seller that never comes down: the rounds run out.
    seller.negotiation.onNegotiation<{ price: number }>('vase', () => ({ counter: { price: 500 } }))
    await assert.rejects(buyer.negotiation.negotiate({ peer: seller.peerId, subject: 'vase', terms: { price: 10 }, maxRounds: 4, respond: () => ({ counter: { price: 10 } }) }),
      (e: Error & { code?: string }) => e.code === 'NEG002' && /4 rounds|past the limit/.test(e.message))
    // A walk-away, with its reason.
    seller.negotiation.onNegotiation('rug', () => ({ walkAway: 'not for sale' }))
    await assert.rejects(buyer.negotiation.negotiate({ peer: seller.peerId, subject: 'rug', terms: { price: 1 }, respond: () => ({ accept: true }) }),
      (e: Error & { code?: string }) => e.code === 'NEG002' && /not for sale/.test(e.message))
    // Nobody negotiates this subject.
    await assert.rejects(buyer.negotiation.negotiate({ peer: seller.peerId, subject: 'moon', terms: {}, respond: () => ({ accept: true }) }),
      (e: Error & { code?: string }) => e.code === 'NEG002' && /no one negotiates/.test(e.message))
  } finally {
    await stopAll(nodes)
  }
})

test('negotiation: a task submitted with assignment "contract_net" goes to the agent that won the bids', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, () => ({ preset: 'local' as const, coordination: { bootstrapExpect: 4 } }))
  try {
    const coordinator = await officeHolder(nodes, 'a coordinator', 20_000)
    const seen = nodes.map(events)
    for (const n of nodes) n.onTask('bake', async (ctx: TaskContext) => `${n.name}:${ctx.taskId}`)
    const h = await nodes[0].submitTask({ task_id: 'bread', type: 'bake', assignment: 'contract_net' })
    const result = await h.result() as string
    const winner = nodes.find(n => result.startsWith(`${n.name}:`)) as AgentNode
    assert.notEqual(winner, coordinator, 'the coordinator calls for bids; it does not bid')
    const i = nodes.indexOf(winner)
    assert.ok(seen[i].some(e => e.kind === 'contract_net' && e.role === 'participant' && e.outcome === 'awarded'))
    assert.ok(seen[nodes.indexOf(coordinator)].some(e => e.kind === 'contract_net' && e.role === 'initiator' && e.outcome === 'awarded'))
  } finally {
    await stopAll(nodes)
  }
})

test('negotiation: a bilateral negotiation past its deadline ends with NEG002 on both sides, at the deadline, whoever is slow', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2)
  try {
    const [buyer, seller] = nodes
    const seen = events(seller)
    // The seller thinks longer than the deadline allows.
    seller.negotiation.onNegotiation<{ price: number }>('clock', async () => { await new Promise(resolve => setTimeout(resolve, 1_500)); return { accept: true } })
    let started = performance.now()
    await assert.rejects(buyer.negotiation.negotiate({ peer: seller.peerId, subject: 'clock', terms: { price: 5 }, deadlineMs: 500, respond: () => ({ accept: true }) }),
      (e: Error & { code?: string }) => e.code === 'NEG002' && /deadline/.test(e.message))
    const waited = performance.now() - started
    assert.ok(waited >= 450 && waited < 1_400, `the buyer gave up at its deadline, not when the seller answered (${Math.round(waited)} ms)`)
    await waitFor(() => seen.some(e => e.kind === 'bilateral' && e.role === 'participant' && e.subject === 'clock'), 'the seller to end its side')
    assert.equal(seen.find(e => e.subject === 'clock')?.outcome, 'NEG002')

    // The buyer is the slow one this time: the seller's counter is never answered in time.
    seller.negotiation.onNegotiation<{ price: number }>('clock2', () => ({ counter: { price: 9 } }))
    started = performance.now()
    await assert.rejects(buyer.negotiation.negotiate({
      peer: seller.peerId,
      subject: 'clock2',
      terms: { price: 5 },
      deadlineMs: 500,
      respond: async () => { await new Promise(resolve => setTimeout(resolve, 1_000)); return { accept: true } }
    }), (e: Error & { code?: string }) => e.code === 'NEG002' && /deadline/.test(e.message))
    await waitFor(() => seen.some(e => e.subject === 'clock2'), 'the seller to end its side')
    assert.equal(seen.find(e => e.subject === 'clock2')?.outcome, 'NEG002', 'the seller did not take the late accept as an agreement')
  } finally {
    await stopAll(nodes)
  }
})
