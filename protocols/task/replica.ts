/**
 * This node's replica of the task table, kept on disk (issue 14): every node holds one, in the
 * store's 'tasks' space (one entry per task id, the whole record). A record is written durably
 * (the store's fsync) before the node answers the coordinator's replicate request, and the
 * coordinator writes its own before it counts itself, so a task acknowledged to its submitter is
 * on disk on a majority of the voters. On start the replica is loaded back; a coordinator taking
 * office after a restart of the whole mesh then reads a majority's records as after a failover.
 *
 * Also the replica's side of the protocol: the coordinator's replicate request (fenced by term),
 * its digest of the table (replica-sync.ts, fenced the same way) and a coordinator taking office
 * reading the records (voters only).
 */
import type { Office } from '../coordination/office.js'
import type { StoreSpace } from '../core/store.js'
import { NotCoordinatorError, ValidationError } from '../core/errors.js'
import { listForDigest, type Listing } from './replica-sync.js'
import type { TaskTable } from './table.js'
import { ReplicaDigestCommand, type PrunedMark, type TaskRecord } from './schemas.js'
import type { Certificate } from '../coordination/election-types.js'
import type { RecordTrust } from './record-check.js'

export interface ReplicaInit {
  self: string
  office: Office
  table: TaskTable
  /** The store's 'tasks' space (memory when the node has no data directory). */
  records: StoreSpace<TaskRecord>
  /** The marks of the records pruned (pruned.ts): the store's 'tasks-pruned' space. */
  marks: StoreSpace<PrunedMark>
  /** A request refused: counted and logged by the service. */
  rejected: (from: string, message: string, reason: string, correlationId?: string) => void
  /** A background write failed. */
  error: (err: Error) => void
  /** Keeps the coordinators' certificates and signs again what this node signed and changed since (record-check.ts). */
  trust: RecordTrust
}

export class TaskReplica {
  private readonly init: ReplicaInit

  constructor (init: ReplicaInit) { this.init = init }

  /** Merge the marks and records kept on disk into the table (on start); returns how many records. */
  load (): number {
    for (const [, m] of this.init.marks.entries()) this.init.table.mark(m)
    let n = 0
    for (const [, r] of this.init.records.entries()) { this.init.table.merge(r); n++ }
    return n
  }

  /** Write these records, as they are now, durably; resolves once they are on disk (StoreError otherwise). */
  async persist (records: readonly TaskRecord[]): Promise<void> {
    // One put per record rather than one batch: each record stands alone, and the store commits
    // the puts of a turn together anyway (one fsync). (LmdbStore.batch currently fails with
    // "Invalid key" from inside lmdb's batch callback.)
    await Promise.all(records.map(async r => { await this.init.records.put(r.spec.task_id, r) }))
  }

  /** Drop records from the disk too (pruned, or refused at takeover); a failure is reported, the next prune tries again. */
  forget (ids: readonly string[]): void {
    Promise.all(ids.map(async id => { await this.init.records.remove(id) })).catch((err: Error) => { this.init.error(err) })
  }

  /** Prune the table's finished records (table.ts), and the marks past their time, from the disk too. */
  prune (now: number): void { this.pruned(this.init.table.prune(now), this.init.table.marks.expire(now)) }

  /**
   * Records pruned, refused at takeover, or dropped for a mark read then: off the disk, their
   * marks (if any) on it; the `expired` marks off it.
   */
  pruned (ids: readonly string[], expired: readonly string[] = []): void {
    if (ids.length === 0 && expired.length === 0) return
    const { marks, table } = this.init
    this.forget(ids)
    Promise.all([
      ...ids.map(async id => { const m = table.marks.get(id); if (m !== undefined) await marks.put(id, m) }),
      ...expired.map(async id => { await marks.remove(id) })
    ]).catch((err: Error) => { this.init.error(err) })
  }

  /** Write the marks the table holds for these ids, their records kept (written after the mark). */
  private keepMarks (ids: readonly string[]): void {
    if (ids.length === 0) return
    const { marks, table } = this.init
    const writes = ids.map(async id => { const m = table.marks.get(id); if (m !== undefined) await marks.put(id, m) })
    Promise.all(writes).catch((err: Error) => { this.init.error(err) })
  }

  /**
   * The coordinator's records: merged, and the ones kept written to disk before the answer. With
   * `pruned`, marks of records the others pruned whose stale copy this replica held (pruned.ts).
   */
  async replicate (from: string, term: number, records: TaskRecord[], pruned: PrunedMark[] = [], cert?: Certificate, correlationId?: string): Promise<number> {
    this.fence(term, from, 'task-replicate', correlationId)
    if (cert !== undefined) this.init.trust.proofs.keep(cert, from, term)
    // Off the disk only what a mark dropped (or what the table did not hold): a record written
    // after its mark stays in the table, and must stay on the disk too (a late mark from an
    // anti-entropy comparison raced a resubmission, found by review of replica-sync.ts).
    const dropped = new Set(pruned.filter(m => this.init.table.mark(m) || !this.init.table.has(m.task_id)).map(m => m.task_id))
    this.pruned([...dropped])
    this.keepMarks(pruned.map(m => m.task_id).filter(id => !dropped.has(id)))
    const kept = records.filter(r => this.init.table.merge(r))
    // The answer counts towards the majority a submission's acknowledgement waits for: only
    // what is on disk may be counted. A write that fails fails the request.
    await this.persist(kept)
    return records.length
  }

  recordsFor (
    from: string, term: number, page: { after?: string, offset: number, limit: number, pruned?: boolean }, correlationId?: string
  ): { records: TaskRecord[], pruned?: PrunedMark[], more: boolean, certs?: Certificate[] } {
    // A coordinator taking office reads them, of a term not stale, and it is a voter (the voters
    // elected it): anyone else would read every task with its result.
    const office = this.init.office
    const why = from === this.init.self ? undefined : office.fencing(term, from) === 'stale-term' ? 'stale-term' : !office.voters().includes(from) ? 'not-a-voter' : undefined
    if (why !== undefined) {
      this.init.rejected(from, 'task-records', why, correlationId)
      throw new NotCoordinatorError(why === 'stale-term' ? `term ${term} is stale` : `${from} is not a voter: only a coordinator taking office reads the task records`)
    }
    // With `pruned`, the marks of the records pruned here: a stale copy elsewhere must not come back (pruned.ts).
    if (page.pruned === true) return { records: [], ...this.init.table.marks.page(page.after, page.limit) }
    const { records, more } = this.init.table.page(page.after, page.limit, page.offset)
    // Records this node signed as coordinator are signed again if they changed since; the reader
    // gets the certificates of the terms the records name, to tell who led them (term-proofs.ts).
    const { sealer, proofs } = this.init.trust
    const sent = records.map(r => sealer.fresh(r))
    return { records: sent, more, certs: proofs.forTerms(sent.map(r => r.term ?? 0)) }
  }

  /**
   * The coordinator's digest of its table (replica-sync.ts): this replica's entries of the
   * buckets whose sums differ. Fenced by term like a replicate request.
   */
  digestAnswer (from: string, term: number, sums: string, salt: string, bucket?: number, correlationId?: string): Listing {
    this.fence(term, from, 'task-replica-digest', correlationId)
    const listed = listForDigest(this.init.table.records.values(), sums, salt, Math.random, bucket !== undefined ? { bucket } : {})
    if (listed === undefined) throw new ValidationError(`request for "${ReplicaDigestCommand.name}": sums are not a digest`)
    return listed
  }

  private fence (term: number, from: string, message: string, correlationId?: string): void {
    if (from === this.init.self) return
    const v = this.init.office.fencing(term, from)
    if (v === 'ok') return
    this.init.rejected(from, message, v, correlationId)
    throw new NotCoordinatorError(`${from} is not the coordinator of term ${term} here (${v})`)
  }
}
