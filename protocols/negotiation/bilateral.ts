/**
 * Bilateral negotiation (R-NEG): numbered rounds of offers and counter-offers between two
 * agents, ended by an accept or a walk-away, bounded by a number of rounds and a deadline.
 * Both sides run the same loop; only who speaks first differs. Round n is the n-th offer,
 * whoever made it; an offer past `max_rounds` is never made: the side that would make it walks
 * away instead.
 */
import type { z } from 'zod'
import { NoAgreementError, TimeoutError, ValidationError } from '../core/errors.js'
import type { FramedStream } from '../rpc/framed-stream.js'
import { Move } from './schemas.js'

/** What a side does with the other's offer. */
export type Response<T> = { accept: true } | { counter: T } | { walkAway: string }
export type Respond<T> = (theirs: T, round: number) => Response<T> | Promise<Response<T>>

export interface Agreement<T> { negotiationId: string, terms: T, rounds: number, acceptedBy: 'us' | 'them' }

/**
 * Carry a conversation on from `lastRound` (the round of the offer just sent, or 0 if the other
 * side opened and `theirs` is its first offer) until an accept or a walk-away.
 */
export async function converse<T> (fs: FramedStream, o: {
  negotiationId: string
  maxRounds: number
  deadline: number
  respond: Respond<T>
  terms?: z.ZodType<T>
  /** Our last offer and its round, if we made one. */
  ours?: { terms: T, round: number }
  /** Their offer waiting for our response, if they opened. */
  theirs?: { terms: unknown, round: number }
}): Promise<Agreement<T>> {
  const id = o.negotiationId
  let ours = o.ours
  let pending = o.theirs
  const signal = AbortSignal.timeout(Math.max(1, o.deadline - Date.now()))
  const walk = async (round: number, reason: string): Promise<never> => {
    await fs.writeJson({ type: 'walk-away', negotiation_id: id, round, reason }).catch(() => {})
    await fs.close()
    throw new NoAgreementError(`negotiation ${id}: walked away at round ${round}: ${reason}`)
  }
  try {
    for (;;) {
      if (pending === undefined) {
        const move = await fs.readJson(Move, signal)
        if (move.type === 'accept') {
          if (ours === undefined || move.round !== ours.round) throw new ValidationError(`accept of round ${move.round}, but our last offer was round ${ours?.round ?? 'none'}`)
          await fs.close()
          return { negotiationId: id, terms: ours.terms, rounds: ours.round, acceptedBy: 'them' }
        }
        if (move.type === 'walk-away') throw new NoAgreementError(`negotiation ${id}: the other side walked away at round ${move.round}: ${move.reason}`)
        const expected = (ours?.round ?? 0) + 1
        if (move.round !== expected) return await walk(move.round, `offer numbered ${move.round}, expected ${expected}`)
        if (move.round > o.maxRounds) return await walk(move.round, `round ${move.round} is past the limit of ${o.maxRounds}`)
        pending = { terms: move.terms, round: move.round }
      }
      const checked = o.terms !== undefined ? o.terms.safeParse(pending.terms) : { success: true as const, data: pending.terms as T }
      if (!checked.success) return await walk(pending.round, `terms that do not parse: ${checked.error.issues.map(i => i.message).join('; ')}`)
      const r = await o.respond(checked.data, pending.round)
      // A response that took past the deadline is not sent: the other side has given up (NEG002 both sides).
      if (signal.aborted) throw new TimeoutError('the deadline passed while responding')
      if ('accept' in r) {
        await fs.writeJson({ type: 'accept', negotiation_id: id, round: pending.round }, signal)
        await fs.close()
        return { negotiationId: id, terms: checked.data, rounds: pending.round, acceptedBy: 'us' }
      }
      if ('walkAway' in r) return await walk(pending.round, r.walkAway)
      const round = pending.round + 1
      if (round > o.maxRounds) return await walk(pending.round, `no agreement within ${o.maxRounds} rounds`)
      await fs.writeJson({ type: 'offer', negotiation_id: id, round, terms: r.counter }, signal)
      ours = { terms: r.counter, round }
      pending = undefined
    }
  } catch (err) {
    if (err instanceof TimeoutError) {
      await fs.writeJson({ type: 'walk-away', negotiation_id: id, round: ours?.round ?? 0, reason: 'deadline passed' }).catch(() => {})
      fs.abort(err)
      throw new NoAgreementError(`negotiation ${id}: the deadline passed after round ${ours?.round ?? pending?.round ?? 0}`)
    }
    if (!(err instanceof NoAgreementError)) fs.abort(err as Error)
    throw err
  }
}
