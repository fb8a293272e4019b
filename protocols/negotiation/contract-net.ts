/**
 * Contract net (R-NEG), the initiator's side: a call for proposals to the agents that match,
 * proposals until the reply-by instant, the award to the best by a scoring function, the
 * awarded agent's confirmation (or the next best if it fails), and rejections to the rest.
 * A proposal that arrives after reply-by is refused with NEG001, whatever its merits: the
 * deadline is the initiator's clock, so no participant's clock matters.
 */
import { randomUUID } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import type { z } from 'zod'
import { AgentMeshError, LateProposalError, NoAgreementError, TimeoutError } from '../core/errors.js'
import type { FramedStream } from '../rpc/framed-stream.js'
import { Answer, Outcome, type Cfp } from './schemas.js'
import { deadline } from '../core/deadline.js'

export interface ContractNetOptions<P> {
  subject: string
  /** The agents asked (peer ids). */
  candidates: string[]
  task: Record<string, unknown>
  constraints?: Record<string, unknown>
  /** How long participants have to propose (default 1 s). */
  replyWithinMs?: number
  /** Higher is better; the default prefers a lower `proposal.cost`, else the first received. */
  score?: (proposal: P, from: string) => number
  /** Checks each proposal; one that fails is counted as a refusal (MSG001). */
  proposal?: z.ZodType<P>
  /** How long the awarded agent has to confirm (default 2 s). */
  confirmWithinMs?: number
  signal?: AbortSignal
}

export interface ContractNetResult<P> {
  negotiationId: string
  /** The agent that was awarded and confirmed, with its proposal and what it answered. */
  winner?: { peer: string, proposal: P, score: number, result?: unknown }
  proposals: Array<{ peer: string, proposal: P, score: number }>
  refusals: Array<{ peer: string, reason: string, code?: string }>
  /**
   * Agents whose proposal came after reply-by: refused with NEG001. One still on the way when
   * the call returns (it waits 300 ms past the award for them) is added here when it comes, up
   * to 2 s later, as it is refused.
   */
  late: string[]
  /** Awarded agents that did not confirm. */
  failed: Array<{ peer: string, reason: string }>
}

export type OpenConversation = (peer: string, signal: AbortSignal) => Promise<FramedStream>

export async function runContractNet<P> (open: OpenConversation, o: ContractNetOptions<P>): Promise<ContractNetResult<P>> {
  const negotiationId = randomUUID()
  const replyBy = Date.now() + (o.replyWithinMs ?? 1_000)
  const cfp: Cfp = { type: 'cfp', negotiation_id: negotiationId, subject: o.subject, task: o.task, constraints: o.constraints ?? {}, reply_by: new Date(replyBy).toISOString() }
  const result: ContractNetResult<P> = { negotiationId, proposals: [], refusals: [], late: [], failed: [] }
  const streams = new Map<string, FramedStream>()
  const budgetMs = (o.replyWithinMs ?? 1_000) + (o.confirmWithinMs ?? 2_000) * (o.candidates.length + 1) + 5_000
  // Not cleared: answers still on the way are read in the background until the budget runs out.
  const overall = deadline(budgetMs, o.signal).signal
  // One conversation per candidate listens on it: ten bidders are not a leak.
  setMaxListeners(Infinity, overall)
  let closedForBids = false
  const score = o.score ?? ((p: P) => { const c = (p as { cost?: unknown } | undefined)?.cost; return typeof c === 'number' ? -c : 0 })

  const ask = async (peer: string): Promise<void> => {
    let fs: FramedStream
    try {
      fs = await open(peer, overall)
      streams.set(peer, fs)
      await fs.writeJson(cfp, overall)
    } catch (err) {
      result.refusals.push({ peer, reason: `unreachable: ${(err as Error).message}`, code: (err as AgentMeshError).code ?? 'COM002' })
      return
    }
    try {
      // Read past reply-by on purpose: a late proposal is answered, not ignored.
      const answer = await fs.readJson(Answer, overall)
      if (closedForBids || Date.now() > replyBy) {
        result.late.push(peer)
        const e = new LateProposalError(`proposal from ${peer} came after reply-by ${cfp.reply_by}`)
        await fs.writeJson({ type: 'reject-proposal', negotiation_id: negotiationId, reason: e.message, code: e.code }).catch(() => {})
        await fs.close()
        streams.delete(peer)
        return
      }
      if (answer.type === 'refuse') { result.refusals.push({ peer, reason: answer.reason }); await fs.close(); streams.delete(peer); return }
      const checked = o.proposal !== undefined ? o.proposal.safeParse(answer.proposal) : { success: true as const, data: answer.proposal as P }
      if (!checked.success) {
        result.refusals.push({ peer, reason: `invalid proposal: ${checked.error.issues.map(i => i.message).join('; ')}`, code: 'MSG001' })
        await fs.writeJson({ type: 'reject-proposal', negotiation_id: negotiationId, reason: 'invalid proposal', code: 'MSG001' }).catch(() => {})
        await fs.close(); streams.delete(peer)
        return
      }
      result.proposals.push({ peer, proposal: checked.data, score: score(checked.data, peer) })
    } catch (err) {
      if (!closedForBids) result.refusals.push({ peer, reason: (err as Error).message, code: (err as AgentMeshError).code })
      fs.abort(err as Error)
      streams.delete(peer)
    }
  }

  const asking = o.candidates.map(async p => { await ask(p) })
  // Collect until reply-by (or until everyone answered).
  await Promise.race([
    Promise.all(asking),
    new Promise<void>(resolve => { const t = setTimeout(resolve, Math.max(0, replyBy - Date.now())); overall.addEventListener('abort', () => { clearTimeout(t); resolve() }, { once: true }) })
  ])
  closedForBids = true
  const ranked = [...result.proposals].sort((a, b) => b.score - a.score)
  try {
    for (const bid of ranked) {
      const fs = streams.get(bid.peer)
      if (fs === undefined) continue
      try {
        await fs.writeJson({ type: 'accept-proposal', negotiation_id: negotiationId }, overall)
        const confirmBy = deadline(o.confirmWithinMs ?? 2_000, overall)
        const outcome = await fs.readJson(Outcome, confirmBy.signal).finally(confirmBy.clear)
        if (outcome.type === 'confirm') {
          result.winner = { ...bid, ...(outcome.result !== undefined ? { result: outcome.result } : {}) }
          await fs.close(); streams.delete(bid.peer)
          break
        }
        result.failed.push({ peer: bid.peer, reason: outcome.reason })
      } catch (err) {
        result.failed.push({ peer: bid.peer, reason: err instanceof TimeoutError ? 'no confirmation in time' : (err as Error).message })
      }
      fs.abort(new Error('award withdrawn')); streams.delete(bid.peer)
    }
    // Everyone else who proposed in time hears they were not chosen.
    await Promise.all([...streams.entries()].filter(([peer]) => result.proposals.some(p => p.peer === peer)).map(async ([peer, fs]) => {
      await fs.writeJson({ type: 'reject-proposal', negotiation_id: negotiationId, reason: result.winner !== undefined ? `awarded to ${result.winner.peer}` : 'no award' }).catch(() => {})
      await fs.close(); streams.delete(peer)
    }))
    // Late answers still on the way get their refusal: wait a little for them here, and let
    // the rest be answered in the background for a bounded time.
    await Promise.race([Promise.all(asking), new Promise(resolve => setTimeout(resolve, 300).unref?.())])
  } finally {
    const stragglers = [...streams.values()]
    if (stragglers.length > 0) setTimeout(() => { for (const fs of stragglers) fs.abort(new Error('negotiation over')) }, 2_000).unref?.()
  }
  if (result.winner === undefined) {
    const e = new NoAgreementError(`contract net ${negotiationId} on "${o.subject}": no agent confirmed (${result.proposals.length} proposals, ${result.refusals.length} refusals, ${result.late.length} late)`)
    Object.assign(e, { result })
    throw e
  }
  return result
}
