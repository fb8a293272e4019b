/**
 * Marks of the records a replica pruned (table.ts, FINISHED_RETENTION_MS after their end): the
 * term and version each was pruned at.
 *
 * Every replica prunes an end at the same time, but a voter that missed the end (down, cut off,
 * and no takeover's re-stamp reached it since) still holds the task open and never prunes it.
 * Read by a coordinator taking office after the others pruned, that copy alone would bring the
 * task back, and it would be placed and run again. A mark refuses such a copy (TaskTable.merge)
 * and travels in the takeover's read (`$agentmesh/task/records` with `pruned`), so a reader whose
 * own replica is the stale one drops it too. Marks are kept PRUNED_MARK_MS, at most PRUNED_MARKS
 * (the oldest go first), on disk with the replica (replica.ts).
 */
import type { PrunedMark, TaskRecord } from './schemas.js'

export const PRUNED_MARK_MS = 60 * 60_000
export const PRUNED_MARKS = 100_000

/** Whether record `r` was written after the mark `m` was left (a later term, or later in its term). */
export const afterMark = (r: TaskRecord, m: PrunedMark): boolean => (r.term ?? 0) > m.term || ((r.term ?? 0) === m.term && r.version > m.version)

export class PrunedMarks {
  /** By task id, in the order of the prunes (oldest first). */
  private readonly marks = new Map<string, PrunedMark>()

  get size (): number { return this.marks.size }
  get (id: string): PrunedMark | undefined { return this.marks.get(id) }
  delete (id: string): void { this.marks.delete(id) }

  /** Keep `m` if newer than the mark held (the earlier prune time stays); returns the mark now held. */
  add (m: PrunedMark): PrunedMark {
    const held = this.marks.get(m.task_id)
    if (held !== undefined && !(m.term > held.term || (m.term === held.term && m.version > held.version))) return held
    this.marks.delete(m.task_id) // set again last: the order is the order of the prunes
    const kept = held !== undefined && held.at < m.at ? { ...m, at: held.at } : m
    this.marks.set(m.task_id, kept)
    return kept
  }

  /** Whether `r` is a copy from before its prune: refused. A record written after the mark ends it. */
  refuses (r: TaskRecord): boolean {
    const m = this.marks.get(r.spec.task_id)
    if (m === undefined) return false
    if (!afterMark(r, m)) return true
    this.marks.delete(r.spec.task_id)
    return false
  }

  /** Marks in task-id order after `after`, up to `limit`. */
  page (after: string | undefined, limit: number): { pruned: PrunedMark[], more: boolean } {
    const ids = [...this.marks.keys()].filter(id => after === undefined || id > after).sort()
    return { pruned: ids.slice(0, limit).map(id => this.marks.get(id) as PrunedMark), more: limit < ids.length }
  }

  /** Forget marks left more than `keepMs` before `now`, and the oldest past `max`; returns their ids. */
  expire (now: number, keepMs = PRUNED_MARK_MS, max = PRUNED_MARKS): string[] {
    const gone: string[] = []
    for (const [id, m] of this.marks) {
      if (m.at >= now - keepMs && this.marks.size <= max) break
      this.marks.delete(id)
      gone.push(id)
    }
    return gone
  }
}
