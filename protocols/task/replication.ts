/**
 * The task table's replication to the voters: the coordinator sends changed records in small
 * batches, acknowledges a submission only once a majority of the voters hold it, and a new
 * coordinator reads the records of a majority of the voters before it acts. Records merge by
 * term, then version (`TaskTable.merge`); each record sent is stamped with this coordinator's
 * term. The coordinator writes its own replica to disk before counting itself, and each voter
 * before it answers (replica.ts), so "a majority holds it" means "on disk on a majority".
 */
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import { TimeoutError } from '../core/errors.js'
import { RecordsCommand, ReplicateCommand, type PrunedMark, type TaskRecord } from './schemas.js'
import type { RecordTrust } from './record-check.js'
import { pagesOf } from './paging.js'

const REPLICATE_EVERY_MS = 25
/** Records per message when replicating or reading the table, at most (paging.ts bounds a page by size too: a record may carry 64 KiB of messages). */
export const RECORDS_PAGE = 200
/** Marks of pruned records per page of the takeover's read (~100 bytes each; the most a page may hold). */
const MARKS_PAGE = 1_000

export interface ReplicationInit {
  self: string
  rpc: RpcService
  office: Office
  requestTimeoutMs: number
  /** Batches go out only while this is true (this node leads the term it took over). */
  leading: () => boolean
  /** Write records to this node's replica on disk (replica.ts); resolves once durable. */
  persist: (records: readonly TaskRecord[]) => Promise<void>
  /** Signs every record sent (record-seal.ts); its certificate goes with the first request of a term to each voter. */
  trust: RecordTrust
}

export class Replication {
  private readonly init: ReplicationInit
  private readonly pending = new Map<string, TaskRecord>()
  /** Told whether the next batch reached a majority. */
  private waiters: Array<(onMajority: boolean) => void> = []
  private timer?: ReturnType<typeof setTimeout>
  /** When each record last went to the voters (performance.now()), for replica-sync.ts: swept each second. */
  private readonly sentAt = new Map<string, number>()

  constructor (init: ReplicationInit) { this.init = init }

  /** Whether a record went to the voters within the last `ms` (its batch may still be on its way). */
  sentWithin (id: string, ms: number): boolean { return performance.now() - (this.sentAt.get(id) ?? -Infinity) < ms }

  /** Forget the send times older than `ms`. */
  sweep (ms: number): void {
    const before = performance.now() - ms
    for (const [id, at] of this.sentAt) if (at < before) this.sentAt.delete(id)
  }

  stop (): void {
    this.sentAt.clear()
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.pending.clear()
    for (const w of this.waiters.splice(0)) w(false)
  }

  /**
   * Send this record to the voters with the next batch (every REPLICATE_EVERY_MS). Resolves
   * with whether that batch is on disk on a majority of the voters (false: not leading any
   * more, or too few answered).
   */
  async queue (r: TaskRecord): Promise<boolean> {
    r.term = this.init.office.term
    this.pending.set(r.spec.task_id, r)
    const done = new Promise<boolean>(resolve => { this.waiters.push(resolve) })
    if (this.timer !== undefined) return await done
    this.timer = setTimeout(() => {
      this.timer = undefined
      const batch = [...this.pending.values()]
      const waiters = this.waiters.splice(0)
      this.pending.clear()
      const sent = this.init.leading() ? this.majority(batch) : Promise.resolve({ ok: false })
      void sent.then(({ ok }) => { for (const w of waiters) w(ok) })
    }, REPLICATE_EVERY_MS)
    this.timer.unref?.()
    return await done
  }

  /** 1 if this node is a voter and wrote the records to its disk (it writes them either way). */
  private async persistSelf (records: TaskRecord[], voters: string[]): Promise<number> {
    try { await this.init.persist(records) } catch { return 0 }
    return voters.includes(this.init.self) ? 1 : 0
  }

  private async pages (voter: string, term: number, pages: TaskRecord[][]): Promise<void> {
    const { proofs } = this.init.trust
    for (const page of pages) {
      const cert = proofs.toSend(voter, term)
      const req = { term, records: page, ...(cert !== undefined ? { cert } : {}) }
      await this.init.rpc.request(voter, ReplicateCommand, req, { timeoutMs: this.init.requestTimeoutMs })
      if (cert !== undefined) proofs.sent(voter, term)
    }
  }

  /**
   * Write the records to this node's disk and send them to the other voters; resolves as soon
   * as a majority of the voters hold them on disk (`ok`), or once every voter answered or
   * failed without one. The stragglers still get them.
   */
  private async majority (unsigned: TaskRecord[], voters = this.init.office.voters()): Promise<{ ok: boolean, acked: number, needed: number }> {
    // Signed as they are now, one signature per record per batch: copies, so later changes do not alter what was signed.
    const records = unsigned.map(r => this.init.trust.sealer.seal(r))
    const now = performance.now()
    for (const r of records) this.sentAt.set(r.spec.task_id, now)
    const needed = Math.floor(voters.length / 2) + 1
    const others = voters.filter(v => v !== this.init.self)
    const term = this.init.office.term
    let acked = 0
    let left = others.length + 1
    return await new Promise(resolve => {
      const answered = (ok: boolean): void => {
        if (ok && ++acked === needed) resolve({ ok: true, acked, needed })
        if (--left === 0 && acked < needed) resolve({ ok: false, acked, needed })
      }
      // This node counts once its own replica is on disk, like any other voter.
      this.persistSelf(records, voters).then(n => { answered(n === 1) }, () => { answered(false) })
      // Cut once for all the voters: weighing a page serializes its records.
      const pages = pagesOf(records, RECORDS_PAGE)
      for (const v of others) this.pages(v, term, pages).then(() => { answered(true) }, () => { answered(false) })
    })
  }

  /**
   * Send records to one voter, signed as they are now and paged (replica-sync.ts: what its
   * replica lacks or holds older); rejects when a page was not taken.
   */
  async repair (voter: string, term: number, records: TaskRecord[]): Promise<void> {
    await this.pages(voter, term, pagesOf(records.map(r => this.init.trust.sealer.seal(r)), RECORDS_PAGE))
  }

  /** Tell a voter the marks of records others pruned, whose stale copies it sent (pruned.ts); it drops them. */
  async tellPruned (voter: string, term: number, marks: PrunedMark[]): Promise<void> {
    for (let i = 0; i < marks.length; i += RECORDS_PAGE) {
      const pruned = marks.slice(i, i + RECORDS_PAGE)
      await this.init.rpc.request(voter, ReplicateCommand, { term, records: [], pruned }, { timeoutMs: this.init.requestTimeoutMs })
    }
  }

  /** Whether a majority of `voters` (the next voter set, catch-up.ts) now hold these records on disk. */
  async toVoters (records: TaskRecord[], voters: string[]): Promise<boolean> { return (await this.majority(records, voters)).ok }

  /** Resolves once a majority of the voters hold these records on disk; TimeoutError (COM001) if they cannot. */
  async toMajority (records: TaskRecord[]): Promise<void> {
    for (const r of records) r.term = this.init.office.term
    const { ok, acked, needed } = await this.majority(records)
    if (!ok) throw new TimeoutError(`the task records reached ${acked} of the ${needed} voters needed; submit again (it is idempotent)`)
  }

  /**
   * A new coordinator of `term` reads the records of the other voters, page by page, giving each
   * to `merge` with the voter it came from, then the marks of the records each pruned, to
   * `mark` (a stale copy of a pruned record must not come back); resolves once a majority (this node counted)
   * answered, every voter answered or failed, or the request timeout passed: with whether a
   * majority answered (without one, a record only the others hold may be missing).
   */
  async readMajority (term: number, merge: (r: TaskRecord, voter: string) => void, mark: (m: PrunedMark) => void = () => {}): Promise<boolean> {
    const voters = this.init.office.voters().filter(v => v !== this.init.self)
    const needed = Math.floor((voters.length + 1) / 2) + 1
    let heard = 1
    // Once the read resolved, the pages still coming are not given to `merge`: the takeover has
    // moved on (its checks cleared, the table no longer held still), and a page that arrived then
    // concluded about a term in the next takeover's name (seed 657022656).
    let closed = false
    await new Promise<void>((resolve) => {
      if (heard >= needed) { resolve(); return }
      let left = voters.length
      const t = setTimeout(resolve, this.init.requestTimeoutMs)
      for (const v of voters) {
        // Page by page (a table of thousands of tasks does not fit one message), each after the
        // last id read: the voter prunes between two pages, and an offset would skip records.
        const readAll = async (): Promise<void> => {
          for (let after: string | undefined; ;) {
            const req = { term, ...(after !== undefined ? { after } : {}), limit: RECORDS_PAGE }
            const page = await this.init.rpc.request(v, RecordsCommand, req, { timeoutMs: this.init.requestTimeoutMs })
            if (closed) return
            // The certificates of the terms its records name come first: the check of each record needs them (term-proofs.ts).
            for (const c of page.certs ?? []) this.init.trust.proofs.offer(c)
            for (const r of page.records) merge(r, v)
            if (!page.more || page.records.length === 0) break
            after = page.records[page.records.length - 1].spec.task_id
          }
          for (let after: string | undefined; ;) {
            const req = { term, pruned: true, ...(after !== undefined ? { after } : {}), limit: MARKS_PAGE }
            const { pruned = [], more } = await this.init.rpc.request(v, RecordsCommand, req, { timeoutMs: this.init.requestTimeoutMs })
            if (closed) return
            for (const m of pruned) mark(m)
            if (!more || pruned.length === 0) return
            after = pruned[pruned.length - 1].task_id
          }
        }
        readAll().then(() => {
          if (++heard >= needed) { clearTimeout(t); resolve() }
        }, () => {}).finally(() => { if (--left === 0) { clearTimeout(t); resolve() } })
      }
    })
    closed = true
    return heard >= needed
  }
}
