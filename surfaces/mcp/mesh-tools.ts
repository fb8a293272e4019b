/**
 * The MCP tools about agents, commands, topics and dead letters (tasks: ./task-tools.ts). Each
 * runs one of MeshOperations with the arguments the server already checked against `input`.
 */
import { z } from 'zod'
import { until } from '../../node/until.js'
import { watchAbsent } from '../../node/absent-agent.js'
import { AgentMeshError } from '../../protocols/core/errors.js'
import { DEAD_LETTER_REASONS, type DeadLetter } from '../../protocols/delivery/types.js'
import {
  AgentQuery, AgentRef, AgentSummary, CoordinatorInfo, PublishInput, PublishOutput, RequestInput, RequestOutput, TopicEvent, TopicName,
  UnknownAgentError
} from '../operations/index.js'
import { DEFAULT_TOPIC_LIMIT, MAX_WAIT_MS, TOPIC_POLL_MS } from './constants.js'
import { defineTool, described, pause, waitMs, type McpContext, type MeshTool } from './tool.js'

/** How long call_command waits for an agent it does not know yet (its card may still be on its way). */
const FIND_MS = 5_000

/** The agents a query matches; this node only if it serves as an agent too (`listSelf`). */
export function agentsOf (ctx: McpContext, query: AgentQuery = {}): AgentSummary[] {
  const self = ctx.ops.node.peerId
  return ctx.ops.agents(query).filter(a => ctx.listSelf || a.peerId !== self)
}

/** A deadline for a wait: aborts at `ms` or when `parent` does; `clear()` when done. */
function deadline (ms: number, parent: AbortSignal): { signal: AbortSignal, clear: () => void } {
  const controller = new AbortController()
  const onParent = (): void => { controller.abort(parent.reason) }
  const timer = setTimeout(() => { controller.abort(new DOMException(`waited ${ms} ms`, 'TimeoutError')) }, ms)
  parent.addEventListener('abort', onParent, { once: true })
  return { signal: controller.signal, clear: () => { clearTimeout(timer); parent.removeEventListener('abort', onParent) } }
}

/**
 * The agent by peer id or name, waiting up to `ms` for one not seen yet, or less once the member
 * view is complete without it (node/absent-agent.ts); UnknownAgentError (COM002) after.
 */
async function findAgent (ctx: McpContext, ref: string, ms: number, signal: AbortSignal): Promise<AgentSummary> {
  const look = (): AgentSummary | undefined => agentsOf(ctx).find(a => a.peerId === ref) ?? agentsOf(ctx).find(a => a.name === ref)
  const wait = deadline(ms, signal)
  const absent = watchAbsent(ctx.ops.node, m => m.peerId === ref || m.name === ref)
  try {
    await until(ctx.ops.node, 'peer:join', look, AbortSignal.any([wait.signal, absent.signal])).catch(() => {})
  } finally { wait.clear(); absent.stop() }
  const found = look()
  if (found === undefined) throw new UnknownAgentError(ref, agentsOf(ctx).map(a => a.name))
  return found
}

const AgentsOutput = z.strictObject({ agents: z.array(AgentSummary) })

const listAgents = defineTool({
  name: 'list_agents',
  title: 'List the agents of the mesh',
  description: 'The agents this server sees on the mesh: peer id, name, roles, capabilities, version, addresses and failure-detection state ' +
    '(alive, suspect, offline, left), and who coordinates the mesh. The filters are optional and combine (all must match).',
  input: described(AgentQuery, {
    capability: 'only agents that announce this capability',
    role: 'only agents that announce this role',
    name: 'only agents with this name'
  }),
  output: AgentsOutput.extend({ coordinator: CoordinatorInfo }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, query, extra) => {
    await ctx.joined(extra.signal)
    return { agents: agentsOf(ctx, query), coordinator: ctx.ops.coordinator() }
  }
})

const findAgents = defineTool({
  name: 'find_agents',
  title: 'Find agents',
  description: 'Agents that match every filter given (an agent by peer id or name, a capability, a role), waiting up to wait_ms for one to join ' +
    'when none matches yet. Answers an empty list when none matched in time.',
  input: described(AgentQuery, {
    capability: 'agents that announce this capability',
    role: 'agents that announce this role',
    name: 'agents with this name'
  }).extend({
    agent: AgentRef.optional(),
    wait_ms: waitMs(MAX_WAIT_MS, 'wait this long for a matching agent to join')
  }),
  output: AgentsOutput,
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, { agent, wait_ms: wait, ...query }, extra) => {
    await ctx.joined(extra.signal)
    const match = (): AgentSummary[] | undefined => {
      const found = agentsOf(ctx, query).filter(a => agent === undefined || a.peerId === agent || a.name === agent)
      return found.length > 0 ? found : undefined
    }
    if (match() === undefined && wait !== undefined && wait > 0) {
      const d = deadline(wait, extra.signal)
      try { await until(ctx.ops.node, 'peer:join', match, d.signal).catch(() => {}) } finally { d.clear() }
    }
    return { agents: match() ?? [] }
  }
})

/**
 * A request whose payload may be left out (issue 44: a model asking for echo or info had to
 * invent one); the operations' RequestInput, which the gateway shares, still wants one.
 */
const CallInput = RequestInput.extend({ payload: z.unknown().optional() })

const callCommand = defineTool({
  name: 'call_command',
  title: 'Call a command on an agent',
  description: 'Send a request to one agent (by peer id or name) and answer with its result. The agent checks the payload against its command\'s schema; ' +
    'its refusals come back with their codes (MSG001 invalid payload, CMD001 unknown command, CMD002 the handler failed, COM001 no answer in time, ' +
    'COM002 unreachable, SEC002 this client may not call it).',
  input: described(CallInput, {
    agent: 'the agent\'s peer id, or its name (list_agents shows both)',
    command: 'the command\'s name, e.g. "echo"',
    payload: 'the request\'s payload (any JSON the command\'s schema accepts); left out: null, or {} where the command refuses null (at-most-once only)',
    timeoutMs: 'deadline of the request in ms (default: the node\'s, 30 s)',
    delivery: 'at-most-once (default), at-least-once (retried until answered), exactly-once (retried, run once)'
  }),
  output: RequestOutput,
  annotations: { readOnlyHint: false, destructiveHint: true, openWorldHint: false },
  run: async (ctx, args, extra) => {
    await ctx.joined(extra.signal)
    const agent = await findAgent(ctx, args.agent, Math.min(FIND_MS, args.timeoutMs ?? FIND_MS), extra.signal)
    const ask = async (payload: unknown): Promise<RequestOutput> => await ctx.ops.request({ ...args, agent: agent.peerId, payload }, { signal: extra.signal })
    if (args.payload !== undefined) return await ask(args.payload)
    // No payload: null, as `agentmesh request` sends for none; a command whose schema wants an
    // object (of optional fields) refuses null before its handler runs (MSG001), so {} is asked then.
    // Not with reliable delivery: the agent dead-letters a refused reliable message, and the
    // operator would find one for a call that worked.
    const reliable = args.delivery !== undefined && args.delivery !== 'at-most-once'
    try {
      return await ask(null)
    } catch (err) {
      if (reliable || !(err instanceof AgentMeshError && err.code === 'MSG001')) throw err
      return await ask({})
    }
  }
})

const publish = defineTool({
  name: 'publish',
  title: 'Publish an event on a topic',
  description: 'Broadcast a payload on a topic to every agent subscribed to it. With delivery at-least-once or exactly-once and recipients ' +
    '(peer ids or names), those agents must acknowledge it and it is resent until they do.',
  input: described(PublishInput, {
    topic: 'the topic (names starting with "$" are agentmesh\'s own)',
    payload: 'the event (any JSON)',
    delivery: 'at-most-once (default), at-least-once, exactly-once',
    recipients: 'with a reliable delivery: the agents that must acknowledge it'
  }),
  output: PublishOutput,
  annotations: { readOnlyHint: false, destructiveHint: false, openWorldHint: false },
  run: async (ctx, args, extra) => {
    await ctx.joined(extra.signal)
    return { ...await ctx.ops.publish(args) }
  }
})

const readTopic = defineTool({
  name: 'read_topic',
  title: 'Read the recent events of a topic',
  description: 'The last events published on a topic, oldest first. The first call for a topic starts watching it and answers nothing yet: ' +
    'events are kept from then on (the last 100). Give `after` (the id of the last event you read) to get only newer ones, and wait_ms to wait for one.',
  input: z.strictObject({
    topic: TopicName.describe('the topic'),
    limit: z.number().int().min(1).max(1_000).optional().describe(`at most this many events, the newest (default ${DEFAULT_TOPIC_LIMIT})`),
    after: z.string().min(1).max(128).optional().describe('only events after the event with this id'),
    wait_ms: waitMs(MAX_WAIT_MS, 'when there is no event to answer yet, wait this long for one')
  }),
  output: z.strictObject({
    topic: z.string(),
    events: z.array(TopicEvent),
    watching_since: z.number().int().describe('ms since epoch: events published before it were not seen'),
    note: z.string().optional()
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, { topic, limit = DEFAULT_TOPIC_LIMIT, after, wait_ms: wait = 0 }, extra) => {
    const first = !ctx.ops.feeds.list().some(f => f.topic === topic)
    const read = (): { events: TopicEvent[], since: number } => {
      const { events, since } = ctx.ops.recent(topic)
      // An `after` no longer kept (or never seen) was older than every event kept: all of them are newer.
      const from = after === undefined ? 0 : events.findIndex(e => e.id === after) + 1
      return { events: events.slice(from).slice(-limit), since }
    }
    let page = read()
    const end = Date.now() + wait
    while (page.events.length === 0 && Date.now() < end && !extra.signal.aborted) {
      await pause(Math.min(TOPIC_POLL_MS, end - Date.now()), extra.signal)
      page = read()
    }
    const watching = ctx.ops.feeds.list().find(f => f.topic === topic)
    return {
      topic,
      events: page.events,
      watching_since: page.since,
      ...(first && page.events.length === 0 ? { note: 'watching started with this call: events published from now on are kept; call again to read them' } : {}),
      ...(watching === undefined ? { note: 'this topic is no longer watched (too many topics): call again to watch it anew' } : {})
    }
  }
})

/** A dead letter as the model reads it: what it was, where it went, why it died (the envelope's payload included). */
const LetterSummary = z.strictObject({
  id: z.string(),
  reason: z.enum(DEAD_LETTER_REASONS),
  side: z.enum(['sender', 'receiver']),
  peer: z.string().optional(),
  topic: z.string().optional(),
  subject: z.string().describe('the command or topic of the message'),
  message_id: z.string(),
  error: z.strictObject({ code: z.string(), name: z.string(), message: z.string() }),
  attempts: z.number().int(),
  replays: z.number().int(),
  dead_at: z.string().describe('ISO time'),
  payload: z.unknown()
})

function summary (l: DeadLetter): z.infer<typeof LetterSummary> {
  return {
    id: l.id,
    reason: l.reason,
    side: l.side,
    ...(l.peer !== undefined ? { peer: l.peer } : {}),
    ...(l.topic !== undefined ? { topic: l.topic } : {}),
    subject: l.envelope.subject,
    message_id: l.envelope.id,
    error: l.error,
    attempts: l.attempts,
    replays: l.replays ?? 0,
    dead_at: new Date(l.deadAt).toISOString(),
    payload: l.envelope.payload
  }
}

const listDeadLetters = defineTool({
  name: 'list_dead_letters',
  title: 'List dead letters',
  description: 'Messages this server\'s node sent or received with a reliable delivery and gave up on (retries exhausted, expired, refused, ' +
    'handler failed, circuit open), oldest first, with the last error\'s code. Page with `after` (the answer\'s `next`).',
  input: z.strictObject({
    limit: z.number().int().min(1).max(1_000).optional().describe('at most this many (default 100)'),
    after: z.string().min(1).max(128).optional().describe('only those after this dead letter id (the previous answer\'s next)'),
    reason: z.enum(DEAD_LETTER_REASONS).optional().describe('only this reason'),
    peer: AgentRef.optional().describe('only those for or from this agent (peer id or name)')
  }),
  output: z.strictObject({
    letters: z.array(LetterSummary),
    total: z.number().int().describe('dead letters held in all'),
    next: z.string().optional(),
    enabled: z.boolean().describe('false: this node keeps no dead letters (only counts them)')
  }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, { peer, ...rest }) => {
    const letters = ctx.ops.deadLetters
    // A name is the agent's while it is known; a letter for an agent gone is found by its peer id.
    let peerId = peer
    if (peer !== undefined) { try { peerId = ctx.ops.agent(peer).peerId } catch (err) { if (!(err instanceof UnknownAgentError)) throw err } }
    const page = letters.list({ ...rest, ...(peerId !== undefined ? { peer: peerId } : {}) })
    return { letters: page.letters.map(summary), total: page.total, ...(page.next !== undefined ? { next: page.next } : {}), enabled: letters.enabled }
  }
})

export const MESH_TOOLS: MeshTool[] = [listAgents, findAgents, callCommand, publish, readTopic, listDeadLetters]
