/**
 * The MCP tools about tasks: submit one or a pipeline (and wait for the end, bounded), read a
 * task's status and result (and wait), pause, resume and cancel. A wait reports progress to the
 * host when it asked for it, and answers with the statuses it reached when its bound runs out:
 * the model calls get_task again later.
 */
import { z } from 'zod'
import { NotCoordinatorError } from '../../protocols/core/errors.js'
import { TERMINAL, type TaskStatus as Status } from '../../protocols/task/schemas.js'
import { ControlInput, SubmitInput, TaskId, TaskStatus } from '../operations/index.js'
import { LOCAL_POLL_MS, MAX_WAIT_MS, REMOTE_POLL_MS } from './constants.js'
import { defineTool, described, pause, waitMs, type CallExtra, type McpContext, type MeshTool } from './tool.js'

/**
 * The tasks' statuses once each has ended, or when `ms` ran out or the call was cancelled. Tasks
 * this node submitted are read from their handles, which the coordinator's updates keep current
 * (no network); others are asked for once a second. A query that fails during the wait (a
 * coordinator changing office) keeps the status known: the wait goes on.
 */
export async function follow (ctx: McpContext, ids: string[], ms: number, extra: CallExtra): Promise<Status[]> {
  const handles = ids.map(id => ctx.ops.node.tasks.client.handles.get(id))
  let latest = await Promise.all(ids.map(async id => await ctx.ops.task(id)))
  const end = Date.now() + ms
  let askedAt = Date.now()
  let told = -1
  const tell = async (): Promise<void> => {
    const done = latest.reduce((sum, s) => sum + (TERMINAL.has(s.status) ? 1 : s.progress), 0)
    if (done <= told) return
    told = done
    await extra.progress(done, latest.length, latest.map(s => `${s.task_id}: ${s.status}`).join(', ')).catch(() => {})
  }
  await tell()
  while (!latest.every(s => TERMINAL.has(s.status)) && Date.now() < end && !extra.signal.aborted) {
    await pause(Math.min(LOCAL_POLL_MS, end - Date.now()), extra.signal)
    const ask = Date.now() - askedAt >= REMOTE_POLL_MS
    if (ask) askedAt = Date.now()
    latest = await Promise.all(latest.map(async (s, i) => {
      if (TERMINAL.has(s.status)) return s
      const local = handles[i]?.latest
      if (local !== undefined) return Date.parse(local.timestamp) >= Date.parse(s.timestamp) ? local : s
      return ask ? await ctx.ops.task(s.task_id).catch(() => s) : s
    }))
    await tell()
  }
  return latest
}

/**
 * Tasks go through the coordinator, and a client follows none (its heartbeats reach members
 * only): said at once, rather than after the submission's whole timeout.
 */
async function throughCoordinator (ctx: McpContext, signal: AbortSignal): Promise<void> {
  if (ctx.ops.node.config.client) {
    throw new NotCoordinatorError('this MCP server\'s node is a client (agentmesh mcp --client): it follows no coordinator, so it cannot submit or follow tasks; run it without --client')
  }
  await ctx.joined(signal)
}

const done = (statuses: Status[]): boolean => statuses.every(s => TERMINAL.has(s.status))

const submitTask = defineTool({
  name: 'submit_task',
  title: 'Submit a task or a pipeline',
  description: 'Submit one task, or a pipeline (tasks whose `dependencies` name each other\'s task_id), to the mesh\'s coordinator, which gives ' +
    'each to an agent that runs its `type`. Answers the task ids once the coordinator holds them; with wait_ms, waits until every task ended ' +
    '(completed, failed, cancelled) or the wait ran out, and answers their statuses (with each result). Follow up with get_task.',
  input: described(SubmitInput, {
    tasks: 'one task, or the tasks of a pipeline: each has a `type` (what runs it), and optionally `task_id` (made up if absent), `metadata` ' +
      '(its input), `dependencies` (task ids that must complete first), `priority` (lower first), `deadline` (ISO time), `requirements`'
  }).extend({ wait_ms: waitMs(MAX_WAIT_MS, 'wait this long for the tasks to end') }),
  output: z.strictObject({
    task_ids: z.array(z.string()),
    tasks: z.array(TaskStatus).optional().describe('with wait_ms: each task\'s status when the wait ended'),
    done: z.boolean().optional().describe('with wait_ms: every task ended')
  }),
  annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: false },
  run: async (ctx, { wait_ms: wait, ...input }, extra) => {
    await throughCoordinator(ctx, extra.signal)
    const { task_ids: ids } = await ctx.ops.submit(input, { signal: extra.signal })
    if (wait === undefined || wait === 0) return { task_ids: ids }
    const tasks = await follow(ctx, ids, wait, extra)
    return { task_ids: ids, tasks, done: done(tasks) }
  }
})

const getTask = defineTool({
  name: 'get_task',
  title: 'Get a task\'s status and result',
  description: 'A task\'s status (submitted, assigned, running, paused, completed, failed, cancelled), progress, the agent that runs it, ' +
    'its result once completed or its error once failed. With wait_ms, waits until it ended or the wait ran out.',
  input: z.strictObject({
    task_id: TaskId.describe('the task\'s id (submit_task answers it)'),
    wait_ms: waitMs(MAX_WAIT_MS, 'wait this long for the task to end')
  }),
  output: z.strictObject({ task: TaskStatus, done: z.boolean().describe('the task ended: completed, failed or cancelled') }),
  annotations: { readOnlyHint: true, openWorldHint: false },
  run: async (ctx, { task_id: id, wait_ms: wait = 0 }, extra) => {
    await throughCoordinator(ctx, extra.signal)
    const [task] = await follow(ctx, [id], wait, extra)
    return { task, done: TERMINAL.has(task.status) }
  }
})

const ControlOutput = z.strictObject({
  task_id: z.string(),
  status: z.string().describe('the task\'s state once the coordinator took the command')
})

/** pause_task, resume_task, cancel_task: one control action each, refused with TSK001, TSK002 or TSK007. */
function controlTool (action: 'pause' | 'resume' | 'cancel', title: string, description: string): MeshTool {
  const input = action === 'resume'
    ? z.strictObject({ task_id: TaskId.describe('the task\'s id'), checkpoint: ControlInput.shape.checkpoint.describe('where the agent resumes from (optional; default: its last)') })
    : z.strictObject({ task_id: TaskId.describe('the task\'s id'), reason: ControlInput.shape.reason.describe('why, kept with the task') })
  return defineTool({
    name: `${action}_task`,
    title,
    description,
    input,
    output: ControlOutput,
    annotations: { readOnlyHint: false, destructiveHint: action === 'cancel', idempotentHint: true, openWorldHint: false },
    run: async (ctx, { task_id: id, ...rest }, extra) => {
      await throughCoordinator(ctx, extra.signal)
      return { ...await ctx.ops.control(id, { action, ...rest }) }
    }
  })
}

export const TASK_TOOLS: MeshTool[] = [
  submitTask,
  getTask,
  controlTool('cancel', 'Cancel a task', 'Cancel a task that has not ended: its agent is told to stop, and the task ends as cancelled ' +
    '(TSK002 if it already ended, TSK007 if this MCP server\'s node is no task operator and did not submit it).'),
  controlTool('pause', 'Pause a task', 'Pause a running task: its agent stops it and keeps its checkpoint, until resume_task.'),
  controlTool('resume', 'Resume a task', 'Resume a paused task, from its last checkpoint or the one given.')
]
