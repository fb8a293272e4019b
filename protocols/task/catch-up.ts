/**
 * A voter-set change waits for the task table (docs/tasks.md, "Nothing acknowledged is lost").
 *
 * A record is acknowledged once a majority of the voters hold it, and a new coordinator reads a
 * majority: two majorities of one set share a voter. The voter set changes one voter at a time
 * (coordination/voter-set.ts), so a majority of the next set also shares a voter with a majority
 * of the one before. Two changes in a row do not: with {a,b,c}, a record on a and b, an agent x
 * added ({a,b,c,x}) and then a removed ({b,c,x}), a new coordinator may read c and x alone, and x
 * joined holding nothing. Raft is safe there because a configuration entry commits only on a
 * majority that holds the log before it. Here the table is not in the election's log, so the
 * leader asks first (`ready`): the whole table is written to a majority of the next set, and
 * only then is the change made. A record acknowledged between that write and the change is on a
 * majority of the set before, one change away; the next change writes it again.
 */
import type { TaskRecord } from './schemas.js'

export interface CatchUpInit {
  /** The coordinator leads its term and its takeover is done: its table is the mesh's. */
  settled: () => boolean
  term: () => number
  records: () => TaskRecord[]
  /** Write records to the voters named; resolves with whether a majority of them hold them on disk. */
  write: (records: TaskRecord[], voters: string[]) => Promise<boolean>
}

export class VoterCatchUp {
  private readonly init: CatchUpInit
  /** The next voter set (joined ids) whose majority holds the table, and the term it was written in. */
  private done?: { key: string, term: number }
  private readonly writing = new Set<string>()

  constructor (init: CatchUpInit) { this.init = init }

  /**
   * Whether the leader may make `voters` its next set now. The first ask starts the write and
   * answers false; once it is on a majority of them (this term), true, once: a later change to the
   * same set is written again, since the table changed meanwhile.
   */
  ready (voters: string[]): boolean {
    if (!this.init.settled()) return false
    const key = voters.join(',')
    const term = this.init.term()
    if (this.done?.key === key && this.done.term === term) { this.done = undefined; return true }
    if (this.writing.has(key)) return false
    this.writing.add(key)
    this.init.write(this.init.records(), voters).then(ok => {
      if (ok && this.init.term() === term) this.done = { key, term }
    }, () => {}).finally(() => { this.writing.delete(key) })
    return false
  }

  stop (): void { this.done = undefined }
}
