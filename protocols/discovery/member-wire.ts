/**
 * The member view's wire format. An agent's statement of itself (its incarnation, card, whom it
 * suspects, that it leaves) is a signed JSON body, relayed as is: gossip to a few random
 * neighbours (`member-gossip`, news only), and full exchanges with one neighbour
 * (`member-sync`, on first contact and every `membership.syncIntervalMs`). Probes stay direct.
 */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'
import { Credential } from '../admission/credential.js'
import { MAX_ADDR_LENGTH, MAX_STATEMENT_ADDRS } from './member-addresses.js'
import { MAX_STATEMENT_TOPICS, TOPIC_KEY_PATTERN } from './topic-rendezvous.js'
import { AREAS, DIGEST_BUCKETS, DIGEST_TEXT_LENGTH } from './member-digest.js'

const PeerIdString = z.string().min(1).max(128)
const Incarnation = z.number().int().nonnegative()
const Seq = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)

/** What an agent says of itself; `seq` orders its statements (a new one replaces the older everywhere). */
export const MemberStatement = z.strictObject({
  peerId: PeerIdString,
  name: z.string().max(64),
  roles: z.array(z.string().max(64)).max(32),
  eligible: z.boolean(),
  incarnation: Incarnation,
  leaving: z.boolean().optional(),
  suspects: z.array(z.strictObject({ peerId: PeerIdString, incarnation: Incarnation })).max(256),
  seq: Seq,
  /** Where it can be dialled (member-addresses.ts): agents that know it by rumour alone reach it. */
  addrs: z.array(z.string().min(1).max(MAX_ADDR_LENGTH)).max(MAX_STATEMENT_ADDRS).optional(),
  /** The keys of the topics it subscribes to (topic-rendezvous.ts): how its topics' subscribers and publishers find it. */
  topics: z.array(z.string().regex(TOPIC_KEY_PATTERN)).max(MAX_STATEMENT_TOPICS).optional()
})
export type MemberStatement = z.infer<typeof MemberStatement>

/** 256 suspects of ~70 bytes, and the card: a statement is far below this. */
export const MAX_STATEMENT_BYTES = 32 * 1024

/**
 * `cred`: its author's credential, in a closed mesh (member-credentials.ts): relayed with it, so
 * agents it never met can tell it was let in.
 */
export const SignedStatement = z.strictObject({
  body: z.string().min(2).max(MAX_STATEMENT_BYTES), sig: z.string().min(1).max(700), cred: Credential.optional()
})
export type SignedStatement = z.infer<typeof SignedStatement>

/** Statements one gossip message carries at most (the least-told first), and about how many bytes. */
export const GOSSIP_MAX_STATEMENTS = 32
export const GOSSIP_MAX_BYTES = 64 * 1024
/** Statements a full exchange carries at most: one per live member. */
export const SYNC_MAX_STATEMENTS = 4096

/**
 * News, the least-told first. The answer's `known` (bit i: statement i was held already, or is
 * the receiver's own) lets the sender stop telling news its neighbours have (rumours.ts
 * `feedback`, member-table.ts `feedbackFor`); an answer without it (an agent of an earlier version) stops nothing.
 */
export const MemberGossip = defineCommand('$agentmesh/member-gossip', {
  request: z.strictObject({ statements: z.array(SignedStatement).max(GOSSIP_MAX_STATEMENTS) }),
  response: z.strictObject({ known: z.number().int().min(0).max(0xffffffff).optional() })
})

export const MemberSync = defineCommand('$agentmesh/member-sync', {
  request: z.strictObject({ statements: z.array(SignedStatement).max(SYNC_MAX_STATEMENTS) }),
  response: z.strictObject({ statements: z.array(SignedStatement).max(SYNC_MAX_STATEMENTS) })
})

/**
 * The same command as the server takes it: the statements only counted, so that an exchange over
 * its sender's budget is refused before any is parsed (members.ts parses them with MemberSync's
 * schema after charging them).
 */
export const MemberSyncIntake = defineCommand(MemberSync.name, {
  request: z.strictObject({ statements: z.array(z.unknown()).max(SYNC_MAX_STATEMENTS) }),
  response: MemberSync.response
})

/**
 * A full exchange by digest (member-digest.ts, member-exchange.ts): the asker's sums under its salt; the answer,
 * its (member, seq) entries in the buckets that differ (`buckets`: those listed, whole; `more`:
 * some left out for the next round). Then `member-patch` carries the statements each side lacks.
 * An agent of an older build answers UnknownCommandError and is exchanged with by `member-sync`.
 */
export const MemberDigest = defineCommand('$agentmesh/member-digest', {
  request: z.strictObject({ sums: z.string().length(DIGEST_TEXT_LENGTH).regex(/^[0-9a-f]+$/), salt: z.string().regex(/^[0-9a-f]{8}$/) }),
  response: z.strictObject({
    entries: z.array(z.tuple([PeerIdString, Seq])).max(SYNC_MAX_STATEMENTS),
    buckets: z.array(z.number().int().nonnegative().lt(DIGEST_BUCKETS)).max(DIGEST_BUCKETS),
    more: z.boolean()
  })
})

/**
 * The digest's second version (issue 46): the same exchange, its sums mixed from each entry's
 * fingerprint kept since its statement was taken (member-digest.ts `share`), under a 16-digit
 * salt; the answer as `member-digest`'s. A new command, not a field of the old one: an older
 * build's strict schema would refuse a new field (MSG, not CMD001), and its sums of the first
 * version would never agree with these. An agent that answers it UnknownCommandError is asked
 * by `member-digest` (member-exchange.ts), and one that knows neither by `member-sync`.
 */
export const MemberSums = defineCommand('$agentmesh/member-sums', {
  request: z.strictObject({ sums: MemberDigest.request.shape.sums, salt: z.string().regex(/^[0-9a-f]{16}$/) }),
  response: MemberDigest.response
})

/**
 * The digest's third version (issue 46): `member-sums`' sums and salt, with how many entries they
 * cover in all (`count`) and, in a round after an answer that had some buckets compared by cell
 * (`split`), the asker's sums of each of those buckets by cell (`cells`: 64 sums a bucket, the
 * same form as `sums`). The answer lists areas (`buckets`: 0-63 a whole bucket, 64 + a cell's
 * number one cell: member-digest.ts `Areas`), and names the buckets it would rather compare by
 * cell next round (`split`: large ones, when the asker is not far behind; `more` still means only
 * that areas were left out of the listing). A bucket holds N/64
 * members, and two neighbours late in a join differ by a few in most of them: whole buckets
 * listed what the asker held already, three quarters of a join's listings at 1,000 agents
 * (bench:sim). A new command for the reason `member-sums` is one: an agent that answers it
 * UnknownCommandError is asked by `member-sums`.
 */
export const MemberCells = defineCommand('$agentmesh/member-cells', {
  request: z.strictObject({
    sums: MemberDigest.request.shape.sums,
    salt: MemberSums.request.shape.salt,
    count: z.number().int().nonnegative().max(0x7fffffff),
    cells: z.array(z.strictObject({
      bucket: z.number().int().nonnegative().lt(DIGEST_BUCKETS),
      sums: MemberDigest.request.shape.sums
    })).max(DIGEST_BUCKETS).optional()
  }),
  response: z.strictObject({
    entries: MemberDigest.response.shape.entries,
    buckets: z.array(z.number().int().nonnegative().lt(AREAS)).max(AREAS),
    split: z.array(z.number().int().nonnegative().lt(DIGEST_BUCKETS)).max(DIGEST_BUCKETS),
    more: z.boolean()
  })
})

/**
 * The statements the answerer lacks, and the members whose statements the asker wants; the
 * answer, those it holds of a live member (`more`: cut at the exchange's limits).
 */
export const MemberPatch = defineCommand('$agentmesh/member-patch', {
  request: z.strictObject({ statements: z.array(SignedStatement).max(SYNC_MAX_STATEMENTS), want: z.array(PeerIdString).max(SYNC_MAX_STATEMENTS) }),
  response: z.strictObject({ statements: z.array(SignedStatement).max(SYNC_MAX_STATEMENTS), more: z.boolean() })
})

/** MemberPatch as the server takes it: statements counted and charged before any is parsed, as MemberSyncIntake. */
export const MemberPatchIntake = defineCommand(MemberPatch.name, {
  request: z.strictObject({ statements: z.array(z.unknown()).max(SYNC_MAX_STATEMENTS), want: MemberPatch.request.shape.want }),
  response: MemberPatch.response
})

export const Probe = defineCommand('$agentmesh/probe', {
  request: z.strictObject({ incarnation: Incarnation }),
  response: z.strictObject({ incarnation: Incarnation, eligible: z.boolean(), name: z.string().max(64), roles: z.array(z.string().max(64)).max(32) })
})

/** About how many bytes a statement takes on the wire (its credential counted at its JSON size). */
export function statementSize (s: SignedStatement): number {
  return s.body.length + s.sig.length + (s.cred === undefined ? 0 : JSON.stringify(s.cred).length)
}

/** A statement's body, parsed and checked; undefined when it is not one. */
export function parseStatement (body: string): MemberStatement | undefined {
  let raw: unknown
  try { raw = JSON.parse(body) } catch { return undefined }
  const r = MemberStatement.safeParse(raw)
  return r.success ? r.data : undefined
}
