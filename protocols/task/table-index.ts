/**
 * What the task table looks up on every task, kept as the records change instead of found by a
 * walk over all of them: the records not finished, and the finished ones by the time they ended.
 *
 * Finished records stay FINISHED_RETENTION_MS (ten minutes) for idempotent resubmission and
 * queries, so at a thousand tasks a second the table holds 600,000 of them while a few hundred
 * are open. The queue, the load per agent, the next deadline and the agent-lost sweep walked
 * every record, several times per task (bench:tasks: the coordinator's CPU per task grew by a
 * quarter from a 4,000-task run to a 12,000-task one); they now walk the open ones, and the
 * pruning pops the ended ones in order of their end.
 */
import { TERMINAL, type TaskRecord } from './schemas.js'

/** Heap order: by end time, then by id (so records that ended together are pruned in id order). */
const before = (a: [number, string], b: [number, string]): boolean => a[0] < b[0] || (a[0] === b[0] && a[1] < b[1])

export class TableIndex {
  /** Records whose status is not terminal, by task id. */
  readonly unfinished = new Map<string, TaskRecord>()
  /** [end time (ms), task id] of each finished record as it ended, a binary min-heap by time; entries go stale when the record changes or goes. */
  private readonly ends: Array<[number, string]> = []
  /**
   * The end time of each finished record's live entry in `ends`. A record merged again as it
   * was (every voter does, for each record a new coordinator re-stamps at takeover) keeps its
   * one entry; without this the pruning popped two and dropped the record twice.
   */
  private readonly endAt = new Map<string, number>()

  /** Call after a record was set or its status written. */
  track (r: TaskRecord): void {
    const id = r.spec.task_id
    if (!TERMINAL.has(r.status.status)) { this.unfinished.set(id, r); this.endAt.delete(id); return }
    this.unfinished.delete(id)
    const at = Date.parse(r.status.timestamp)
    // A time that does not parse is never before any other (never pruned), as the walk had it.
    if (!Number.isFinite(at)) { this.endAt.delete(id); return }
    if (this.endAt.get(id) === at) return
    this.endAt.set(id, at)
    this.push([at, id])
  }

  /** Call after a record was removed. */
  forget (id: string): void { this.unfinished.delete(id); this.endAt.delete(id) }

  /**
   * The finished records that ended before `cutoff` (ms), as `current` finds them now, each
   * once; the caller removes them (they are forgotten here). An entry whose record is gone, open
   * again or ended at another time is stale and skipped. Ids that `keep` holds back (a
   * dependency of an open task) come back on a later call.
   */
  endedBefore (cutoff: number, current: (id: string) => TaskRecord | undefined, keep: (id: string) => boolean): string[] {
    const out: string[] = []
    const kept: Array<[number, string]> = []
    while (this.ends.length > 0 && this.ends[0][0] < cutoff) {
      const e = this.pop()
      if (this.endAt.get(e[1]) !== e[0]) continue
      const r = current(e[1])
      if (r === undefined || !TERMINAL.has(r.status.status) || Date.parse(r.status.timestamp) !== e[0]) { this.endAt.delete(e[1]); continue }
      if (keep(e[1])) kept.push(e)
      else { out.push(e[1]); this.endAt.delete(e[1]) }
    }
    for (const e of kept) this.push(e)
    return out
  }

  private push (e: [number, string]): void {
    const h = this.ends
    h.push(e)
    let i = h.length - 1
    while (i > 0) {
      const up = (i - 1) >> 1
      if (!before(e, h[up])) break
      h[i] = h[up]
      i = up
    }
    h[i] = e
  }

  private pop (): [number, string] {
    const h = this.ends
    const top = h[0]
    const last = h.pop() as [number, string]
    if (h.length === 0) return top
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      if (l >= h.length) break
      const c = l + 1 < h.length && before(h[l + 1], h[l]) ? l + 1 : l
      if (!before(h[c], last)) break
      h[i] = h[c]
      i = c
    }
    h[i] = last
    return top
  }
}
