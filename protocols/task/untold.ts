/**
 * Ends not yet on a majority of the voters' disks. Until one is, a query answers the status
 * before it, the task's dependents wait, and the coordinator sends it again every second while it
 * stays in office in the same term. The fault campaign found why (harness/fault-campaign.ts): a
 * replication batch that fired while the lease lapsed for a moment, or that missed its majority,
 * was never sent again; the end lived only in the coordinator's memory, was answered to the
 * submitter's poll, and the next coordinator ran the task to another end.
 */
import type { TaskRecord, TaskStatus } from './schemas.js'

export interface UntoldInit {
  /** Send a record to the voters; resolves with whether a majority wrote it. */
  queue: (r: TaskRecord) => Promise<boolean>
  /** The end is on a majority: tell it (submitter, status topic) and let dependents run. */
  told: (r: TaskRecord) => void
  get: (taskId: string) => TaskRecord | undefined
}

export class UntoldEnds {
  private readonly before = new Map<string, TaskStatus>()
  private readonly init: UntoldInit

  constructor (init: UntoldInit) { this.init = init }

  /** `r` just ended (its status was `before`); `spread` says whether its batch reached a majority. */
  hold (r: TaskRecord, before: TaskStatus, spread: Promise<boolean>): void {
    if (!this.before.has(r.spec.task_id)) this.before.set(r.spec.task_id, before)
    void spread.then(ok => { if (ok) this.settle(r) })
  }

  has (taskId: string): boolean { return this.before.has(taskId) }

  /** What a query is answered: the status before an end not yet on a majority. */
  status (r: TaskRecord): TaskStatus { return this.before.get(r.spec.task_id) ?? r.status }

  /** Send every end still untold again (the coordinator's check, every second, same term). */
  retry (): void {
    for (const id of [...this.before.keys()]) {
      const r = this.init.get(id)
      if (r === undefined) { this.before.delete(id); continue }
      void this.init.queue(r).then(ok => { if (ok) this.settle(r) })
    }
  }

  /** A new term: its takeover reads a majority and re-stamps every record, these included. */
  clear (): void { this.before.clear() }

  private settle (r: TaskRecord): void {
    // Told once, whichever of the first batch and a retry reaches the majority first.
    if (this.before.delete(r.spec.task_id)) this.init.told(r)
  }
}
