/**
 * MeshOperations: what a client that is not a libp2p node may do on the mesh, run by the node it
 * talks to. The gateway (REST, WebSocket, GraphQL, A2A) and the MCP server are bindings of these
 * operations; each input is checked against its schema in ./schemas.ts here, once, whichever
 * binding it came through, and each failure is an AgentMeshError with the spec's code (the
 * bindings turn it into their own error shape with ./errors.ts).
 *
 * Tasks are submitted by this node, so the mesh sees this node as their submitter: it may read
 * and control them. Which of its clients may is the binding's business (its tokens), not the mesh's.
 */
import { randomUUID } from 'node:crypto'
import type { z } from 'zod'
import type { AgentNode } from '../../node/agent-node.js'
import type { PeerInfo } from '../../protocols/discovery/membership.js'
import { AgentMeshError, ValidationError, errorFromWire } from '../../protocols/core/errors.js'
import type { DeadLetters } from '../../protocols/delivery/dead-letters.js'
import { TERMINAL, type TaskState, type TaskStatus } from '../../protocols/task/schemas.js'
import type { AllocateAnswer } from '../../protocols/resource/schemas.js'
import {
  AgentQuery, AllocateRequest, ControlInput, MessageInput, PublishInput, ReleaseInput, RequestInput, SubmitInput, TaskId, TopicName,
  type AgentSummary, type CoordinatorInfo, type MessageOutput, type PublishOutput, type RequestOutput, type SubmitOutput, type TopicEvent
} from './schemas.js'
import { TopicFeeds, type TopicFeedsOptions, type Watcher } from './topic-feeds.js'
import { signEnvelope } from '../../protocols/envelope/signature.js'
import type { Envelope } from '../../protocols/envelope/schema.js'
import { privateKeyOf } from '../../protocols/coordination/election-keys.js'

export * from './schemas.js'
export { httpStatusOf, errorBody } from './errors.js'
export { TopicFeeds, Watcher, type TopicFeedsOptions } from './topic-feeds.js'

/** No agent by that peer id or name in this node's view (HTTP 404). */
export class UnknownAgentError extends AgentMeshError {
  constructor (ref: string, known: string[]) {
    super('COM002', `no agent "${ref}" in this node's view${known.length > 0 ? ` (agents seen: ${known.slice(0, 20).join(', ')})` : ''}`)
    this.name = 'UnknownAgentError'
  }
}

/**
 * Parse `input` with `schema`, or throw MSG001 naming the operation and the fields. An issue with
 * the input as a whole is said after the operation's name alone (`subscribe: needs a "topic" ...`):
 * a label for it ("(input)") told the client nothing it did not know.
 */
export function parseInput<S extends z.ZodType> (schema: S, input: unknown, what: string): z.output<S> {
  const r = schema.safeParse(input)
  if (r.success) return r.data
  throw new ValidationError(`${what}: ${r.error.issues.map(i => i.path.length > 0 ? `${i.path.join('.')}: ${i.message}` : i.message).join('; ')}`)
}

const POLL_MS = 1_000
/** How long a control that ended a task waits for reads to say so (untilReadEnded), and how often it asks. */
const READ_AFTER_CONTROL_MS = 10_000
const READ_POLL_MS = 50
/** Task ends remembered for `task` (MeshOperations.ends): a gateway's clients ask about the tasks they just ran. */
const MAX_ENDS_KEPT = 4_096
/** What changes an agent's summary: agent(ref) answers again from the membership after any of these. */
const CHANGES = ['peer:join', 'peer:leave', 'member:change'] as const
/** Refs remembered at most (a client naming agents that do not exist adds none: only found ones are kept). */
const MAX_KNOWN = 1_024

/**
 * Whether two statuses of a task say the same to a client following it: its state, progress,
 * why it waits or ended, and which attempt on which agent. A stream sends a change once.
 */
function sameChange (a: TaskStatus, b: TaskStatus): boolean {
  return a.status === b.status && a.progress === b.progress && a.reason === b.reason && a.attempt === b.attempt && a.agent === b.agent
}

export class MeshOperations {
  readonly feeds: TopicFeeds

  /** Headers and signature of what this node sends on a client's behalf (`signAs`), or nothing. */
  private readonly onBehalf: { headers?: Record<string, string>, sign?: (env: Envelope) => Envelope }

  /**
   * `signAs`: sign every envelope published or requested through these operations with this
   * node's identity key, the client named in headers the signature covers (`am-via`, `am-client`):
   * the gateway does, so that a receiver that keeps or passes one on can show who injected it.
   */
  constructor (readonly node: AgentNode, options: { feeds?: TopicFeedsOptions, signAs?: { via: string, client: string } } = {}) {
    this.feeds = new TopicFeeds(node, options.feeds)
    const s = options.signAs
    this.onBehalf = s === undefined
      ? {}
      : { headers: { 'am-via': s.via, 'am-client': s.client }, sign: (env) => signEnvelope(env, privateKeyOf(node.libp2p)) }
  }

  /** agent(ref)'s answers while started, forgotten whenever an agent joins, leaves or changes state. */
  private readonly known = new Map<string, AgentSummary>()
  private listening = false
  private readonly forget = (): void => { this.known.clear() }

  start (): void {
    this.feeds.start()
    if (this.listening) return
    this.listening = true
    for (const e of CHANGES) this.node.addEventListener(e, this.forget)
  }

  stop (): void {
    this.feeds.stop()
    this.listening = false
    for (const e of CHANGES) this.node.removeEventListener(e, this.forget)
    this.known.clear()
  }

  // --- agents -------------------------------------------------------------------------------

  /** The agents this node knows (itself included), filtered by capability, role and name. */
  agents (query: unknown = {}): AgentSummary[] {
    const q = parseInput(AgentQuery, query, 'agents')
    const states = new Map(this.node.members().map(m => [m.peerId, m.state]))
    const all = [this.self(), ...this.node.peers().map(p => this.summary(p, states.get(p.peerId)))]
    return all.filter(a => (q.capability === undefined || a.capabilities.includes(q.capability)) &&
      (q.role === undefined || a.roles.includes(q.role)) && (q.name === undefined || a.name === q.name))
  }

  /**
   * One agent by peer id or name (a peer id first, then a name, this node's own first);
   * UnknownAgentError (COM002, HTTP 404) if this node knows none. Every command a binding
   * calls by agent comes here: the answer is remembered until the membership changes, and
   * built for the one agent asked for, not every agent's.
   */
  agent (ref: string): AgentSummary {
    const hit = this.known.get(ref)
    if (hit !== undefined) return hit
    const found = this.lookUp(ref)
    if (this.listening && this.known.size < MAX_KNOWN) this.known.set(ref, found)
    return found
  }

  private lookUp (ref: string): AgentSummary {
    const peers = this.node.peers()
    const self = this.node.card()
    const byId = peers.find(p => p.peerId === ref)
    if (byId !== undefined) return this.summary(byId)
    if (self.peerId === ref || self.name === ref) return this.self()
    const byName = peers.find(p => p.name === ref)
    if (byName !== undefined) return this.summary(byName)
    throw new UnknownAgentError(ref, [self.name, ...peers.map(p => p.name)])
  }

  private self (): AgentSummary {
    const c = this.node.card()
    return { peerId: c.peerId, name: c.name, roles: c.roles, capabilities: c.capabilities, version: c.version, addresses: c.addresses, state: 'self' }
  }

  private summary (p: PeerInfo, state = this.node.member(p.peerId)?.state): AgentSummary {
    return { peerId: p.peerId, name: p.name, roles: p.roles, capabilities: p.capabilities, version: p.version, addresses: p.addresses, state: state ?? 'alive', joinedAt: p.joinedAt }
  }

  coordinator (): CoordinatorInfo {
    const c = this.node.coordinator()
    return {
      term: c.term,
      ...(c.leader !== undefined ? { leader: c.leader } : {}),
      ...(c.leaderName !== undefined ? { leaderName: c.leaderName } : {}),
      inOffice: c.leader !== undefined,
      voters: c.voters
    }
  }

  // --- topics -------------------------------------------------------------------------------

  async publish (input: unknown): Promise<PublishOutput> {
    const p = parseInput(PublishInput, input, 'publish')
    const recipients = p.recipients?.map(r => this.agent(r).peerId)
    const env = await this.node.publish(p.topic, p.payload, {
      ...this.onBehalf,
      ...(p.delivery !== undefined ? { delivery: p.delivery } : {}),
      ...(recipients !== undefined ? { recipients } : {})
    })
    return { id: env.id, topic: p.topic, timestamp: env.timestamp }
  }

  /** A live stream of a topic's events from now on; `close()` it when the client goes. */
  watch (topic: string): Watcher { return this.feeds.watch(parseInput(TopicName, topic, 'watch')) }

  /** A topic's last events (the first ask starts keeping them). */
  recent (topic: string, limit?: number): { events: TopicEvent[], since: number } {
    return this.feeds.recent(parseInput(TopicName, topic, 'recent events'), limit)
  }

  // --- commands -----------------------------------------------------------------------------

  /** Call a command on an agent (by id or name) and answer with its result. */
  async request (input: unknown, options: { signal?: AbortSignal } = {}): Promise<RequestOutput> {
    const r = parseInput(RequestInput, input, 'request')
    const to = this.agent(r.agent).peerId
    const result = await this.node.request(to, r.command, r.payload, {
      ...this.onBehalf,
      ...(r.timeoutMs !== undefined ? { timeoutMs: r.timeoutMs } : {}),
      ...(r.delivery !== undefined ? { delivery: r.delivery } : {}),
      ...(options.signal !== undefined ? { signal: options.signal } : {})
    })
    return { agent: to, result }
  }

  // --- tasks --------------------------------------------------------------------------------

  /** Submit one task or a pipeline; resolves once the coordinator holds them on a majority. */
  async submit (input: unknown, options: { signal?: AbortSignal } = {}): Promise<SubmitOutput> {
    const s = parseInput(SubmitInput, input, 'submit')
    const handles = await this.node.submitTasks(s.tasks.map(t => ({ ...t, task_id: t.task_id ?? randomUUID() })), options)
    const duplicates = handles.filter(h => h.duplicate).map(h => h.taskId)
    return { task_ids: handles.map(h => h.taskId), ...(duplicates.length > 0 ? { duplicates } : {}) }
  }

  /**
   * Ends this node was told of, the last MAX_ENDS_KEPT: a coordinator tells an end only once a
   * majority of the voters hold it, so it is final; but a coordinator that took office a moment
   * ago answers a task's state from before its end until it has replicated the end again. A
   * client that was told a task completed (a blocking send, an update) must not be told next that
   * it is running, with no result.
   */
  private readonly ends = new Map<string, TaskStatus>()

  private sawEnd (s: TaskStatus): void {
    if (!TERMINAL.has(s.status)) return
    this.ends.delete(s.task_id)
    this.ends.set(s.task_id, s)
    if (this.ends.size > MAX_ENDS_KEPT) this.ends.delete(this.ends.keys().next().value as string)
  }

  /** A task's status (with its result once completed), from the coordinator; its end, once this node was told of one. */
  async task (taskId: string): Promise<TaskStatus> {
    const id = parseInput(TaskId, taskId, 'task id')
    const s = await this.node.tasks.client.query(id)
    if (TERMINAL.has(s.status)) { this.sawEnd(s); return s }
    return this.ends.get(id) ?? s
  }

  /**
   * Pause, resume or cancel a task: resolves with the state it is in now (the coordinator's ack);
   * a refusal (task.control.reject) is thrown as the error of its code (TSK001, TSK002, TSK007).
   */
  async control (taskId: string, input: unknown): Promise<{ task_id: string, status: TaskState }> {
    const c = parseInput(ControlInput, input, 'control')
    const id = parseInput(TaskId, taskId, 'task id')
    const extra = { ...(c.reason !== undefined ? { reason: c.reason } : {}), ...(c.checkpoint !== undefined ? { checkpoint: c.checkpoint } : {}) }
    const answer = await this.node.tasks.client.control(id, `task.control.${c.action}`, extra)
    if (answer.type === 'task.control.reject') throw errorFromWire({ code: answer.code, message: answer.reason })
    if (TERMINAL.has(answer.status)) await this.untilReadEnded(id)
    return { task_id: id, status: answer.status }
  }

  /**
   * A message to a task that is not over (`$agentmesh/task/input`): resolves with the task's
   * state once the mesh holds it; a refusal is thrown as the error of its code (TSK001, TSK002 for
   * a task over, TSK007, MSG002 past the caps). The same message_id again is taken once.
   */
  async input (taskId: string, input: unknown): Promise<MessageOutput> {
    const m = parseInput(MessageInput, input, 'input')
    const id = parseInput(TaskId, taskId, 'task id')
    const messageId = m.message_id ?? randomUUID()
    const answer = await this.node.tasks.client.input(id, { message_id: messageId, input: m.input })
    if (answer.type === 'task.control.reject') throw errorFromWire({ code: answer.code, message: answer.reason })
    return { task_id: id, message_id: messageId, status: answer.status }
  }

  /**
   * Read-your-writes after a control that ended a task: the coordinator acknowledges a cancel at
   * once, but its queries answer the status before the end until a majority of the voters hold it
   * (protocols/task/untold.ts), so a client that read the task right after the ack was told it
   * was still submitted or running. The answer waits until a read through this node says it
   * ended (kept in `ends` from then on), at most READ_AFTER_CONTROL_MS: past that the end is the
   * coordinator's to replicate, and the ack is answered as it came.
   */
  private async untilReadEnded (id: string): Promise<void> {
    const handle = this.node.tasks.client.handles.get(id)
    const end = Date.now() + READ_AFTER_CONTROL_MS
    for (;;) {
      // This node submitted it: the coordinator tells the handle the end once a majority holds it.
      const told = handle?.finished === true ? handle.latest : undefined
      if (told !== undefined) { this.sawEnd(told); return }
      const s = await this.task(id).catch(() => undefined)
      if (s !== undefined && TERMINAL.has(s.status)) return
      if (Date.now() >= end) return
      await new Promise(resolve => setTimeout(resolve, READ_POLL_MS))
    }
  }

  /**
   * A task's status changes until it ends (the first is its status now). Tasks this node
   * submitted are followed from the coordinator's updates; others are asked for once a second.
   */
  async * taskUpdates (taskId: string, options: { signal?: AbortSignal } = {}): AsyncGenerator<TaskStatus> {
    const handle = this.node.tasks.client.handles.get(taskId)
    let last = await this.task(taskId)
    yield last
    if (TERMINAL.has(last.status)) return
    if (handle !== undefined) {
      // The handle's updates start with the first it heard: the status read above is among them,
      // and every stream (WebSocket, GraphQL, A2A) would send it twice.
      for await (const s of handle.updates()) {
        if (options.signal?.aborted === true) return
        if (Date.parse(String(s.timestamp)) < Date.parse(String(last.timestamp)) || sameChange(s, last)) continue
        last = s
        this.sawEnd(s)
        yield s
      }
      return
    }
    while (options.signal?.aborted !== true && !TERMINAL.has(last.status)) {
      await new Promise(resolve => setTimeout(resolve, POLL_MS))
      const s = await this.task(taskId)
      if (!sameChange(s, last)) yield s
      last = s
    }
  }

  // --- resources ----------------------------------------------------------------------------

  async allocate (input: unknown, options: { signal?: AbortSignal } = {}): Promise<AllocateAnswer> {
    const req = parseInput(AllocateRequest, input, 'allocate')
    if (req.agent !== undefined) req.agent = this.agent(req.agent).peerId
    return await this.node.allocateResources(req, options)
  }

  async release (input: unknown, options: { signal?: AbortSignal } = {}): Promise<{ released: string[] }> {
    const r = parseInput(ReleaseInput, input, 'release')
    return { released: await this.node.releaseResources(r.task_id, r.resource_ids, options) }
  }

  // --- dead letters -------------------------------------------------------------------------

  /** This node's dead letters (list, get, replay, purge: docs/dead-letters.md). */
  get deadLetters (): DeadLetters { return this.node.deadLetters }
}
