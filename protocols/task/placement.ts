/**
 * Placement on the coordinator: which agent runs a queued task. Candidates are this node and
 * the agents alive in the member view, least loaded first (or the one a contract net awarded);
 * the resource manager grants the units first (two tasks never hold the same unit), then the
 * agent is offered the attempt (`RunCommand`, or the executor here). The table decides attempt
 * numbers; the scheduler writes what came of the offer through the hooks in the init.
 */
import type { z } from 'zod'
import type { RpcService } from '../rpc/index.js'
import type { Office } from '../coordination/office.js'
import { livePeers, memberBriefs, type MemberSource } from '../discovery/member-source.js'
import type { AllocateAnswer, ResourceItem } from '../resource/schemas.js'
import { AgentMeshError, CircuitOpenError, NotSentError } from '../core/errors.js'
import type { TaskExecutor } from './executor.js'
import type { TaskTable } from './table.js'
import { RunCommand, RunManyCommand, type TaskRecord, type TaskSpec } from './schemas.js'
import { BatchCall } from './batch-call.js'
import { runRefusal, type TaskGrants } from './access.js'

type RunOffer = Omit<z.input<typeof RunCommand.request>, 'term'>
type RunAnswer = z.output<typeof RunCommand.response>

/**
 * An offer that failed without an answer: to whom, its number, how many times asked, the units
 * granted for it, and the term whose resource table holds those units (the offer's, until a
 * later takeover of this node carries the mark into its own: `carry`).
 */
interface Unanswered { agent: string, attempt: number, asked: number, resources: ResourceItem[], term: number }

/** An agent that has no handler for a task type is not asked again for this long (handlers may come later). */
const NO_HANDLER_RETRY_MS = 30_000
const NO_BID = 'no agent bid for it (NEG002)'

/** The resource manager on this node, as the scheduler uses it: placement allocates through it (R-RES). */
export interface SchedulerResources {
  ready: () => Promise<void>
  grant: (taskId: string, holder: string, r: TaskSpec['requirements'], agents: string[]) => AllocateAnswer
  free: (taskId: string) => string[]
  /** False when a unit is someone else's already (the allocation is not restored). */
  restore: (a: { task_id: string, agent: string, holder: string, resources: ResourceItem[] }) => boolean
  /** Hold the manager's own answers until `takenOver` resolves (the tasks' allocations restored). */
  settleWith?: (takenOver: () => Promise<void>) => void
}

export interface PlacementInit {
  self: string
  rpc: RpcService
  executor: TaskExecutor
  office: Office
  members: MemberSource
  resources: SchedulerResources
  table: TaskTable
  requestTimeoutMs: number
  /** Asks the candidates for bids and awards the task; resolves with the winner, if any. */
  contractNet: (spec: TaskSpec, candidates: string[]) => Promise<string | undefined>
  leading: () => boolean
  /**
   * Who may run what (access.ts): an agent whose grants do not cover the task is no candidate,
   * whatever handlers it says it has. None: every agent may (a service built without a mesh's rules).
   */
  grants?: TaskGrants
  /**
   * The offer was taken: the record says so (status assigned), with the agent's credential serial
   * in a closed mesh. False when it could not be written (this node no longer leads).
   */
  assigned: (r: TaskRecord, agent: string, attempt: number, serial: string | undefined) => boolean
  /** Why the task still waits (written only when it changed). */
  waiting: (r: TaskRecord, reason: string) => void
  /** Send the task's messages to the agent that took `attempt` (some came after its offer left). */
  deliver: (r: TaskRecord, agent: string, attempt: number) => void
  /** Taken by an agent after the task was cancelled or ran out of time meanwhile: stop it there. */
  withdraw: (r: TaskRecord, agent: string, attempt: number) => void
  /**
   * The agent that may run `attempt` from an unanswered offer is given up on (`why`): its loss is
   * written as an agent's loss is, and it is told to stop. False when nothing could be written.
   */
  abandoned: (r: TaskRecord, agent: string, attempt: number, why: string) => boolean
  /** Tell `agent` to stop `attempt` of a task, if it runs it (an agent runs only the attempt named). */
  stopAttempt: (agent: string, taskId: string, attempt: number) => void
}

export class Placement {
  private readonly init: PlacementInit
  private readonly placing = new Set<string>()
  /** The run command in flight for a task being placed: its agent and attempt. */
  private readonly offered = new Map<string, { agent: string, attempt: number }>()
  /**
   * The last offer of each task that failed without an answer (timeout, lost connection): the
   * agent may have taken it. Asked first at the next placement, with the same number, so that an
   * agent already running it answers "duplicate" instead of stopping it for a new attempt. The
   * units granted for that offer stay held meanwhile (the pool's allocation of the task), since
   * the agent may be using them.
   */
  private readonly unanswered = new Map<string, Unanswered>()
  /** Agents that answered TSK006 for a task type (no handler), skipped until the time stored. */
  private readonly cannotRun = new Map<string, number>()
  /** Run commands, those of one turn to one agent in one request (batch-call.ts): a pipeline placed at once is a request per agent. */
  private readonly runs: BatchCall<RunOffer, RunAnswer>

  constructor (init: PlacementInit) {
    this.init = init
    const options = { timeoutMs: init.requestTimeoutMs }
    this.runs = new BatchCall({
      many: async (agent, runs) => (await init.rpc.request(agent, RunManyCommand, { term: init.office.term, runs }, options)).answers,
      one: async (agent, run) => await init.rpc.request(agent, RunCommand, { term: init.office.term, ...run }, options)
    })
  }

  /** Task ids being placed now (the queue skips them). */
  get busy (): ReadonlySet<string> { return this.placing }

  /** The offer in flight for a task, if any (an agent may report before its acknowledgement arrives). */
  offer (id: string): { agent: string, attempt: number } | undefined { return this.offered.get(id) }

  /** The report came first: the offer is settled. */
  settle (id: string): void { this.offered.delete(id) }

  /**
   * Whether `agent` may hold `attempt` of a queued task from an offer that went unanswered, no
   * offer made since: its report is then the acknowledgement that never came.
   */
  mayHold (id: string, agent: string, attempt: number): boolean {
    const u = this.unanswered.get(id)
    return u !== undefined && u.term === this.init.office.term && u.agent === agent && u.attempt === attempt && this.init.table.lastOffered(id) === attempt &&
      (this.init.table.get(id)?.status.attempt ?? 0) < attempt
  }

  /**
   * Whether `agent`'s report of `attempt` matches a mark of this node's earlier term not checked
   * yet (`confirm`: during the new term's takeover, or an offer that settled after it): not
   * known yet, rather than refused (TSK004), on which the agent would give up its end.
   */
  unconfirmed (id: string, agent: string, attempt: number): boolean {
    const u = this.unanswered.get(id)
    return u !== undefined && u.term !== this.init.office.term && u.agent === agent && u.attempt === attempt
  }

  /** Whether this node holds a mark of `agent` taking `attempt` of the task, of any term. */
  marked (id: string, agent: string, attempt: number): boolean {
    const u = this.unanswered.get(id)
    return u !== undefined && u.agent === agent && u.attempt === attempt
  }

  /** The report of an unanswered offer came: the task is the agent's, with the units granted for it (the mark is gone). */
  claim (id: string): ResourceItem[] | undefined {
    const u = this.unanswered.get(id)
    this.unanswered.delete(id)
    return u?.resources
  }

  /** The mark of `id`'s unanswered offer, dropped (the task left the queue another way): whom to tell to stop. */
  release (id: string): { agent: string, attempt: number } | undefined {
    const u = this.unanswered.get(id)
    if (u !== undefined) this.drop(id)
    return u
  }

  /**
   * Forget unanswered offers: all (a stop), or those of this term whose tasks are no longer
   * queued. A mark of an earlier term is left to `confirm`, which tells its agent to stop when
   * the task went elsewhere (during a takeover the records read can show that before `carry`
   * runs; dropped here, the agent would run its attempt unheard: a helper's review).
   */
  forget (queued?: (id: string) => boolean): void {
    const term = this.init.office.term
    for (const [id, u] of [...this.unanswered]) if (queued === undefined || (u.term === term && !queued(id))) this.drop(id)
  }

  /**
   * This node leads `term`, its takeover done (the voters' records merged, the resource table
   * rebuilt), and is about to place tasks: the marks of offers made in its earlier terms are
   * checked (`confirm`). Before, a new term forgot them, and an agent running an unanswered
   * offer's attempt ran beside the next attempt the new term numbered past it (a helper's
   * review of the lease-lapse fix).
   */
  carry (term: number): void {
    for (const [id, u] of [...this.unanswered]) if (u.term !== term) this.confirm(id, u, term)
  }

  /**
   * A mark of an offer made in an earlier term of this node. Kept while its task still waits
   * with no later offer made: its units are held again in this term's resource table, which
   * was rebuilt without them, and the number stays spent. Otherwise it goes: the task was placed
   * or ended meanwhile (a coordinator between may have), and the agent is told to stop that
   * attempt unless the record names it; or its units went to another task meanwhile, and the
   * agent is written lost and told to stop, as one given up on is. True when kept.
   */
  private confirm (id: string, u: Unanswered, term: number): boolean {
    const { init } = this
    const r = init.table.get(id)
    if (r === undefined || r.status.status !== 'submitted' || r.status.attempt >= u.attempt || (init.table.lastOffered(id) ?? 0) > u.attempt) {
      // Its units too, if they were held again here (`heldAgain`) and no record holds them.
      this.drop(id)
      if (r?.status.agent !== u.agent || r.status.attempt !== u.attempt) init.stopAttempt(u.agent, id, u.attempt)
      return false
    }
    this.unanswered.delete(id)
    // The read may have replaced this replica's copy, and the memory of offers with it: the number stays spent.
    init.table.offerRefused(id, u.attempt)
    if (!init.resources.restore({ task_id: id, agent: u.agent, holder: init.self, resources: u.resources })) {
      if (!init.abandoned(r, u.agent, u.attempt, 'the units of its offer went to another task in a later term')) init.stopAttempt(u.agent, id, u.attempt)
      return false
    }
    this.unanswered.set(id, { ...u, term })
    return true
  }

  /**
   * An offer that went out in `term` and may have been taken, settled in another: the units
   * granted for it are held in this term's resource table, which may have been rebuilt without
   * them meanwhile (a helper's review), before another task is placed on them. A unit someone
   * holds now means the agent cannot keep them: it is told to stop, and no mark is made.
   */
  private heldAgain (id: string, agent: string, attempt: number, resources: ResourceItem[], term: number): boolean {
    if (this.init.office.term === term || this.init.resources.restore({ task_id: id, agent, holder: this.init.self, resources })) return true
    this.init.stopAttempt(agent, id, attempt)
    return false
  }

  /** Drop a mark, and the units held for it unless a record holds them now. */
  private drop (id: string): void {
    this.unanswered.delete(id)
    if (this.init.table.get(id)?.resources === undefined) this.init.resources.free(id)
  }

  /** This node, or an agent the member view holds alive or suspect (one slow to answer is often suspect). */
  private live (agent: string): boolean { return agent === this.init.self || livePeers(this.init.members).includes(agent) }

  /**
   * Candidates for a task: this node and the agents alive that its grants allow, those known
   * unable to run its type left out, least loaded first.
   */
  private candidates (spec: TaskSpec, now: number): string[] {
    const load = this.init.table.load()
    const able = (c: string): boolean => (this.cannotRun.get(`${c}\0${spec.type}`) ?? 0) < now
    return this.alive().filter(c => able(c) && this.granted(c, spec))
      .map(c => ({ c, load: load.get(c) ?? 0, tie: Math.random() }))
      .sort((a, b) => a.load - b.load || a.tie - b.tie)
      .map(x => x.c)
  }

  private alive (): string[] {
    return [this.init.self, ...memberBriefs(this.init.members).filter(m => m.state === 'alive').map(m => m.peer)]
  }

  private granted (agent: string, spec: TaskSpec): boolean {
    const { grants } = this.init
    return grants === undefined || runRefusal(spec, grants.held(agent), grants.closed) === undefined
  }

  /** Why no agent at all may run `spec` (for the record's reason), when that is why it waits. */
  private ungranted (spec: TaskSpec): string | undefined {
    if (this.alive().some(c => this.granted(c, spec))) return undefined
    const what = [...(this.init.grants?.closed === true ? [`task:${spec.type}`] : []), ...(spec.capabilities ?? [])]
    return `no live agent is granted ${what.join(', ')}`
  }

  /**
   * Why every live agent was passed over for `spec`, when it is that none has a handler for its
   * type (each said so when offered one): a user reads it in the task's status.
   */
  private unhandled (spec: TaskSpec, now: number): string | undefined {
    const alive = this.alive()
    const without = alive.filter(c => (this.cannotRun.get(`${c}\0${spec.type}`) ?? 0) >= now)
    if (alive.length === 0 || without.length < alive.length) return undefined
    return `no agent runs tasks of type "${spec.type}": the ${alive.length} live agent${alive.length === 1 ? '' : 's'} have no handler for it (asked again every ${NO_HANDLER_RETRY_MS / 1000} s)`
  }

  async place (r: TaskRecord, inputs: Record<string, unknown>): Promise<void> {
    const { init } = this
    const id = r.spec.task_id
    this.placing.add(id)
    const term = init.office.term
    try {
      let candidates = this.candidates(r.spec, Date.now())
      // A mark of an earlier term that the takeover did not carry (its offer's answer came later):
      // checked now. Kept, the agent is asked again below; gone, the next second places the task.
      const earlier = this.unanswered.get(id)
      if (earlier !== undefined && earlier.term !== term && !this.confirm(id, earlier, term)) return
      // The agent that may hold the last, unanswered offer is asked again first, once, while it
      // is alive or suspect (a contract net is not held again: it won the last); silent a second
      // time, it is asked last (a peer that takes requests and never answers them must not hold
      // the task).
      const unanswered = this.unanswered.get(id)
      const reask = unanswered !== undefined && unanswered.asked < 2 && this.live(unanswered.agent) && this.granted(unanswered.agent, r.spec)
      if (unanswered !== undefined && !reask) {
        // Given up on: it may run the attempt, so before another agent is offered the task its
        // loss is written as an agent's loss is (it counts toward max_attempts and shows in the
        // task's history) and it is told to stop. Before, the mark was dropped without a word, and
        // a second agent ran the task with no loss recorded (a helper's review).
        const why = !this.live(unanswered.agent) ? 'no longer alive here' : unanswered.asked >= 2 ? 'silent twice' : 'no longer granted the task'
        if (!init.abandoned(r, unanswered.agent, unanswered.attempt, why)) return
        this.drop(id)
        if (!init.leading() || r.status.status !== 'submitted') return
      }
      if (unanswered !== undefined) {
        const others = candidates.filter(c => c !== unanswered.agent)
        candidates = reask ? [unanswered.agent, ...others] : candidates.includes(unanswered.agent) ? [...others, unanswered.agent] : others
      }
      if (reask && r.spec.assignment === 'contract_net') candidates = [unanswered.agent]
      else if (r.spec.assignment === 'contract_net') {
        // The submitter asked for bids: the agents other than the coordinator are called, and
        // the one awarded is the only candidate for this attempt.
        const winner = await init.contractNet(r.spec, candidates.filter(c => c !== init.self)).catch(() => undefined)
        candidates = winner !== undefined ? [winner] : []
        if (winner === undefined && init.leading() && r.status.status === 'submitted' && r.status.reason !== NO_BID) init.waiting(r, NO_BID)
        if (winner === undefined) return
      }
      const refusals: string[] = []
      for (const agent of candidates) {
        if (!init.leading() || r.status.status !== 'submitted') return
        // The resource manager's word first: two tasks never hold the same unit. A denial
        // (CRD003) is the re-plan rule's conflict: the task waits and is placed again on the
        // next release. The units held for an unanswered offer are the same agent's again (the
        // pool's allocation of the task), and freed before another agent is asked.
        const mark = this.unanswered.get(id)
        if (mark !== undefined && mark.agent !== agent) this.drop(id)
        const grant = init.resources.grant(id, init.self, r.spec.requirements, [agent])
        if (grant.type === 'resource.denied') { refusals.push(grant.code); continue }
        // The same number to the same agent while nothing was offered since; any other offer numbers past it.
        const again = mark !== undefined && mark.agent === agent && init.table.lastOffered(id) === mark.attempt && r.status.attempt < mark.attempt
        const attempt = again ? mark.attempt : init.table.offer(id)
        this.unanswered.delete(id)
        this.offered.set(id, { agent, attempt })
        // Every attempt gets the task's messages so far: a new one after a loss, a resume or a takeover misses none.
        const messages = r.status.messages ?? []
        try {
          const answer = agent === init.self
            ? init.executor.accept(r.spec, attempt, r.checkpoint, inputs, grant.resources, messages)
            : await this.runs.call(agent, {
              spec: r.spec, attempt, ...(r.checkpoint !== undefined ? { checkpoint: r.checkpoint } : {}), inputs, resources: grant.resources, messages
            })
          if (!answer.accepted) {
            // It holds a later attempt, offered by an earlier coordinator: number past it.
            init.table.offerRefused(id, answer.holds)
            init.resources.free(id)
            refusals.push('older attempt')
            continue
          }
        } catch (err) {
          refusals.push(err instanceof AgentMeshError ? err.code : 'error')
          // A refusal the agent answered (no handler, no room, not its coordinator), or a request
          // that never left (no connection opened, the circuit open), took nothing: the number
          // is free again, so attempts count runs. After a timeout or a connection lost the
          // agent may have taken it: the number stays spent, and so do the units, and the
          // placement stops here, so that the next one asks that agent again before any other
          // is offered the task (which would run it twice).
          const unsent = err instanceof NotSentError || err instanceof CircuitOpenError
          if (err instanceof AgentMeshError && (unsent || !['COM001', 'COM002', 'MSG001'].includes(err.code))) init.table.offerReturned(id, attempt)
          else if (err instanceof AgentMeshError) {
            // Marked even while its lease lapsed (a loaded host), and when the lease came back in
            // a new term: the placement that follows when it leads again asks the agent first
            // (a mark of an earlier term once `confirm` kept it).
            // Not held again (another task holds a unit now): the task's allocation in this table is not this offer's, so nothing is freed.
            if (r.status.status !== 'submitted') init.resources.free(id)
            else if (this.heldAgain(id, agent, attempt, grant.resources, term)) {
              this.unanswered.set(id, { agent, attempt, asked: again ? mark.asked + 1 : 1, resources: grant.resources, term })
            }
            break
          }
          init.resources.free(id)
          // No handler for the type there: do not ask again for a while (handlers may come later).
          if (err instanceof AgentMeshError && err.code === 'TSK006' && /no handler/.test(err.message)) {
            this.cannotRun.set(`${agent}\0${r.spec.type}`, Date.now() + NO_HANDLER_RETRY_MS)
          }
          continue
        }
        // The term changed while the offer was out: the new term's resource table may have been
        // rebuilt without these units, and the grant would let them go to a second task (a
        // helper's review). Held again before anything is written; a unit someone holds now
        // means the agent cannot keep them: it is told to stop (written lost if its report
        // made the task its own meanwhile).
        if (init.office.term !== term && !init.resources.restore({ task_id: id, agent, holder: init.self, resources: grant.resources })) {
          const holds = r.status.agent === agent && r.status.attempt === attempt
          if (!holds || !init.abandoned(r, agent, attempt, 'the units of its offer went to another task in a later term')) init.stopAttempt(agent, id, attempt)
          return
        }
        r.resources = grant.resources
        // A message taken while the offer was on its way went to no agent (the task was not placed yet): it goes now.
        if ((r.status.messages?.length ?? 0) > messages.length) init.deliver(r, agent, attempt)
        if (r.status.agent === agent && r.status.attempt === attempt) return // its first report came first
        if (r.status.status !== 'submitted') { init.withdraw(r, agent, attempt); return } // cancelled or deadline passed meanwhile
        if (init.assigned(r, agent, attempt, init.grants?.held(agent)?.serial)) return
        // Taken, but not written: this node's lease lapsed while the offer was out (a loaded host;
        // the test loop's tasks.test ran the task on a third agent so). The agent runs the
        // attempt, so it is marked as an unanswered offer's would be: its report is the
        // acknowledgement, and the next placement asks it again with the same number (a
        // "duplicate"), never another agent with a new one. The units stay the offer's.
        r.resources = undefined
        if (r.status.status === 'submitted') {
          this.unanswered.set(id, { agent, attempt, asked: again ? mark.asked : 0, resources: grant.resources, term })
        } else init.resources.free(id)
        return
      }
      const reason = candidates.length === 0
        ? this.ungranted(r.spec) ?? this.unhandled(r.spec, Date.now()) ?? 'no agents'
        : `no agent can run it now (${[...new Set(refusals)].join(', ')})`
      if (r.status.reason !== reason) init.waiting(r, reason)
    } finally {
      this.placing.delete(id)
      this.offered.delete(id)
    }
  }
}
