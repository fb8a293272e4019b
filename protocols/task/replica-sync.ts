/**
 * Anti-entropy between the coordinator's task table and each voter's replica (issue 46).
 *
 * Replication sends every batch to every voter but waits only for a majority (replication.ts):
 * a voter down, cut off or slow for a batch keeps an older copy of those records, or none, until
 * they change again. Nothing acknowledged is lost by that (a majority holds it), but the record
 * stands on fewer voters than it could, and a voter restarted after a day away holds a day's
 * worth less than the others. So the coordinator compares its table with one voter's replica
 * at a time, each voter every REPLICA_SYNC_EVERY_MS and at once when one comes back:
 *
 * 1. it sums (task_id, term and version) of every record it holds into the member exchange's
 *    bucketed digest (discovery/member-digest.ts, salted afresh each round) and sends the sums;
 * 2. the voter sums its own the same way and lists its entries of the buckets that differ;
 * 3. the coordinator sends, signed and paged as replication does, each record the voter lacks or
 *    holds older, and the mark of each record it pruned that the voter still holds (pruned.ts).
 *
 * At rest nothing differs: one request of 64 sums and an empty answer per voter per round. A
 * record the voter holds and the coordinator neither holds nor marked (a copy the takeover
 * refused) is left alone: its bucket is listed again each round, a few entries.
 *
 * This file: the pure comparison (`repairsFor`) and the coordinator's shell (`ReplicaSync`); the
 * voter's answer is in replica.ts.
 */
import type { RpcService } from '../rpc/index.js'
import { UnknownCommandError } from '../core/errors.js'
import { decodeDigest, differing, digestOf, encodeDigest, listDiffering, randomSalt, bucketOf, type Entry } from '../discovery/member-digest.js'
import { REPLICA_LISTED_MAX, ReplicaDigestCommand, type PrunedMark, type TaskRecord } from './schemas.js'

/** How often one voter's replica is compared with the table, at most (a voter coming back is compared at once). */
export const REPLICA_SYNC_EVERY_MS = 10_000
/**
 * A record changed less than this long ago is not sent by a comparison: replication's batch with
 * it may be on its way (a comparison beside a busy table sent each change twice, seen in
 * test/protocols/task/replica-sync.test.ts before this).
 */
export const REPLICA_SETTLE_MS = 2_000
/** Rounds of one comparison, at most: a replica far behind is brought up to date by the next comparisons. */
const MAX_ROUNDS = 4

const TERM_UNIT = 2 ** 32

/**
 * A record's term and version as one number, what its entry in a digest sums: exact while the
 * term stays under 2^21 and the version under 2^32 (a term per election, a version per change).
 */
export function versionKey (r: Pick<TaskRecord, 'term' | 'version'>): number { return (r.term ?? 0) * TERM_UNIT + r.version }

/** What a digest of `records` sums: one entry per task. */
export function replicaEntries (records: Iterable<TaskRecord>): Entry[] {
  const out: Entry[] = []
  for (const r of records) out.push([r.spec.task_id, versionKey(r)])
  return out
}

/** The sums of a replica under `salt`, as they go on the wire. */
export function replicaDigest (records: Iterable<TaskRecord>, salt: string): string { return encodeDigest(digestOf(replicaEntries(records), salt)) }

/**
 * A voter's answer to a digest: its entries in the buckets whose sums differ from `sums` (whole
 * buckets, up to REPLICA_LISTED_MAX entries; `more` when some were left out). Undefined when
 * `sums` is not a digest.
 */
export function listForDigest (
  records: Iterable<TaskRecord>, sums: string, salt: string, random: () => number
): { entries: Entry[], buckets: number[], more: boolean } | undefined {
  const theirs = decodeDigest(sums)
  if (theirs === undefined) return undefined
  const own = replicaEntries(records)
  return listDiffering(own, differing(digestOf(own, salt), theirs), REPLICA_LISTED_MAX, random)
}

/**
 * From a voter's listing: the records the coordinator holds in the listed buckets that the voter
 * lacks or holds older (by term, then version, as `TaskTable.merge` decides), and the marks of the
 * records the voter listed that the coordinator pruned. Entries outside the listed buckets are
 * not the voter's to list, and are ignored. A record not `settled` (changed a moment ago: its
 * batch may still be on its way) is left to replication, and to the next comparison.
 */
export function repairsFor (
  table: ReadonlyMap<string, TaskRecord>, mark: (id: string) => PrunedMark | undefined, listed: readonly Entry[], buckets: readonly number[],
  settled: (r: TaskRecord) => boolean = () => true
): { records: TaskRecord[], marks: PrunedMark[] } {
  const inBuckets = new Set(buckets)
  const theirs = new Map<string, number>()
  for (const [id, key] of listed) if (inBuckets.has(bucketOf(id))) theirs.set(id, key)
  const records: TaskRecord[] = []
  for (const [id, r] of table) {
    if (!inBuckets.has(bucketOf(id))) continue
    const held = theirs.get(id)
    if ((held === undefined || held < versionKey(r)) && settled(r)) records.push(r)
  }
  const marks: PrunedMark[] = []
  for (const [id, key] of theirs) {
    if (table.has(id)) continue
    // Only over a copy from before the prune: a record written after its mark is not this mark's to drop.
    const m = mark(id)
    if (m !== undefined && key <= versionKey(m)) marks.push(m)
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
  /** Send records to one voter, signed and paged (Replication.repair); rejects when one page was not taken. */
  send: (voter: string, term: number, records: TaskRecord[]) => Promise<void>
  /** Send marks of pruned records to one voter (Replication.tellPruned). */
  tellPruned: (voter: string, term: number, marks: PrunedMark[]) => Promise<void>
  random?: () => number
  everyMs?: number
}

/** What the comparisons did, for the table's snapshot (`/tasks`). */
export interface ReplicaSyncCounts { rounds: number, records_sent: number, marks_sent: number, failed: number }

export class ReplicaSync {
  private readonly init: ReplicaSyncInit
  /** When each voter was last compared (a voter not in it is due). */
  private readonly last = new Map<string, number>()
  /** Voters that do not know the digest (an older build): left alone until this node's next term. */
  private readonly older = new Set<string>()
  private busy = false
  private term = -1
  readonly counts: ReplicaSyncCounts = { rounds: 0, records_sent: 0, marks_sent: 0, failed: 0 }

  constructor (init: ReplicaSyncInit) { this.init = init }

  /**
   * Called each second while this node leads `term`: compares one voter due (the one compared
   * longest ago first), unless a comparison is still running.
   */
  tick (term: number, voters: readonly string[], now: number): void {
    if (term !== this.term) { this.term = term; this.last.clear(); this.older.clear() }
    if (this.busy) return
    const every = this.init.everyMs ?? REPLICA_SYNC_EVERY_MS
    let due: string | undefined
    let dueAt = Infinity
    for (const v of voters) {
      if (this.older.has(v)) continue
      const at = this.last.get(v) ?? -Infinity
      if (now - at >= every && at < dueAt) { due = v; dueAt = at }
    }
    if (due === undefined) return
    this.last.set(due, now)
    this.busy = true
    void this.compare(due, term).finally(() => { this.busy = false })
  }

  /** `voter` came back (alive again, or newly a voter): compared at the next tick. */
  soon (voter: string): void { this.last.delete(voter) }

  /** A new term, or this node stopped leading: nothing carries over. */
  stop (): void { this.term = -1; this.last.clear(); this.older.clear() }

  private async compare (voter: string, term: number): Promise<void> {
    const random = this.init.random ?? Math.random
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        this.counts.rounds++
        const salt = randomSalt(random)
        const table = this.init.table()
        const request = { term, sums: replicaDigest(table.values(), salt), salt }
        const listed = await this.init.rpc.request(voter, ReplicaDigestCommand, request, { timeoutMs: this.init.requestTimeoutMs })
        if (this.term !== term) return
        const now = Date.now()
        const settled = (r: TaskRecord): boolean => !(now - Date.parse(r.status.timestamp) < REPLICA_SETTLE_MS)
        const { records, marks } = repairsFor(this.init.table(), this.init.mark, listed.entries, listed.buckets, settled)
        if (records.length > 0) { await this.init.send(voter, term, records); this.counts.records_sent += records.length }
        if (marks.length > 0) { await this.init.tellPruned(voter, term, marks); this.counts.marks_sent += marks.length }
        if (!listed.more) return
      }
    } catch (err) {
      // An older build answers CMD001 for a command it does not know: left alone this term.
      if (err instanceof UnknownCommandError) this.older.add(voter)
      else this.counts.failed++
    }
  }
}
