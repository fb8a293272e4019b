/**
 * The election's wire format: one command, `$agentmesh/election`, carries votes, heartbeats and
 * voter-set queries; their replies come back as the RPC answers (or null when there is none).
 */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'
import { defineTopic } from '../pubsub/topics.js'
import type { ElectionMessage } from './election-types.js'

export const PeerIdSchema = z.string().min(1).max(128)
export const TermSchema = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)
export const VoterConfigSchema = z.strictObject({ version: TermSchema, term: TermSchema, voters: z.array(PeerIdSchema).max(256) })

const VoteDenialSchema = z.enum(['stale-term', 'already-voted', 'not-up-to-date', 'leader-alive', 'not-a-voter', 'bootstrap-mismatch', 'not-eligible', 'term-too-far'])

/** A signature, base64: 88 characters for Ed25519; room for the longer ones of other key types. */
export const SignatureSchema = z.string().min(1).max(700)
/** At most one signed vote per voter of the set (VoterConfigSchema's 256). */
export const CertificateSchema = z.strictObject({
  term: TermSchema,
  leader: PeerIdSchema,
  config: VoterConfigSchema,
  votes: z.array(z.strictObject({ voter: PeerIdSchema, sig: SignatureSchema })).min(1).max(256)
})

export const ElectionMessageSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('vote'), term: TermSchema, candidate: PeerIdSchema, config: VoterConfigSchema, pre: z.boolean(), proof: CertificateSchema.optional()
  }),
  z.strictObject({
    type: z.literal('vote-reply'),
    term: TermSchema,
    granted: z.boolean(),
    pre: z.boolean(),
    reason: VoteDenialSchema.optional(),
    config: VoterConfigSchema.optional(),
    sig: SignatureSchema.optional(),
    proof: CertificateSchema.optional()
  }),
  z.strictObject({
    type: z.literal('heartbeat'),
    term: TermSchema,
    leader: PeerIdSchema,
    config: VoterConfigSchema,
    seq: TermSchema,
    cert: CertificateSchema.optional(),
    // How long the leader asks the voter to hold at least; sent only when acks are too slow for the minimum timeout (holdToAsk).
    holdMs: z.number().int().min(0).max(3_600_000).optional()
  }),
  z.strictObject({
    type: z.literal('heartbeat-ack'),
    term: TermSchema,
    seq: TermSchema,
    success: z.boolean(),
    configVersion: TermSchema,
    proof: CertificateSchema.optional(),
    endorse: SignatureSchema.optional(),
    // How long the voter refuses other candidates' votes after this heartbeat (the leader's lease).
    holdMs: z.number().int().min(0).max(3_600_000).optional()
  }),
  // `bootstrap`: asked before a bootstrap (bootstrap-check.ts), answered with the leader's certificate; an older agent refuses it.
  z.strictObject({ type: z.literal('config-query'), bootstrap: z.boolean().optional() }),
  z.strictObject({ type: z.literal('config-reply'), term: TermSchema, config: VoterConfigSchema.optional(), proof: CertificateSchema.optional() })
])

export const ElectionCommand = defineCommand('$agentmesh/election', {
  request: ElectionMessageSchema,
  response: z.union([ElectionMessageSchema, z.null()])
})

/**
 * The messages that are requests (sent with the command); the others are replies, and are
 * taken only as the answer to a request this node sent: sent as requests they are refused.
 */
export const REQUESTS: ReadonlySet<ElectionMessage['type']> = new Set<ElectionMessage['type']>(['vote', 'heartbeat', 'config-query'])

/**
 * Whether the answer to `request`, sent at `sentAt`, comes too late to count and is dropped
 * unread: a vote's answer from before the node's current campaign round (a pre-vote grant has no
 * round of its own), or "no set known" to a bootstrap question older than the one out (a
 * certificate counts whenever it comes; with no question out, every "no set" is old). The
 * service applies it to every answer, and bench:sim's world does the same.
 */
export function staleAnswer (
  request: ElectionMessage, answer: ElectionMessage | null, sentAt: number, node: { roundStartedAt: number, checkStartedAt: number } | undefined
): boolean {
  return (request.type === 'vote' && sentAt < (node?.roundStartedAt ?? -Infinity)) ||
    (request.type === 'config-query' && request.bootstrap === true && answer?.type === 'config-reply' && answer.proof === undefined && sentAt < (node?.checkStartedAt ?? Infinity))
}

/**
 * The leader's announcement, gossiped to every agent every `coordination.announceIntervalMs`
 * and at once after a win or a change of the voter set: how non-voters learn the coordinator
 * (election.ts, `announcement`). The certificate is always there: a receiver that has not
 * followed this leader yet checks it.
 */
export const COORDINATOR_TOPIC = defineTopic('$agentmesh/coordinator', z.strictObject({
  term: TermSchema, leader: PeerIdSchema, config: VoterConfigSchema, cert: CertificateSchema
}))
