/**
 * Anti-entropy between the coordinator's task table and each voter's replica (issue 46).
 *
 * Replication sends every batch to every voter but waits only for a majority (replication.ts):
 * a voter down, cut off or slow for a batch keeps an older copy of those records, or none, until
 * they change again. Nothing acknowledged is lost by that (a majority holds it), but the record
 * stands on fewer voters than it could, and a voter restarted after a day away holds a day's
 * worth less than the others. So the coordinator compares its table with the voters' replicas,
 * each voter about every REPLICA_SYNC_EVERY_MS and soon after it comes back:
 *
 * 1. it sums (task_id, term, version) of every record it holds into the member exchange's
 *    bucketed digest (discovery/member-digest.ts, salted afresh each round) and sends the sums;
 * 2. the voter sums its own the same way and lists its entries of the buckets that differ; a
 *    bucket too large to list whole (past ~64,000 records in all) is compared again alone, by
 *    sub-bucket (a second hash of the id), and the voter lists the sub-buckets that differ;
 * 3. the coordinator sends, signed and paged as replication does, each record the voter lacks or
 *    holds older (by term, then version, as the table merges), at most REPAIR_MAX_RECORDS a
 *    comparison, and the mark of each record it pruned that the voter still holds from before it.
 *
 * At rest nothing differs: one request of 64 sums and an empty answer per voter per round, and a
 * walk of the table on both sides. A record the voter holds and the coordinator neither holds nor
 * marked (a copy the takeover refused) is left alone; its bucket is listed each round.
 *
 * A voter is an insider (it holds a coordinator's credential), and what it lists is its word
 * only: it may claim to lack everything. What that costs the coordinator is bounded here: one
 * comparison per voter per REPLICA_SYNC_EVERY_MS (REPLICA_SOON_MS after it came back), at most
 * MAX_ROUNDS rounds and REPAIR_MAX_RECORDS records a comparison, two comparisons at once, each
 * request under the request timeout.
 *
 * This file: the pure comparison (`listForDigest`, `repairsFor`) and the coordinator's shell
 * (`ReplicaSync`); the voter's answer is in replica.ts.
 */
import type { RpcService } from '../rpc/index.js'
import { AgentMeshError, UnknownCommandError } from '../core/errors.js'
import { DIGEST_BUCKETS, bucketOf, decodeDigest, encodeDigest, entryHash, randomSalt } from '../discovery/member-digest.js'
import { REPLICA_LISTED_CHARS, REPLICA_LISTED_MAX, ReplicaDigestCommand, type PrunedMark, type ReplicaEntry, type TaskRecord } from './schemas.js'

/** How often one voter's replica is compared with the table, at most. */
export const REPLICA_SYNC_EVERY_MS = 10_000
/** A voter that came back (alive again) is compared this long after its last comparison, at the soonest. */
export const REPLICA_SOON_MS = 3_000
/** A record sent to the voters less than this long ago is not sent by a comparison: its batch may be on its way. */
export const REPLICA_SETTLE_MS = 2_000
/** Records one comparison sends to a voter, at most: a replica far behind is brought level over several. */
export const REPAIR_MAX_RECORDS = 2_000
/** Rounds of one comparison, at most. */
const MAX_ROUNDS = 4
/** Buckets compared by sub-bucket in one round, at most (a bucket is too large to list whole past ~64,000 records in all). */
const SUB_SCOPES_PER_ROUND = 8
/** Comparisons running at once (one slow voter does not hold up the others). */
const MAX_COMPARING = 2

/** An entry's share of its bucket's sum: its id, and its term and version as one number (any mapping will do: it is only hashed). */
const hashOf = (e: ReplicaEntry, salt: string): number => entryHash(e[0], e[1] * 2 ** 32 + e[2], salt)

/** The bucket of an id within its bucket, for a bucket too large to list whole: a second hash of the id. */
export const subBucketOf = (id: string): number => entryHash(id, 0, 'sub') % DIGEST_BUCKETS

/** Whether (term a, version a) comes after (term b, version b): the order `TaskTable.merge` keeps records in. */
export const later = (aTerm: number, aVersion: number, bTerm: number, bVersion: number): boolean => aTerm > bTerm || (aTerm === bTerm && aVersion > bVersion)

/** Which part of the table a digest covers: all of it, by bucket, or one bucket, by sub-bucket. */
export type Scope = { bucket?: number }

/** What a digest of `records` in `scope` sums: one entry per task, with the slot of its sum. */
function entriesOf (records: Iterable<TaskRecord>, scope: Scope): Array<{ e: ReplicaEntry, slot: number }> {
  const out: Array<{ e: ReplicaEntry, slot: number }> = []
  for (const r of records) {
    const id = r.spec.task_id
    if (scope.bucket !== undefined && bucketOf(id) !== scope.bucket) continue
    out.push({ e: [id, r.term ?? 0, r.version], slot: scope.bucket === undefined ? bucketOf(id) : subBucketOf(id) })
  }
  return out
}

function sumsOf (entries: ReadonlyArray<{ e: ReplicaEntry, slot: number }>, salt: string): Uint32Array {
  const sums = new Uint32Array(DIGEST_BUCKETS)
  for (const { e, slot } of entries) sums[slot] ^= hashOf(e, salt)
  return sums
}

/** The sums of a replica in `scope` under `salt`, as they go on the wire. */
export function replicaDigest (records: Iterable<TaskRecord>, salt: string, scope: Scope = {}): string {
  return encodeDigest(sumsOf(entriesOf(records, scope), salt))
}

/**
 * A listing: the voter's entries of the slots (buckets, or sub-buckets of `scope.bucket`) listed
 * whole; `more` when differing slots were left out; at the top level, `differing`: the buckets
 * that differ but were too large to list, to be compared by sub-bucket.
 */
export interface Listing { entries: ReplicaEntry[], buckets: number[], more: boolean, differing?: number[] }

/** What an entry weighs in an answer, as JSON text. */
const charsOf = (e: ReplicaEntry): number => e[0].length + 32

/**
 * A voter's answer to a digest of `scope`: its entries in the slots whose sums differ from
 * `sums`, whole slots from a random one on, up to REPLICA_LISTED_MAX entries and
 * REPLICA_LISTED_CHARS characters. Undefined when `sums` is not a digest.
 */
export function listForDigest (records: Iterable<TaskRecord>, sums: string, salt: string, random: () => number, scope: Scope = {}): Listing | undefined {
  const theirs = decodeDigest(sums)
  if (theirs === undefined) return undefined
  const own = entriesOf(records, scope)
  const ours = sumsOf(own, salt)
  const bySlot = new Map<number, ReplicaEntry[]>()
  for (let b = 0; b < DIGEST_BUCKETS; b++) if (ours[b] !== theirs[b]) bySlot.set(b, [])
  if (bySlot.size === 0) return { entries: [], buckets: [], more: false }
  for (const { e, slot } of own) bySlot.get(slot)?.push(e)
  const order = [...bySlot.keys()]
  const start = Math.floor(random() * order.length)
  const entries: ReplicaEntry[] = []
  const buckets: number[] = []
  const differing: number[] = []
  let chars = 0
  for (let i = 0; i < order.length; i++) {
    const b = order[(start + i) % order.length]
    const list = bySlot.get(b) as ReplicaEntry[]
    const weight = list.reduce((n, e) => n + charsOf(e), 0)
    if (entries.length + list.length > REPLICA_LISTED_MAX || chars + weight > REPLICA_LISTED_CHARS) { differing.push(b); continue }
    entries.push(...list)
    buckets.push(b)
    chars += weight
  }
  return { entries, buckets, more: differing.length > 0, ...(scope.bucket === undefined && differing.length > 0 ? { differing } : {}) }
}

/**
 * From a voter's listing of `scope`: the records the coordinator holds in the listed slots that
 * the voter lacks or holds older, unless not `settled` (sent a moment ago: left to replication's
 * batch on its way, and to the next comparison), at most `max`; and the marks of the records the
 * voter listed that the coordinator pruned, over a copy from before the mark. Entries outside the
 * listed slots are not the voter's to list, and are ignored.
 */
export function repairsFor (
  table: ReadonlyMap<string, TaskRecord>, mark: (id: string) => PrunedMark | undefined, listing: Listing,
  settled: (id: string) => boolean = () => true, max = REPAIR_MAX_RECORDS, scope: Scope = {}
): { records: TaskRecord[], marks: PrunedMark[] } {
  if (listing.buckets.length === 0) return { records: [], marks: [] }
  const slots = new Set(listing.buckets)
  const covered = (id: string): boolean => scope.bucket === undefined ? slots.has(bucketOf(id)) : bucketOf(id) === scope.bucket && slots.has(subBucketOf(id))
  const theirs = new Map<string, ReplicaEntry>()
  for (const e of listing.entries) if (covered(e[0])) theirs.set(e[0], e)
  const records: TaskRecord[] = []
  for (const [id, r] of table) {
    if (records.length >= max) break
    if (!covered(id)) continue
    const held = theirs.get(id)
    if ((held === undefined || later(r.term ?? 0, r.version, held[1], held[2])) && settled(id)) records.push(r)
  }
  const marks: PrunedMark[] = []
  for (const [id, [, term, version]] of theirs) {
    if (table.has(id)) continue
    // Only over a copy from before the prune: a record written after its mark is not this mark's to drop.
    const m = mark(id)
    if (m !== undefined && !later(term, version, m.term, m.version)) marks.push(m)
  }
  return { records, marks }
}

export interface ReplicaSyncInit {
  rpc: RpcService
  requestTimeoutMs: number
  /** The table's records, by task id. */
  table: () => ReadonlyMap<string, TaskRecord>
  /** The mark of a record this node pruned. */
  mark: (id: string) => PrunedMark | undefined
  /** Whether a record went to the voters a moment ago (Replication.sentWithin). */
  recent: (id: string, ms: number) => boolean
  /** Send records to one voter, signed and paged (Replication.repair); rejects when one page was not taken. */
  send: (voter: string, term: number, records: TaskRecord[]) => Promise<void>
  /** Send marks of pruned records to one voter (Replication.tellPruned). */
  tellPruned: (voter: string, term: number, marks: PrunedMark[]) => Promise<void>
  random?: () => number
  everyMs?: number
}

/** What the comparisons did, for the table's snapshot (`/tasks`): counts, and the last failure (its voter, code and message). */
export interface ReplicaSyncCounts {
  rounds: number
  records_sent: number
  marks_sent: number
  failed: number
  last_failure?: { voter: string, code: string, message: string, at: string }
}

export class ReplicaSync {
  private readonly init: ReplicaSyncInit
  /** When each voter was last compared (a voter not in it is due). */
  private readonly last = new Map<string, number>()
  /** Voters that do not know the digest (an older build): left alone until they come back or this node's next term. */
  private readonly older = new Set<string>()
  private readonly comparing = new Set<string>()
  private term = -1
  readonly counts: ReplicaSyncCounts = { rounds: 0, records_sent: 0, marks_sent: 0, failed: 0 }

  constructor (init: ReplicaSyncInit) { this.init = init }

  /**
   * Called each second while this node leads `term`, with the voters the member view holds
   * alive: compares the voter due longest (at most MAX_COMPARING at once).
   */
  tick (term: number, voters: readonly string[], now: number): void {
    if (term !== this.term) { this.term = term; this.last.clear(); this.older.clear() }
    if (this.comparing.size >= MAX_COMPARING) return
    const every = this.init.everyMs ?? REPLICA_SYNC_EVERY_MS
    let due: string | undefined
    let dueAt = Infinity
    for (const v of voters) {
      if (this.older.has(v) || this.comparing.has(v)) continue
      const at = this.last.get(v) ?? -Infinity
      if (now - at >= every && at < dueAt) { due = v; dueAt = at }
    }
    if (due === undefined) return
    const voter = due
    this.last.set(voter, now)
    this.comparing.add(voter)
    void this.compare(voter, term).finally(() => { this.comparing.delete(voter) })
  }

  /**
   * `voter` came back (alive again): compared REPLICA_SOON_MS after its last comparison at the
   * soonest, and tried again if it was taken for an older build (it may have been upgraded).
   */
  soon (voter: string, now = Date.now()): void {
    this.older.delete(voter)
    const at = this.last.get(voter)
    if (at === undefined) return
    const every = this.init.everyMs ?? REPLICA_SYNC_EVERY_MS
    this.last.set(voter, Math.min(at, Math.max(at - every + REPLICA_SOON_MS, now - every)))
  }

  /** A new term, or this node stopped leading: nothing carries over. */
  stop (): void { this.term = -1; this.last.clear(); this.older.clear() }

  private async compare (voter: string, term: number): Promise<void> {
    const random = this.init.random ?? Math.random
    const options = { timeoutMs: this.init.requestTimeoutMs }
    const budget = { left: REPAIR_MAX_RECORDS }
    const settled = (id: string): boolean => !this.init.recent(id, REPLICA_SETTLE_MS)
    // One scope: its digest, the voter's listing, then what it lacks and the marks. Whether anything was sent.
    const scope = async (s: Scope): Promise<{ listing: Listing, sent: boolean }> => {
      this.counts.rounds++
      const salt = randomSalt(random)
      const request = { term, sums: replicaDigest(this.init.table().values(), salt, s), salt, ...s }
      const listing = await this.init.rpc.request(voter, ReplicaDigestCommand, request, options)
      if (this.term !== term) return { listing, sent: false }
      const { records, marks } = repairsFor(this.init.table(), this.init.mark, listing, settled, budget.left, s)
      if (records.length > 0) { await this.init.send(voter, term, records); this.counts.records_sent += records.length; budget.left -= records.length }
      // Looked at again after the pages went: a record submitted again meanwhile is not a mark's to drop.
      const still = marks.filter(m => !this.init.table().has(m.task_id) && this.init.mark(m.task_id) === m)
      if (still.length > 0) { await this.init.tellPruned(voter, term, still); this.counts.marks_sent += still.length }
      return { listing, sent: records.length + still.length > 0 }
    }
    try {
      for (let round = 0; round < MAX_ROUNDS && budget.left > 0 && this.term === term; round++) {
        const top = await scope({})
        let sent = top.sent
        // Buckets too large to list whole: compared by sub-bucket, a few a round.
        for (const bucket of (top.listing.differing ?? []).slice(0, SUB_SCOPES_PER_ROUND)) {
          if (budget.left <= 0 || this.term !== term) break
          if ((await scope({ bucket })).sent) sent = true
        }
        // Buckets left out are listed from another random one next round, while rounds bring something.
        if (!top.listing.more || !sent) return
      }
    } catch (err) {
      // An older build answers CMD001 for a command it does not know: left alone until it comes back.
      if (err instanceof UnknownCommandError) { this.older.add(voter); return }
      this.counts.failed++
      const e = err instanceof AgentMeshError ? err : undefined
      this.counts.last_failure = { voter, code: e?.code ?? 'INTERNAL', message: String((err as Error)?.message ?? err).slice(0, 200), at: new Date().toISOString() }
    }
  }
}
