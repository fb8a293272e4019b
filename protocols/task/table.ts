/**
 * The task table with no network, no timer and no clock in it: the records, the moves between
 * states, the queue, attempt numbers, deadlines as data, and the pruning of finished records.
 * Every method that needs the time takes `now` (ms since the epoch). The scheduler
 * (`scheduler.ts`) is the shell that acts on what the table decides: it places, replicates,
 * reports and arms timers.
 */
import { DeadlineError, DependencyError, IdempotencyConflictError, InvalidTaskStateError, SerializationError, TaskInputFullError, type AgentMeshError } from '../core/errors.js'
import { canMove, checkDependencies } from './lifecycle.js'
import { PrunedMarks, afterMark } from './pruned.js'
import { TableIndex } from './table-index.js'
import { fitting } from './paging.js'
import { TASK_MESSAGES_MAX, TASK_MESSAGES_MAX_BYTES, TERMINAL, type PrunedMark, type SubmissionProof, type TaskRecord, type TaskReport, type TaskMessage, type TaskSpec, type TaskState, type TaskStatus } from './schemas.js'

/** A finished task's record is kept this long (idempotent resubmission, status queries), then dropped everywhere. */
export const FINISHED_RETENTION_MS = 10 * 60_000

export type TaskError = { code: string, message: string }

/** A change of a record: what `apply` writes. `reason: undefined` clears the reason. */
export interface TaskPatch {
  status?: TaskState
  progress?: number
  metrics?: Record<string, unknown>
  agent?: string
  /** The serial of the credential `agent` holds (closed mesh); set or cleared with `agent`. */
  agent_serial?: string
  attempt?: number
  result?: unknown
  error?: TaskError
  reason?: string | undefined
  checkpoint?: unknown
  losses?: number
  /** The task's messages, all of them (the one added last at the end). */
  messages?: TaskMessage[]
}

/** What an agent says of an attempt it was given (HeldCommand's answer, one task). */
export interface HeldAttempt {
  task_id: string
  attempt: number
  state: 'running' | 'completed' | 'failed' | 'paused' | 'cancelled'
  progress: number
  result?: unknown
  error?: TaskError
  checkpoint?: unknown
}

/** Whether a queued task may be placed: its dependencies completed, wait, or one broke. */
export type Readiness = { ready: true, inputs: Record<string, unknown> } | { ready: false, broken?: TaskError }

/**
 * Whether `a` supersedes `b`: written in a later term, or later in the same term. A copy signed by
 * a coordinator always supersedes one without (record-check.ts): a signature can be stripped, and
 * a copy without one is from before records were signed, or a change never sent to the voters.
 */
export const newer = (a: TaskRecord, b: TaskRecord): boolean => (a.signature !== undefined) !== (b.signature !== undefined)
  ? a.signature !== undefined
  : (a.term ?? 0) > (b.term ?? 0) || ((a.term ?? 0) === (b.term ?? 0) && a.version > b.version)

const isOpenAttempt = (r: TaskRecord): boolean => r.status.status === 'assigned' || r.status.status === 'running'

/** The end of a task as a patch: `completed`, `failed` or `cancelled`, with what it carries. */
export function finishPatch (
  status: 'completed' | 'failed' | 'cancelled',
  extra: { result?: unknown, error?: TaskError, reason?: string, metrics?: Record<string, unknown>, losses?: number }
): TaskPatch {
  return {
    status,
    ...(status === 'completed' ? { progress: 1 } : {}),
    ...(extra.result !== undefined ? { result: extra.result } : {}),
    ...(extra.error !== undefined ? { error: extra.error } : {}),
    ...(extra.metrics !== undefined ? { metrics: extra.metrics } : {}),
    ...(extra.losses !== undefined ? { losses: extra.losses } : {}),
    reason: extra.reason ?? (extra.error !== undefined ? extra.error.message : undefined)
  }
}

export class TaskTable {
  readonly records = new Map<string, TaskRecord>()
  /** Marks of the records pruned here: a stale copy of one is refused (pruned.ts). */
  readonly marks = new PrunedMarks()
  /** The attempt number of the latest offer of each task (offers may be refused or lost). */
  private readonly lastOffer = new Map<string, number>()
  /** The open records, and the finished ones by end: what every per-task look-up walks (table-index.ts). */
  private readonly index = new TableIndex()
  /** Every id in order, for page(): sorted once until an id comes or goes, not once a page (a takeover reads thousands of pages). */
  private sortedIds?: string[]

  get (id: string): TaskRecord | undefined { return this.records.get(id) }
  has (id: string): boolean { return this.records.has(id) }
  get size (): number { return this.records.size }

  /**
   * A replica's record (or one read by a new coordinator, or loaded from the store): kept if
   * newer, by the term that wrote it, then by version. The term comes first because a later
   * coordinator re-stamps only what it read from a majority: a voter outside that majority may
   * hold a higher version of the previous term (a change never acknowledged), which must not
   * outlive the new term's record. Returns whether it was kept.
   */
  merge (r: TaskRecord): boolean {
    const mine = this.records.get(r.spec.task_id)
    if (mine !== undefined && !newer(r, mine)) return false
    if (this.marks.refuses(r)) return false
    this.put(r)
    return true
  }

  /**
   * A mark read from a voter (or loaded from the disk): kept if newer than the one held, and the
   * record it marks dropped unless written after it. Returns whether a record was dropped.
   */
  mark (m: PrunedMark): boolean {
    const kept = this.marks.add(m)
    const r = this.records.get(m.task_id)
    if (r === undefined || afterMark(r, kept)) return false
    this.drop(m.task_id)
    return true
  }

  /** Forget a record (one whose submission does not verify: nobody may act on it). */
  drop (id: string): void { this.remove(id); this.lastOffer.delete(id) }

  /** Every record in or out goes through these two: the index and the sorted ids follow the map. */
  private put (r: TaskRecord): void {
    if (!this.records.has(r.spec.task_id)) this.sortedIds = undefined
    this.records.set(r.spec.task_id, r)
    this.index.track(r)
  }

  private remove (id: string): void {
    if (this.records.delete(id)) this.sortedIds = undefined
    this.index.forget(id)
  }

  /**
   * A page of the table in task-id order: the records after the id `after` (from the first
   * without one), `offset` more skipped, up to `limit`. A reader pages by the last id it got, not
   * by an offset: every replica prunes finished records every second, and a record dropped
   * before the offset between two pages shifted the rest, so a coordinator taking office skipped
   * records it had to read (open tasks, ends a majority held).
   */
  page (after: string | undefined, limit: number, offset = 0): { records: TaskRecord[], more: boolean } {
    const ids = this.sortedIds ??= [...this.records.keys()].sort()
    // The first id past `after` (binary search: the ids sort as strings compare).
    let lo = 0
    let hi = after === undefined ? 0 : ids.length
    while (lo < hi) { const mid = (lo + hi) >> 1; if (ids[mid] > (after as string)) hi = mid; else lo = mid + 1 }
    const from = lo + offset
    const records = ids.slice(from, from + limit).map(id => this.records.get(id) as TaskRecord)
    // Cut by size too (paging.ts): the reader asks again after the last id it got.
    const n = fitting(records, limit)
    return { records: records.slice(0, n), more: from + n < ids.length }
  }

  /**
   * New tasks in: the ones not known yet get a record (`submitted`, attempt 0). A deadline
   * already past (TSK005) or a dependency unknown or in a cycle (TSK003) refuses the whole
   * batch and changes nothing. Returns the records created.
   */
  submit (specs: TaskSpec[], submitter: string, now: number, proofs: readonly SubmissionProof[] = []): TaskRecord[] {
    const proofOf = new Map(specs.map((s, i) => [s, proofs[i]]))
    const fresh = specs.filter(s => !this.records.has(s.task_id))
    for (const s of fresh) {
      if (s.deadline !== undefined && Date.parse(s.deadline) <= now) throw new DeadlineError(`task ${s.task_id}: deadline ${s.deadline} is already past`)
    }
    checkDependencies(fresh, id => this.records.has(id))
    return fresh.map(spec => {
      const submission = proofOf.get(spec)
      // An id pruned here is a new task: numbered past the mark, so the voters' marks do not refuse it.
      const mark = this.marks.get(spec.task_id)
      this.marks.delete(spec.task_id)
      const r: TaskRecord = {
        spec,
        submitter,
        // The submitter's signature travels with the record, so the next coordinator can check it.
        ...(submission !== undefined ? { submission } : {}),
        submitted_at: now,
        version: (mark?.version ?? 0) + 1,
        losses: 0,
        status: {
          task_id: spec.task_id,
          status: 'submitted',
          progress: 0,
          metrics: {},
          timestamp: new Date(now).toISOString(),
          attempt: 0,
          ...(spec.dependencies.length > 0 ? { reason: 'waiting for dependencies' } : {})
        }
      }
      this.put(r)
      return r
    })
  }

  /**
   * Write a patch: the status moves only as the lifecycle allows (InvalidTaskStateError
   * otherwise, and nothing changes), the version goes up, the timestamp is `now`. A task that
   * ended forgets its offers.
   */
  apply (r: TaskRecord, patch: TaskPatch, now: number): TaskStatus {
    const s = r.status
    if (patch.status !== undefined && !canMove(s.status, patch.status)) {
      throw new InvalidTaskStateError(`task ${r.spec.task_id}: no move from ${s.status} to ${patch.status}`)
    }
    const next: TaskStatus = {
      ...s,
      ...(patch.status !== undefined ? { status: patch.status } : {}),
      ...(patch.progress !== undefined ? { progress: patch.progress } : {}),
      ...(patch.metrics !== undefined ? { metrics: patch.metrics } : {}),
      ...(patch.agent !== undefined ? { agent: patch.agent } : {}),
      ...(patch.attempt !== undefined ? { attempt: patch.attempt } : {}),
      ...(patch.result !== undefined ? { result: patch.result } : {}),
      ...(patch.error !== undefined ? { error: patch.error } : {}),
      ...(patch.messages !== undefined ? { messages: patch.messages } : {}),
      timestamp: new Date(now).toISOString()
    }
    if (patch.agent !== undefined) {
      if (patch.agent_serial === undefined) delete next.agent_serial
      else next.agent_serial = patch.agent_serial
    }
    if ('reason' in patch) {
      if (patch.reason === undefined) delete next.reason
      else next.reason = patch.reason
    }
    r.status = next
    // Only the record the table holds is indexed (a write to one a merge replaced changes nothing here).
    if (this.records.get(r.spec.task_id) === r) this.index.track(r)
    if (TERMINAL.has(next.status)) this.lastOffer.delete(r.spec.task_id)
    if (patch.checkpoint !== undefined) r.checkpoint = patch.checkpoint
    if (patch.losses !== undefined) r.losses = patch.losses
    r.version++
    return next
  }

  // --- attempts ---------------------------------------------------------------------------

  /**
   * A fresh attempt number for an offer: past the record's and past every earlier offer, so an
   * agent that took an earlier offer whose acknowledgement was lost does not take this one for
   * a duplicate of it.
   */
  offer (id: string): number {
    const attempt = Math.max(this.records.get(id)?.status.attempt ?? 0, this.lastOffer.get(id) ?? 0) + 1
    this.lastOffer.set(id, attempt)
    return attempt
  }

  /** The agent holds attempt `holds` (offered by an earlier coordinator): number past it. */
  offerRefused (id: string, holds: number): void { this.lastOffer.set(id, Math.max(this.lastOffer.get(id) ?? 0, holds)) }

  /** The agent refused the offer and took nothing: its number is free again, so attempts count runs. */
  offerReturned (id: string, attempt: number): void { if (this.lastOffer.get(id) === attempt) this.lastOffer.set(id, attempt - 1) }

  lastOffered (id: string): number | undefined { return this.lastOffer.get(id) }

  // --- decisions (pure: a patch, or nothing to do) -----------------------------------------

  /** The agent holding the task was lost: another attempt, or failed (COM002) after `max_attempts` losses. */
  lostPatch (r: TaskRecord, why: string): TaskPatch {
    const losses = r.losses + 1
    if (losses >= r.spec.max_attempts) {
      return finishPatch('failed', { error: { code: 'COM002', message: `${why}; ${losses} of ${r.spec.max_attempts} attempts lost` }, losses })
    }
    return { status: 'submitted', reason: `${why}; placing it again`, losses }
  }

  /**
   * A message to the task (`$agentmesh/task/input`): `held` when the task already holds one with
   * that id (a resend: nothing changes), refused when the task is over (TSK002) or its messages
   * are at a cap (MSG002), else the patch that appends it.
   */
  inputPatch (r: TaskRecord, m: TaskMessage): { held: true } | { refused: AgentMeshError } | { patch: TaskPatch } {
    const held = r.status.messages ?? []
    let text: string
    try {
      text = JSON.stringify(m.input) ?? 'null'
    } catch (err) {
      // A value JSON cannot carry (a BigInt, a cycle): only a local caller can hand one over.
      return { refused: new SerializationError(`the message to task ${r.spec.task_id} is not JSON: ${(err as Error).message}`, { cause: err }) }
    }
    const same = held.find(x => x.message_id === m.message_id)
    if (same !== undefined) {
      // Sent again: the same sender and input is the same message (a lost answer's resend);
      // anything else under its id is refused rather than acknowledged and dropped.
      if (same.from === m.from && (JSON.stringify(same.input) ?? 'null') === text) return { held: true }
      return { refused: new IdempotencyConflictError(`task ${r.spec.task_id} already holds a message ${m.message_id} with another sender or input`) }
    }
    if (TERMINAL.has(r.status.status)) return { refused: new InvalidTaskStateError(`task ${r.spec.task_id} is ${r.status.status}: it takes no more messages`) }
    if (held.length >= TASK_MESSAGES_MAX) return { refused: new TaskInputFullError(`task ${r.spec.task_id} holds ${held.length} messages, the most a task may hold`) }
    const messages = [...held, m]
    const bytes = Buffer.byteLength(JSON.stringify(messages))
    if (bytes > TASK_MESSAGES_MAX_BYTES) {
      return { refused: new TaskInputFullError(`task ${r.spec.task_id}'s messages would take ${bytes} bytes with this one, over the ${TASK_MESSAGES_MAX_BYTES} a task may hold`) }
    }
    return { patch: { messages } }
  }

  /** An agent's report of the attempt it holds, as a patch (undefined: nothing changes). */
  reportPatch (r: TaskRecord, rep: TaskReport): TaskPatch | undefined {
    if (TERMINAL.has(r.status.status)) return undefined
    const checkpoint = rep.checkpoint !== undefined ? { checkpoint: rep.checkpoint } : {}
    switch (rep.status) {
      case 'running':
        if (r.status.status === 'paused') return checkpoint
        return { status: 'running', progress: rep.progress, metrics: rep.metrics, ...checkpoint }
      case 'completed': return finishPatch('completed', { result: rep.result, metrics: rep.metrics })
      case 'failed': return finishPatch('failed', { error: rep.error ?? { code: 'CMD002', message: 'the handler failed' }, metrics: rep.metrics })
      case 'paused': return { status: 'paused', ...checkpoint }
      case 'cancelled': return r.status.status !== 'paused' ? finishPatch('cancelled', { reason: r.status.reason ?? 'cancelled' }) : undefined
    }
  }

  /**
   * What an agent said it holds (`h`, undefined if it holds nothing of this task), against the
   * attempt the record names: the agent's word stands. `{ lost }` when it does not hold the attempt.
   */
  heldPatch (r: TaskRecord, h: HeldAttempt | undefined, answered: boolean): TaskPatch | { lost: string } | undefined {
    if (h === undefined || h.attempt !== r.status.attempt) {
      const holds = h !== undefined ? ` (it holds attempt ${h.attempt}, ${h.state})` : !answered ? ' (it did not answer)' : ''
      return { lost: `its agent ${r.status.agent ?? '?'} does not hold attempt ${r.status.attempt}${holds}` }
    }
    if (h.state === 'completed') return finishPatch('completed', { result: h.result })
    if (h.state === 'failed') return finishPatch('failed', { error: h.error ?? { code: 'CMD002', message: 'failed' } })
    if (h.state === 'cancelled') return finishPatch('cancelled', { reason: 'cancelled' })
    if (h.state === 'paused') return { status: 'paused', checkpoint: h.checkpoint }
    if (r.status.status !== 'running' || r.status.progress !== h.progress) return { status: 'running', progress: h.progress }
    return undefined
  }

  // --- the queue --------------------------------------------------------------------------

  /** Tasks waiting for an agent, by priority (lower first), then age; `skip` are being placed. */
  queue (skip: ReadonlySet<string> = new Set()): TaskRecord[] {
    return [...this.index.unfinished.values()]
      .filter(r => r.status.status === 'submitted' && !skip.has(r.spec.task_id))
      .sort((a, b) => a.spec.priority - b.spec.priority || a.submitted_at - b.submitted_at)
  }

  /** Ready when every dependency completed (their results are its inputs); broken (TSK003) when one failed, was cancelled or is gone. */
  readiness (r: TaskRecord): Readiness {
    const deps = r.spec.dependencies.map(d => this.records.get(d))
    const broken = deps.find(d => d === undefined || d.status.status === 'failed' || d.status.status === 'cancelled')
    if (broken !== undefined || deps.includes(undefined)) {
      const e = new DependencyError(`dependency ${broken?.spec.task_id ?? '?'} ${broken?.status.status ?? 'is unknown'}`)
      return { ready: false, broken: { code: e.code, message: e.message } }
    }
    if (!deps.every(d => d?.status.status === 'completed')) return { ready: false }
    return { ready: true, inputs: Object.fromEntries((deps as TaskRecord[]).map(d => [d.spec.task_id, d.status.result])) }
  }

  /** Dependencies of a task that have not completed. */
  waitingOn (r: TaskRecord): string[] { return r.spec.dependencies.filter(d => this.records.get(d)?.status.status !== 'completed') }

  /** Tasks placed on an agent or running there. */
  open (agent?: string): TaskRecord[] {
    return [...this.index.unfinished.values()].filter(r => isOpenAttempt(r) && (agent === undefined || r.status.agent === agent))
  }

  /** Attempts placed or running, per agent. */
  load (): Map<string, number> {
    const load = new Map<string, number>()
    for (const r of this.index.unfinished.values()) {
      if (isOpenAttempt(r) && r.status.agent !== undefined) load.set(r.status.agent, (load.get(r.status.agent) ?? 0) + 1)
    }
    return load
  }

  /**
   * The table as the debug endpoint shows it (`/tasks`): counts by state and the open tasks,
   * oldest first, with what each waits for; `placing` are being placed right now.
   */
  overview (limit: number, placing: ReadonlySet<string>): {
    records: number
    counts: Record<string, number>
    open: Array<TaskStatus & { type: string, priority: number, placing: boolean, waiting_on?: string[] }>
  } {
    const counts: Record<string, number> = {}
    const open: TaskRecord[] = []
    for (const r of this.records.values()) {
      counts[r.status.status] = (counts[r.status.status] ?? 0) + 1
      if (!TERMINAL.has(r.status.status)) open.push(r)
    }
    open.sort((a, b) => a.submitted_at - b.submitted_at)
    return {
      records: this.records.size,
      counts,
      open: open.slice(0, limit).map(r => {
        const waiting = this.waitingOn(r)
        const waits = waiting.length > 0 ? { waiting_on: waiting } : {}
        return { ...r.status, type: r.spec.type, priority: r.spec.priority, placing: placing.has(r.spec.task_id), ...waits }
      })
    }
  }

  // --- deadlines --------------------------------------------------------------------------

  /** The earliest deadline of a task not finished (ms), or undefined. */
  nextDeadline (): number | undefined {
    let next = Infinity
    for (const r of this.index.unfinished.values()) {
      if (r.spec.deadline !== undefined) next = Math.min(next, Date.parse(r.spec.deadline))
    }
    return Number.isFinite(next) ? next : undefined
  }

  /** Tasks not finished whose deadline is at or before `now`. */
  overdue (now: number): TaskRecord[] {
    return [...this.index.unfinished.values()].filter(r => r.spec.deadline !== undefined && Date.parse(r.spec.deadline) <= now)
  }

  /** A missed deadline (TSK005): failed, or cancelled if the task asked for that. */
  deadlinePatch (r: TaskRecord): TaskPatch {
    const e = new DeadlineError(`task ${r.spec.task_id} missed its deadline ${r.spec.deadline ?? '?'}`)
    const error = { code: e.code, message: e.message }
    return r.spec.on_deadline === 'cancel' ? finishPatch('cancelled', { reason: e.message, error }) : finishPatch('failed', { error })
  }

  // --- pruning ----------------------------------------------------------------------------

  /**
   * Drop the records of tasks that finished more than FINISHED_RETENTION_MS before `now`,
   * unless an open task depends on them. Every replica applies the same rule to the same
   * timestamps, so the tables agree without a message. A submit of a dropped task id is a new
   * task. Each leaves a mark (pruned.ts). Returns the ids dropped.
   */
  prune (now: number, retentionMs = FINISHED_RETENTION_MS): string[] {
    const before = now - retentionMs
    const needed = new Set<string>()
    for (const r of this.index.unfinished.values()) for (const d of r.spec.dependencies) needed.add(d)
    const dropped = this.index.endedBefore(before, id => this.records.get(id), id => needed.has(id))
    for (const id of dropped) {
      const r = this.records.get(id)
      if (r === undefined) continue
      this.remove(id)
      this.marks.add({ task_id: id, term: r.term ?? 0, version: r.version, at: now })
    }
    return dropped
  }
}
