/**
 * The task table's replication to the voters: the coordinator sends changed records in small
 * batches, acknowledges a submission only once a majority of the voters hold it, and a new
 * coordinator reads the records of a majority of the voters before it acts. Records merge by
 * version (`TaskTable.merge`).
 */
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import { TimeoutError } from '../core/errors.js'
import { RecordsCommand, ReplicateCommand, type TaskRecord } from './schemas.js'

const REPLICATE_EVERY_MS = 25
/** Records per message when replicating or reading the table (a record is ~1 KB; messages stay far below 1 MiB). */
export const RECORDS_PAGE = 200

export interface ReplicationInit {
  self: string
  rpc: RpcService
  office: Office
  requestTimeoutMs: number
  /** Batches go out only while this is true (this node leads the term it took over). */
  leading: () => boolean
}

export class Replication {
  private readonly init: ReplicationInit
  private readonly pending = new Map<string, TaskRecord>()
  private timer?: ReturnType<typeof setTimeout>

  constructor (init: ReplicationInit) { this.init = init }

  stop (): void {
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.pending.clear()
  }

  /** Send this record to the voters with the next batch (every REPLICATE_EVERY_MS). */
  queue (r: TaskRecord): void {
    this.pending.set(r.spec.task_id, r)
    if (this.timer !== undefined) return
    this.timer = setTimeout(() => {
      this.timer = undefined
      const batch = [...this.pending.values()]
      this.pending.clear()
      if (this.init.leading()) void this.sendToVoters(batch)
    }, REPLICATE_EVERY_MS)
    this.timer.unref?.()
  }

  private async pages (voter: string, term: number, records: TaskRecord[]): Promise<void> {
    for (let i = 0; i < records.length; i += RECORDS_PAGE) {
      await this.init.rpc.request(voter, ReplicateCommand, { term, records: records.slice(i, i + RECORDS_PAGE) }, { timeoutMs: this.init.requestTimeoutMs })
    }
  }

  private async sendToVoters (records: TaskRecord[]): Promise<number> {
    const term = this.init.office.term
    const voters = this.init.office.voters().filter(v => v !== this.init.self)
    const results = await Promise.all(voters.map(async v => {
      try { await this.pages(v, term, records); return 1 } catch { return 0 }
    }))
    return results.reduce<number>((a, b) => a + b, 0)
  }

  /** Resolves once a majority of the voters hold these records; TimeoutError (COM001) if they cannot. */
  async toMajority (records: TaskRecord[]): Promise<void> {
    const voters = this.init.office.voters()
    const needed = Math.floor(voters.length / 2) + 1
    const others = voters.filter(v => v !== this.init.self)
    const term = this.init.office.term
    let acked = voters.includes(this.init.self) ? 1 : 0
    if (acked >= needed) { void this.sendToVoters(records); return }
    await new Promise<void>((resolve, reject) => {
      let left = others.length
      const fail = (): void => {
        reject(new TimeoutError(`the task records reached ${acked} of the ${needed} voters needed; submit again (it is idempotent)`))
      }
      if (left === 0) { fail(); return }
      for (const v of others) {
        this.pages(v, term, records).then(() => {
          if (++acked === needed) resolve()
        }, () => {}).finally(() => { if (--left === 0 && acked < needed) fail() })
      }
    })
  }

  /**
   * A new coordinator of `term` reads the records of the other voters, page by page, giving each
   * to `merge` with the voter it came from; resolves once a majority (this node counted)
   * answered, every voter answered or failed, or the request timeout passed.
   */
  async readMajority (term: number, merge: (r: TaskRecord, voter: string) => void): Promise<void> {
    const voters = this.init.office.voters().filter(v => v !== this.init.self)
    const needed = Math.floor((voters.length + 1) / 2) + 1
    let heard = 1
    await new Promise<void>((resolve) => {
      if (heard >= needed) { resolve(); return }
      let left = voters.length
      const t = setTimeout(resolve, this.init.requestTimeoutMs)
      for (const v of voters) {
        // Page by page: a table of thousands of tasks does not fit one message.
        const readAll = async (): Promise<void> => {
          for (let offset = 0; ; offset += RECORDS_PAGE) {
            const page = await this.init.rpc.request(v, RecordsCommand, { term, offset, limit: RECORDS_PAGE }, { timeoutMs: this.init.requestTimeoutMs })
            for (const r of page.records) merge(r, v)
            if (!page.more) return
          }
        }
        readAll().then(() => {
          if (++heard >= needed) { clearTimeout(t); resolve() }
        }, () => {}).finally(() => { if (--left === 0) { clearTimeout(t); resolve() } })
      }
    })
  }
}
