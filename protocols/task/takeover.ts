/**
 * Recovery on the coordinator: taking office, and anti-entropy after it (docs/tasks.md).
 *
 * - A new coordinator reads the records of a majority of the voters before it acts (it could
 *   not have been elected without one), so every acknowledged task is in what it reads; after a
 *   restart of the whole mesh too, each voter having loaded its replica from disk (replica.ts). A record
 *   whose submission is not signed by its submitter is dropped (submission.ts).
 * - It then asks every agent what it holds: an attempt that finished while no coordinator was
 *   listening is taken from the agent; an attempt its agent does not hold (or an agent gone) is
 *   placed again. The agents alive are also asked about the queued tasks: one running an
 *   attempt of a task no record gives it (an offer of an earlier coordinator whose answer was
 *   lost) is told to stop, and the next attempt is numbered past it. The resource table is
 *   rebuilt, every record re-stamped and sent to the voters.
 * - Every second, open tasks nobody heard of for RECONCILE_AFTER_MS are asked about the same way,
 *   so a lost report cannot leave a task "assigned" for ever.
 */
import type { z } from 'zod'
import type { RpcService } from '../rpc/index.js'
import { NotCoordinatorError, TimeoutError } from '../core/errors.js'
import type { TaskExecutor } from './executor.js'
import type { SchedulerResources } from './placement.js'
import type { Replication } from './replication.js'
import { RECORDS_PAGE } from './replication.js'
import type { TaskPatch, TaskTable } from './table.js'
import type { SubmissionCheck } from './submission.js'
import { RecordCheck, type RecordTrust } from './record-check.js'
import { afterMark } from './pruned.js'
import { HeldCommand, TERMINAL, type PrunedMark, type TaskRecord } from './schemas.js'

/** What an agent says of an attempt it was given (HeldCommand). */
type HeldTask = z.output<typeof HeldCommand.response>['tasks'][number]

/** An open task with no word from its agent for this long is asked about (`quiet`). */
const RECONCILE_AFTER_MS = 5_000
/** How long a takeover waits for the agents' word on its queued tasks (`orphans`): past it, an agent's orphan goes unseen, as before. */
const ORPHANS_ASK_MS = 1_000

export interface TakeoverInit {
  self: string
  rpc: RpcService
  executor: TaskExecutor
  resources: SchedulerResources
  table: TaskTable
  replication: Replication
  requestTimeoutMs: number
  /** This node still leads `term` and runs. */
  current: (term: number) => boolean
  /** Write a change the agents' answers call for. */
  write: (r: TaskRecord, patch: TaskPatch) => void
  /** The task's agent does not hold its attempt: another attempt, or failed. */
  lost: (r: TaskRecord, why: string) => void
  /** Tasks being placed right now (not asked about). */
  placing: () => ReadonlySet<string>
  /** The agents alive now (this node among them, if it runs tasks): asked about the queued tasks at takeover. */
  agents: () => string[]
  /** `agent` runs `attempt` of a queued task, which no record gives it. */
  orphan: (r: TaskRecord, agent: string, attempt: number) => void
  /** After taking office: arm the deadline timer and place what waits. */
  resume: () => void
  /** Refuses the records whose submission does not verify (submission.ts); counts and audits them. */
  check: SubmissionCheck
  /** A record of this replica was refused, or dropped for a voter's mark of its prune: off the disk too (the mark on it). */
  dropped: (id: string) => void
  /** Checks the coordinator's signature of each record's state and who led its term (record-check.ts). */
  trust: RecordTrust
}

export class Takeover {
  private readonly init: TakeoverInit
  private reconciling = false
  /** The term whose voters' records are being read, if any: until they are merged, nothing may write the table. */
  private readingTerm?: number
  /** Resolves when the read under way, if any, has ended. */
  private readDone: Promise<void> = Promise.resolve()
  /** When `quiet` last asked about a task. */
  private readonly checkedAt = new Map<string, number>()
  private readonly records: RecordCheck

  constructor (init: TakeoverInit) {
    this.init = init
    this.records = new RecordCheck(init.self, init.trust, (from, r, reason) => { init.check.refuseRecord(from, r, reason) })
  }

  stop (): void { this.checkedAt.clear(); this.readingTerm = undefined }

  /**
   * Whether a takeover is reading the voters' records. Meanwhile this replica may be stale, and
   * a write to it (an agent lost, a report, a placement of an earlier term settling) would be
   * stamped with the new term and win the merge against the record a majority holds: the
   * campaign's seed 1606683835 saw a lost agent's task, whose end a majority held, placed again
   * and run to a second end. The scheduler does not lead until the read is merged.
   */
  get reading (): boolean { return this.readingTerm !== undefined }

  /** Take office in `term`: read the voters' records, ask the agents, rebuild the resource table. */
  async takeOver (term: number): Promise<void> {
    this.readingTerm = term
    // A read of an earlier term still under way (this node moved on a term meanwhile) ends
    // first: both would share the record checks (their certificates and verdicts) and the records set aside.
    const before = this.readDone
    let done = (): void => {}
    this.readDone = new Promise<void>(resolve => { done = resolve })
    try {
      await before
      await this.read(term)
    } finally {
      done()
      if (this.readingTerm === term) this.readingTerm = undefined
    }
    await this.settle(term)
  }

  /** The majority's records merged into this replica; TimeoutError when fewer than a majority answered. */
  private async read (term: number): Promise<void> {
    const { init } = this
    if (!init.current(term)) return
    // Nothing is acted on unless its submitter signed it: this replica's own records first (a
    // deposed coordinator may have sent them), then each voter's before it is merged, so an
    // altered record with a higher version never displaces the true one.
    // The state must be signed by the coordinator of the term it names (record-check.ts), checked the same way.
    const accepts = (r: TaskRecord, from: string): boolean => init.check.accepts(r, from) && this.records.accepts(r, from, term)
    // Nothing concluded before this read counts in it (a verdict reached on a page that came late to the last one).
    this.records.clear()
    // A record of this replica whose signatures verify but whose term no certificate held here
    // proves yet is set aside, not dropped: the voters' pages bring the certificates of the terms
    // their records name. It is checked again after the read (the campaign's seed 657022656: a
    // task's only copies of one term were refused from every voter and dropped here, for good).
    const aside: TaskRecord[] = []
    for (const r of [...init.table.records.values()]) {
      init.trust.sealer.fresh(r) // what this node wrote as coordinator and changed since, signed again
      const own = init.check.accepts(r, init.self) ? this.records.check(r, init.self, term) : 'refused'
      if (own === 'accepted') continue
      init.table.drop(r.spec.task_id)
      if (own === 'unproven') aside.push(r)
      else init.dropped(r.spec.task_id)
    }
    // A voter's mark of a record it pruned drops a stale copy read from another, or held here (pruned.ts).
    const open: Array<{ voter: string, r: TaskRecord }> = []
    const read = await init.replication.readMajority(term, (r, voter) => {
      if (!accepts(r, voter)) return
      init.table.merge(r)
      if (!TERMINAL.has(r.status.status)) open.push({ voter, r })
    }, (m) => { if (init.table.mark(m)) init.dropped(m.task_id) })
    // A read that failed, or a term this node no longer leads, concludes nothing of them: they go
    // back as they were, for the next read to check. Otherwise one accepted now is merged (the
    // newer copy wins), and one refused, or marked pruned by a voter, leaves the disk too, unless
    // the table holds a copy of that task (a newer coordinator may have replicated one here
    // meanwhile, on disk and acknowledged: dropping by id would lose it).
    const concluded = read && init.current(term)
    for (const r of aside) {
      const id = r.spec.task_id
      if (!concluded || this.records.accepts(r, init.self, term)) init.table.merge(r)
      if (concluded && !init.table.records.has(id)) init.dropped(id)
    }
    init.check.clear()
    this.records.clear()
    if (!init.current(term)) return
    // The voters that sent a stale copy of a pruned record are told its mark, so the copy does
    // not outlive the marks (PRUNED_MARK_MS) there. Not waited for: the next takeover tells them again.
    const stale = new Map<string, PrunedMark[]>()
    for (const { voter, r } of open) {
      const m = init.table.marks.get(r.spec.task_id)
      if (m !== undefined && !afterMark(r, m)) stale.set(voter, [...stale.get(voter) ?? [], m])
    }
    for (const [voter, marks] of stale) init.replication.tellPruned(voter, term, marks).catch(() => {})
    // Fewer than a majority read: an acknowledged task, or the end a majority holds, may be
    // missing. The takeover fails; the scheduler's next second's check takes over again.
    if (!read) throw new TimeoutError(`taking office in term ${term}: fewer than a majority of the voters answered with their task records`)
  }

  /** After the read: what the agents hold, the resource table, every record re-stamped on a majority. */
  private async settle (term: number): Promise<void> {
    const { init } = this
    if (!init.current(term)) return
    // What the agents hold decides attempts that ran while nobody was coordinating.
    // Beside it, the queued tasks' orphans: their question is bounded by ORPHANS_ASK_MS, so a slow
    // agent delays the takeover no more than before.
    await Promise.all([this.reconcile(init.table.open(), term, true), this.orphans(term)])
    if (!init.current(term)) return
    // The resource table is rebuilt: agents' direct allocations, then those of running tasks.
    await init.resources.ready()
    if (!init.current(term)) return
    for (const r of init.table.open()) {
      if (r.status.agent !== undefined && r.resources !== undefined) {
        init.resources.restore({ task_id: r.spec.task_id, agent: r.status.agent, holder: init.self, resources: r.resources })
      }
    }
    // Every record is re-stamped by the new coordinator and written to a majority of the voters
    // before anything is answered or placed (queries and submits wait for the takeover). An end
    // merged from an earlier term may sit on a minority's disks only: answered before it is on a
    // majority, the next coordinator could read a majority without it and run the task to
    // another end (the fault campaign's seed 2764396340 found it). Not reached: the takeover
    // fails and is tried again.
    const all = [...init.table.records.values()]
    for (const r of all) r.version++
    if (all.length > 0) await init.replication.toMajority(all)
    if (!init.current(term)) return
    init.resume()
  }

  /**
   * The steady-state half: open tasks quiet for RECONCILE_AFTER_MS (an agent slow to answer
   * keeps its tasks; the member view judges it). Returns the reconciliation started, if any.
   */
  quiet (term: number, now: number): Promise<void> | undefined {
    const { table } = this.init
    if (this.reconciling) return undefined
    const placing = this.init.placing()
    const quiet = table.open().filter(r => !placing.has(r.spec.task_id) && now - Date.parse(r.status.timestamp) > RECONCILE_AFTER_MS &&
      now - (this.checkedAt.get(r.spec.task_id) ?? 0) > RECONCILE_AFTER_MS)
    for (const id of this.checkedAt.keys()) {
      const r = table.get(id)
      if (r === undefined || TERMINAL.has(r.status.status)) this.checkedAt.delete(id)
    }
    if (quiet.length === 0) return undefined
    for (const r of quiet) this.checkedAt.set(r.spec.task_id, now)
    this.reconciling = true
    return this.reconcile(quiet, term, false).finally(() => { this.reconciling = false })
  }

  /**
   * Attempts of queued tasks that an agent runs though no record gives them to it: an offer of an
   * earlier coordinator, taken, whose answer never reached it (a timeout, the coordinator gone).
   * No record names them, so the reconcile above does not ask about them, and before, such an
   * agent ran its attempt to the end unheard beside the attempt placed next (its reports refused,
   * TSK004). Every agent alive is asked about the queued tasks, once per takeover.
   */
  private async orphans (term: number): Promise<void> {
    const { init } = this
    // Those that could have been offered (their dependencies done), not being placed by an offer
    // of this node's still out (a helper's review: it may become the task's own), and at most a
    // page of them, the queue's head: placement goes in queue order, and a large queue must not
    // cost every agent pages of ids at every takeover.
    const placing = init.placing()
    const done = (id: string): boolean => init.table.get(id)?.status.status === 'completed'
    const queued = init.table.queue(placing).filter(r => r.spec.dependencies.every(done)).slice(0, RECORDS_PAGE).map(r => r.spec.task_id)
    if (queued.length === 0) return
    const held = await this.askAbout(new Map(init.agents().map(agent => [agent, queued])), term, Math.min(ORPHANS_ASK_MS, init.requestTimeoutMs), true)
    for (const [agent, tasks] of held) {
      for (const t of tasks.values()) {
        if (!init.current(term)) return
        const r = init.table.get(t.task_id)
        if (t.state !== 'running' || r === undefined || r.status.status !== 'submitted' || init.placing().has(t.task_id)) continue
        init.orphan(r, agent, t.attempt)
      }
    }
  }

  /** What each agent holding one of these tasks says of it (agents that did not answer are absent). */
  private async ask (open: TaskRecord[], term: number): Promise<Map<string, Map<string, HeldTask>>> {
    const byAgent = new Map<string, string[]>()
    for (const r of open) {
      const agent = r.status.agent
      if (agent === undefined) continue
      const ids = byAgent.get(agent)
      if (ids === undefined) byAgent.set(agent, [r.spec.task_id])
      else ids.push(r.spec.task_id)
    }
    return await this.askAbout(byAgent, term, this.init.requestTimeoutMs, false)
  }

  /**
   * What each agent says of the tasks listed for it (agents that did not answer are absent):
   * each page within `timeoutMs`, or with `shared`, an agent's pages together. The holders'
   * question keeps a bound per page: an agent slow on one page of many loses all its tasks at a
   * takeover, so its bound is not cut by the pages before.
   */
  private async askAbout (
    byAgent: ReadonlyMap<string, string[]>, term: number, timeoutMs: number, shared: boolean
  ): Promise<Map<string, Map<string, HeldTask>>> {
    const held = new Map<string, Map<string, HeldTask>>()
    await Promise.all([...byAgent].map(async ([agent, ids]) => {
      const end = Date.now() + timeoutMs
      try {
        const found = new Map<string, HeldTask>()
        for (let i = 0; i < ids.length; i += RECORDS_PAGE) {
          const part = ids.slice(i, i + RECORDS_PAGE)
          const { tasks } = agent === this.init.self
            ? { tasks: this.init.executor.held(part) }
            : await this.askHeld(agent, term, part, shared ? end : Date.now() + timeoutMs)
          for (const t of tasks) found.set(t.task_id, t)
        }
        held.set(agent, found)
      } catch { /* unanswered: see unansweredIsLost */ }
    }))
    return held
  }

  /**
   * One agent's answer about some tasks. The coordinator takes office (its lease holds) as its
   * first heartbeats go out, so an agent may not follow this term yet and refuse with CRD002:
   * that is no answer about its tasks, and counting it as one would place again a task that
   * still runs (two completions). It is asked again, backing off, within requestTimeoutMs.
   */
  private async askHeld (agent: string, term: number, ids: string[], end: number): Promise<{ tasks: HeldTask[] }> {
    for (let wait = 25; ; wait = Math.min(wait * 2, 400)) {
      try {
        return await this.init.rpc.request(agent, HeldCommand, { term, task_ids: ids }, { timeoutMs: Math.max(1, end - Date.now()) })
      } catch (err) {
        if (!(err instanceof NotCoordinatorError) || Date.now() + wait >= end || !this.init.current(term)) throw err
      }
      await new Promise(resolve => setTimeout(resolve, wait))
    }
  }

  /**
   * Ask the agents holding these tasks what became of them, and take their word: the end of an
   * attempt whose report was lost, an attempt the agent never took. On taking office an agent
   * that does not answer loses its tasks (`unansweredIsLost`); in steady state it keeps them.
   */
  private async reconcile (open: TaskRecord[], term: number, unansweredIsLost: boolean): Promise<void> {
    const asked = new Map(open.map(r => [r.spec.task_id, { agent: r.status.agent, attempt: r.status.attempt }]))
    const held = await this.ask(open, term)
    for (const r of open) {
      if (!this.init.current(term)) return
      const was = asked.get(r.spec.task_id)
      // Changed while the question was out (a report came): the newer word stands.
      if (was?.agent !== r.status.agent || was?.attempt !== r.status.attempt || (r.status.status !== 'assigned' && r.status.status !== 'running')) continue
      const answers = held.get(r.status.agent ?? '')
      if (answers === undefined && !unansweredIsLost) continue
      const patch = this.init.table.heldPatch(r, answers?.get(r.spec.task_id), answers !== undefined)
      if (patch === undefined) continue
      if ('lost' in patch) this.init.lost(r, patch.lost)
      else this.init.write(r, patch)
    }
  }
}
