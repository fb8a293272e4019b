/**
 * Messages of /agentmesh/negotiate/1.0.0 (R-NEG). One stream is one conversation between the
 * initiator and one participant.
 *
 * Contract net:  cfp -> propose | refuse;  then accept-proposal -> confirm | failure, or
 *                reject-proposal (not chosen, or late: NEG001).
 * Bilateral:     offer (round 1) -> offer (round 2, the counter) -> ... -> accept | walk-away,
 *                rounds numbered across both sides and bounded by max_rounds.
 */
import { z } from 'zod'

export const NEGOTIATE_PROTOCOL = '/agentmesh/negotiate/1.0.0'

const Id = z.string().min(1).max(128)
const Subject = z.string().min(1).max(128)
const Reason = z.string().max(1024)
const Timestamp = z.iso.datetime({ offset: true })

export const Cfp = z.strictObject({
  type: z.literal('cfp'),
  negotiation_id: Id,
  subject: Subject,
  /** What is to be done: a task description, free-form for the subject's participants. */
  task: z.record(z.string(), z.unknown()),
  constraints: z.record(z.string(), z.unknown()).default({}),
  /** Proposals received after this instant are refused (NEG001). */
  reply_by: Timestamp
})
export type Cfp = z.infer<typeof Cfp>

export const Propose = z.strictObject({ type: z.literal('propose'), negotiation_id: Id, proposal: z.unknown() })
export const Refuse = z.strictObject({ type: z.literal('refuse'), negotiation_id: Id, reason: Reason })
export const AcceptProposal = z.strictObject({ type: z.literal('accept-proposal'), negotiation_id: Id })
export const RejectProposal = z.strictObject({ type: z.literal('reject-proposal'), negotiation_id: Id, reason: Reason, code: z.string().max(16).optional() })
export const Confirm = z.strictObject({ type: z.literal('confirm'), negotiation_id: Id, result: z.unknown().optional() })
export const Failure = z.strictObject({ type: z.literal('failure'), negotiation_id: Id, reason: Reason })

export const Offer = z.strictObject({
  type: z.literal('offer'),
  negotiation_id: Id,
  round: z.number().int().min(1).max(1000),
  terms: z.unknown(),
  /** Sent with round 1 only: what the conversation is about, and its bounds. */
  subject: Subject.optional(),
  max_rounds: z.number().int().min(1).max(1000).optional(),
  deadline: Timestamp.optional()
})
export type Offer = z.infer<typeof Offer>
export const Accept = z.strictObject({ type: z.literal('accept'), negotiation_id: Id, round: z.number().int().min(1) })
export const WalkAway = z.strictObject({ type: z.literal('walk-away'), negotiation_id: Id, round: z.number().int().min(0), reason: Reason })

/** What opens a conversation. */
export const Opening = z.discriminatedUnion('type', [Cfp, Offer])
export const Answer = z.discriminatedUnion('type', [Propose, Refuse])
export const Decision = z.discriminatedUnion('type', [AcceptProposal, RejectProposal])
export const Outcome = z.discriminatedUnion('type', [Confirm, Failure])
export const Move = z.discriminatedUnion('type', [Offer, Accept, WalkAway])
