/**
 * The GraphQL schema of the gateway: MeshOperations as queries, mutations and subscriptions.
 * Types come from the operations' zod schemas (zod-types.ts); resolvers only call the
 * operations, which validate their input again with those schemas and throw typed errors, so a
 * rule is written once whatever binding the client speaks.
 */
import {
  GraphQLFloat, GraphQLID, GraphQLInt, GraphQLList, GraphQLNonNull, GraphQLObjectType, GraphQLSchema, GraphQLString,
  getNamedType, getNullableType, isInputObjectType, isListType,
  type GraphQLFieldConfigArgumentMap, type GraphQLInputType
} from 'graphql'
import { z } from 'zod'
import type { MeshOperations } from '../../operations/index.js'
import {
  AgentQuery, AgentSummary, ControlAction, CoordinatorInfo, Delivery, PublishInput, PublishOutput, RequestInput,
  RequestOutput, SubmitOutput, TaskInput, TaskStatus, TopicEvent
} from '../../operations/schemas.js'
import { TASK_STATES } from '../../../protocols/task/schemas.js'
import { endable } from '../endable.js'
import { JSONScalar, ZodGraphQL } from './zod-types.js'

/** What every resolver gets: the operations, and a signal that fires when the client goes away. */
export interface GraphQLContext {
  ops: MeshOperations
  signal: AbortSignal
}

const Count = z.number().int().min(0).max(2 ** 31 - 1)
const WatchedTopic = z.strictObject({ topic: z.string(), watchers: Count, recent: Count })
const ControlOutput = z.strictObject({ task_id: z.string(), status: TaskStatus.shape.status })

/** GraphQL gives an optional argument left out as absent, but one written as null as null; the operations' strict schemas want it absent. */
export function withoutNulls (value: unknown, type: GraphQLInputType): unknown {
  if (value === null || value === undefined) return value
  const t = getNullableType(type)
  if (isListType(t) && Array.isArray(value)) return value.map(v => withoutNulls(v, t.ofType))
  if (isInputObjectType(t) && typeof value === 'object') {
    const fields = t.getFields()
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(value)) {
      const f = fields[k]
      if (v === null && f !== undefined && getNamedType(f.type) !== JSONScalar) continue
      out[k] = f !== undefined ? withoutNulls(v, f.type) : v
    }
    return out
  }
  return value
}

/** The arguments as an operation's input: nulls of optional non-JSON arguments left out. */
function input (args: Record<string, unknown>, defs: GraphQLFieldConfigArgumentMap): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, v] of Object.entries(args)) {
    const def = defs[k]
    if (v === null && def !== undefined && getNamedType(def.type) !== JSONScalar) continue
    out[k] = def !== undefined ? withoutNulls(v, def.type) : v
  }
  return out
}

export function buildSchema (): GraphQLSchema {
  const z2g = new ZodGraphQL({
    [TASK_STATES.join(',')]: 'TaskState',
    [Delivery.options.join(',')]: 'Delivery',
    [ControlAction.options.join(',')]: 'ControlAction'
  })
  const Agent = z2g.object('Agent', AgentSummary, 'An agent as this node knows it: what its card says, and its state in the member view.')
  const Task = z2g.object('TaskStatus', TaskStatus, 'A task\'s status, as the coordinator holds it (its result once completed).')
  const Event = z2g.object('TopicEvent', TopicEvent, 'One event published on a topic.')
  const TaskInputType = z2g.input('TaskInput', TaskInput, 'A task to submit; without task_id one is made up.')

  const agentArgs = z2g.args('Agent', AgentQuery)
  const publishArgs = z2g.args('Publish', PublishInput)
  const requestArgs = z2g.args('Request', RequestInput)
  const id = { id: { type: new GraphQLNonNull(GraphQLID) } }

  const query = new GraphQLObjectType<unknown, GraphQLContext>({
    name: 'Query',
    fields: {
      agents: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Agent))),
        description: 'The agents this node knows (itself included), filtered by capability, role and name.',
        args: agentArgs,
        resolve: (_, args, { ops }) => ops.agents(input(args, agentArgs))
      },
      agent: {
        type: new GraphQLNonNull(Agent),
        description: 'One agent by peer id or name (COM002 if this node knows none).',
        args: { ref: { type: new GraphQLNonNull(GraphQLString), description: 'a peer id, or an agent\'s name' } },
        resolve: (_, { ref }, { ops }) => ops.agent(ref)
      },
      coordinator: {
        type: new GraphQLNonNull(z2g.object('Coordinator', CoordinatorInfo)),
        resolve: (_, _args, { ops }) => ops.coordinator()
      },
      task: {
        type: new GraphQLNonNull(Task),
        description: 'A task\'s status from the coordinator (TSK001 if it knows no such task).',
        args: id,
        resolve: async (_, { id }, { ops }) => await ops.task(id)
      },
      topics: {
        type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(z2g.object('WatchedTopic', WatchedTopic)))),
        description: 'The topics this node watches for its clients, with their live watchers and the events kept.',
        resolve: (_, _args, { ops }) => ops.feeds.list()
      },
      recentEvents: {
        type: new GraphQLNonNull(new GraphQLObjectType({
          name: 'RecentEvents',
          fields: {
            events: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(Event))) },
            since: { type: new GraphQLNonNull(GraphQLFloat), description: 'ms since epoch: events are kept from then on' }
          }
        })),
        description: 'A topic\'s last events, oldest first. The first ask for a topic starts keeping them: `since` says from when.',
        args: { topic: { type: new GraphQLNonNull(GraphQLString) }, limit: { type: GraphQLInt } },
        resolve: (_, { topic, limit }, { ops }) => ops.recent(topic, limit ?? undefined)
      }
    }
  })

  const Control = z2g.object('ControlResult', ControlOutput, 'The state the task is in once the coordinator acknowledged the command.')
  const Submitted = z2g.object('SubmitResult', SubmitOutput)
  const control = (action: 'pause' | 'resume' | 'cancel') => async (_: unknown, args: Record<string, unknown>, { ops }: GraphQLContext) =>
    await ops.control(args.id as string, {
      action,
      ...(args.reason != null ? { reason: args.reason } : {}),
      ...(args.checkpoint !== undefined ? { checkpoint: args.checkpoint } : {})
    })
  const reason = { type: GraphQLString }

  const mutation = new GraphQLObjectType<unknown, GraphQLContext>({
    name: 'Mutation',
    fields: {
      publish: {
        type: new GraphQLNonNull(z2g.object('PublishResult', PublishOutput)),
        args: publishArgs,
        resolve: async (_, args, { ops }) => await ops.publish(input(args, publishArgs))
      },
      request: {
        type: new GraphQLNonNull(z2g.object('RequestResult', RequestOutput)),
        description: 'Call a command on an agent (by peer id or name) and answer with its result.',
        args: requestArgs,
        resolve: async (_, args, { ops, signal }) => await ops.request(input(args, requestArgs), { signal })
      },
      submitTask: {
        type: new GraphQLNonNull(Submitted),
        description: 'Submit one task; resolves once the coordinator holds it on a majority.',
        args: { task: { type: new GraphQLNonNull(TaskInputType) } },
        resolve: async (_, { task }, { ops, signal }) => await ops.submit({ tasks: [withoutNulls(task, TaskInputType)] }, { signal })
      },
      submitPipeline: {
        type: new GraphQLNonNull(Submitted),
        description: 'Submit a pipeline: tasks whose dependencies name each other\'s task_id.',
        args: { tasks: { type: new GraphQLNonNull(new GraphQLList(new GraphQLNonNull(TaskInputType))) } },
        resolve: async (_, { tasks }, { ops, signal }) => await ops.submit({ tasks: (tasks as unknown[]).map(t => withoutNulls(t, TaskInputType)) }, { signal })
      },
      cancelTask: { type: new GraphQLNonNull(Control), args: { ...id, reason }, resolve: control('cancel') },
      pauseTask: { type: new GraphQLNonNull(Control), args: { ...id, reason }, resolve: control('pause') },
      resumeTask: { type: new GraphQLNonNull(Control), args: { ...id, checkpoint: { type: JSONScalar } }, resolve: control('resume') }
    }
  })

  const subscription = new GraphQLObjectType<unknown, GraphQLContext>({
    name: 'Subscription',
    fields: {
      topicEvents: {
        type: new GraphQLNonNull(Event),
        description: 'A topic\'s events from now on (a client that does not keep up loses the oldest).',
        args: { topic: { type: new GraphQLNonNull(GraphQLString) } },
        subscribe: (_, { topic }, { ops }) => {
          const watcher = ops.watch(topic)
          return endable(watcher, () => { watcher.close() })
        },
        resolve: (event: unknown) => event
      },
      taskUpdates: {
        type: new GraphQLNonNull(Task),
        description: 'A task\'s status now, then each change until it ends.',
        args: id,
        subscribe: (_, { id }, { ops, signal }) => {
          const stop = new AbortController()
          return endable(ops.taskUpdates(id, { signal: AbortSignal.any([signal, stop.signal]) }), () => { stop.abort() })
        },
        resolve: (status: unknown) => status
      }
    }
  })

  return new GraphQLSchema({ query, mutation, subscription })
}
