/**
 * The task protocol's messages (R-TASK), with the specification's field names: `task.submit`,
 * `task.status` (published on `tasks.status.<task_id>`), the control commands
 * `task.control.pause|resume|cancel` and their answers `task.control.ack|reject`. The commands
 * between the coordinator and the agents that carry them are agentmesh's own ($agentmesh/task/*).
 */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'
import { BATCH_MAX, itemAnswer, itemsWeight } from './batch-call.js'
import { Requirements, ResourceItem, TaskId } from '../resource/schemas.js'
import { CertificateSchema } from '../coordination/election-wire.js'
import { DIGEST_BUCKETS, DIGEST_TEXT_LENGTH } from '../discovery/member-digest.js'

// Defined with the resource protocol (task depends on resource, never the reverse); the task
// protocol's public names stay.
export { Requirements, TaskId }
const Timestamp = z.iso.datetime({ offset: true })
const Metrics = z.record(z.string().max(128), z.unknown())

export const TaskSpec = z.strictObject({
  task_id: TaskId,
  type: z.string().min(1).max(128),
  /** Lower runs first (1 before 5), as in the specification's example. */
  priority: z.number().int().min(-1_000_000).max(1_000_000).default(5),
  deadline: Timestamp.optional(),
  requirements: Requirements.default({ cpu_cores: 0, memory_gb: 0, storage_gb: 0 }),
  /** Task ids that must complete before this one starts. */
  dependencies: z.array(TaskId).max(1000).default([]),
  metadata: Metrics.default({}),
  /** What a missed deadline does: fail the task (default) or cancel it. */
  on_deadline: z.enum(['fail', 'cancel']).default('fail'),
  /** Attempts on agents that died or were lost before the task is failed. */
  max_attempts: z.number().int().min(1).max(20).default(3),
  /** How the coordinator picks the agent: least loaded (direct), or by asking for bids (contract net). */
  assignment: z.enum(['direct', 'contract_net']).default('direct'),
  /**
   * Capabilities the agent that runs it must hold (every one): in a closed mesh those its
   * credential grants, in an open one those its card claims (access.ts, docs/security.md).
   */
  capabilities: z.array(z.string().min(1).max(128)).max(32).optional()
})
export type TaskSpec = z.output<typeof TaskSpec>
export type TaskSpecInput = z.input<typeof TaskSpec>

export const TASK_STATES = ['submitted', 'assigned', 'running', 'paused', 'completed', 'failed', 'cancelled'] as const
export const TaskState = z.enum(TASK_STATES)
export type TaskState = z.infer<typeof TaskState>
export const TERMINAL: ReadonlySet<TaskState> = new Set(['completed', 'failed', 'cancelled'])

/**
 * What a task's record holds of the input sent to it after its submission: its messages, in the
 * order the coordinator took them, at most TASK_MESSAGES_MAX of them and TASK_MESSAGES_MAX_BYTES
 * in all (JSON), since every status and every replica carries them all. Past either, a message is
 * refused (MSG002, TaskInputFullError) and the task keeps those it has.
 */
export const TASK_MESSAGES_MAX = 32
export const TASK_MESSAGES_MAX_BYTES = 64 * 1024

/** One message to a task: `from` is the peer that sent it (authenticated), `at` when the coordinator took it. */
export const TaskMessage = z.strictObject({
  /** The sender's id for the message: a message whose id the task already holds is the same message, sent again. */
  message_id: z.string().min(1).max(128),
  from: z.string().max(128),
  at: Timestamp,
  input: z.unknown()
})
export type TaskMessage = z.infer<typeof TaskMessage>

/** `task.status`: what `tasks.status.<task_id>` carries and `status()` answers. */
export const TaskStatus = z.strictObject({
  task_id: TaskId,
  status: TaskState,
  progress: z.number().min(0).max(1),
  metrics: Metrics,
  timestamp: Timestamp,
  /** The agent that holds (or last held) the task. */
  agent: z.string().max(128).optional(),
  /** Closed mesh: the serial of the credential that agent was granted the task by (who made the result). */
  agent_serial: z.string().max(128).optional(),
  attempt: z.number().int().min(0),
  result: z.unknown().optional(),
  error: z.strictObject({ code: z.string().max(16), message: z.string().max(4096) }).optional(),
  /** Why it waits (dependencies, no agent free) or why it ended. */
  reason: z.string().max(1024).optional(),
  /** The messages sent to the task since its submission (`$agentmesh/task/input`), oldest first; absent when none. */
  messages: z.array(TaskMessage).max(TASK_MESSAGES_MAX).optional()
})
export type TaskStatus = z.infer<typeof TaskStatus>

export const ControlAction = z.enum(['pause', 'resume', 'cancel'])
export type ControlAction = z.infer<typeof ControlAction>

/** task.control.pause (task_id, reason), .resume (task_id, checkpoint), .cancel (task_id, reason). */
export const TaskControl = z.strictObject({
  command_id: z.string().min(1).max(128),
  type: z.enum(['task.control.pause', 'task.control.resume', 'task.control.cancel']),
  task_id: TaskId,
  reason: z.string().max(1024).optional(),
  checkpoint: z.unknown().optional()
})
export type TaskControl = z.infer<typeof TaskControl>

/** task.control.ack (command_id, status) or task.control.reject (command_id, reason). */
export const TaskControlAnswer = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('task.control.ack'), command_id: z.string(), status: TaskState }),
  z.strictObject({ type: z.literal('task.control.reject'), command_id: z.string(), reason: z.string().max(1024), code: z.string().max(16) })
])
export type TaskControlAnswer = z.infer<typeof TaskControlAnswer>

/** Submitter -> coordinator: more input to a task that is not over (the message's id makes a resend harmless). */
export const TaskInputRequest = z.strictObject({
  command_id: z.string().min(1).max(128),
  task_id: TaskId,
  message: z.strictObject({ message_id: TaskMessage.shape.message_id, input: z.unknown() })
})
export type TaskInputRequest = z.infer<typeof TaskInputRequest>

/**
 * The submitter's signature of a task it submitted (issue 13): with the record's `submitter` and
 * `spec` it rebuilds the signed submission envelope (submission.ts), so a coordinator taking
 * office can tell a record a voter altered or invented from one the submitter sent.
 */
export const SubmissionProof = z.strictObject({
  /** The submission envelope's id and timestamp (ms since the epoch), as the submitter signed them. */
  id: z.string().min(1).max(128),
  timestamp: z.number().int().nonnegative(),
  /** The submitter's Ed25519 signature (base64url) of the envelope (protocols/envelope/signature.ts). */
  signature: z.string().min(1).max(128)
})
export type SubmissionProof = z.infer<typeof SubmissionProof>

/** The coordinator's record of a task: replicated to the voters, merged by version. */
export const TaskRecord = z.strictObject({
  spec: TaskSpec,
  status: TaskStatus,
  /** The peer that submitted it: status updates are sent there. */
  submitter: z.string().max(128),
  submitted_at: z.number(),
  version: z.number().int().nonnegative(),
  /** The term of the coordinator that wrote this version: records merge by term, then version. */
  term: z.number().int().nonnegative().optional(),
  checkpoint: z.unknown().optional(),
  /** Times the agent holding it was lost; at `max_attempts` the task fails. */
  losses: z.number().int().nonnegative().default(0),
  /** The units the resource manager allocated to the attempt that runs (R-RES). */
  resources: z.array(ResourceItem).max(10_000).optional(),
  /** The submitter's signature of `spec`; a coordinator taking office drops a record without a valid one. */
  submission: SubmissionProof.optional(),
  /**
   * The coordinator's signature of this version (record-seal.ts): `by` signed every other field, its
   * term and version among them. A coordinator taking office drops a record whose signature does not
   * verify or whose signer did not lead its term (record-check.ts).
   */
  signature: z.strictObject({ by: z.string().min(1).max(128), sig: z.string().min(1).max(700) }).optional()
})
export type TaskRecord = z.infer<typeof TaskRecord>

// --- commands -------------------------------------------------------------------------------

/** Submitter -> coordinator: one task or a pipeline; acknowledged once the voters hold it. */
export const SubmitCommand = defineCommand('$agentmesh/task/submit', {
  request: z.strictObject({
    tasks: z.array(TaskSpec).min(1).max(1000),
    /** The submitter's signature of each task, in the same order; required (SEC004 without), optional only so the schema names the error. */
    signed: z.array(SubmissionProof).max(1000).optional()
  }),
  response: z.strictObject({ accepted: z.array(z.strictObject({ task_id: TaskId, duplicate: z.boolean(), status: TaskState })) })
})

/** Anyone -> coordinator: a task's status. */
export const QueryCommand = defineCommand('$agentmesh/task/query', {
  request: z.strictObject({ task_id: TaskId }),
  response: TaskStatus
})

/** Submitter -> coordinator: the status of several tasks (unknown ones are left out). */
export const QueryManyCommand = defineCommand('$agentmesh/task/query-many', {
  request: z.strictObject({ task_ids: z.array(TaskId).min(1).max(5_000) }),
  response: z.strictObject({ statuses: z.array(TaskStatus) })
})

/** Submitter -> coordinator: pause, resume, cancel. */
export const ControlCommand = defineCommand('$agentmesh/task/control', { request: TaskControl, response: TaskControlAnswer })

/** Coordinator -> agent: run this task (attempt n), with its dependencies' results and a checkpoint. */
export const RunCommand = defineCommand('$agentmesh/task/run', {
  request: z.strictObject({
    term: z.number().int().nonnegative(),
    spec: TaskSpec,
    attempt: z.number().int().min(1),
    checkpoint: z.unknown().optional(),
    inputs: z.record(TaskId, z.unknown()).default({}),
    resources: z.array(ResourceItem).max(10_000).default([]),
    /** The messages the task holds so far (`ctx.messages`); later ones come by `$agentmesh/task/deliver`. */
    messages: z.array(TaskMessage).max(TASK_MESSAGES_MAX).default([])
  }),
  // Refused with the attempt the agent holds when the offer's is older: attempt numbers are
  // counted by each coordinator, and one newly in office may not have seen the last offers.
  response: z.union([
    z.strictObject({ accepted: z.literal(true), duplicate: z.boolean() }),
    z.strictObject({ accepted: z.literal(false), holds: z.number().int().min(1) })
  ])
})

/** Coordinator -> agent: the run commands of one turn to that agent, answered each on its own (batch-call.ts). */
export const RunManyCommand = defineCommand('$agentmesh/task/run-many', {
  request: z.strictObject({ term: RunCommand.request.shape.term, runs: z.array(RunCommand.request.omit({ term: true })).min(1).max(BATCH_MAX) }),
  response: z.strictObject({ answers: z.array(itemAnswer(RunCommand.response)).max(BATCH_MAX) }),
  weight: itemsWeight('runs')
})

/** Coordinator -> agent: stop a running attempt (pause or cancel). */
export const StopCommand = defineCommand('$agentmesh/task/stop', {
  request: z.strictObject({ term: z.number().int().nonnegative(), task_id: TaskId, attempt: z.number().int().min(1), why: z.enum(['pause', 'cancel', 'deadline']) }),
  response: z.strictObject({ stopped: z.boolean() })
})

/**
 * Submitter -> coordinator: a message to a task (`task.control.ack` with the task's state, or
 * `task.control.reject` with TSK001, TSK002 for a task over, TSK007, MSG002 past the caps).
 */
export const InputCommand = defineCommand('$agentmesh/task/input', { request: TaskInputRequest, response: TaskControlAnswer })

/**
 * Coordinator -> agent: the messages of a task whose attempt it runs, fenced by term like a stop.
 * All the task holds travel (the agent keeps each once, by message_id), so one lost deliver is
 * made good by the next.
 */
export const DeliverCommand = defineCommand('$agentmesh/task/deliver', {
  request: z.strictObject({
    term: z.number().int().nonnegative(),
    task_id: TaskId,
    attempt: z.number().int().min(1),
    messages: z.array(TaskMessage).min(1).max(TASK_MESSAGES_MAX)
  }),
  /** Whether this agent runs that attempt (and so took the messages). */
  response: z.strictObject({ delivered: z.boolean() })
})

/** Agent -> coordinator: progress, checkpoint and the end of an attempt. */
export const ReportCommand = defineCommand('$agentmesh/task/report', {
  request: z.strictObject({
    task_id: TaskId,
    attempt: z.number().int().min(1),
    status: z.enum(['running', 'completed', 'failed', 'paused', 'cancelled']),
    progress: z.number().min(0).max(1),
    metrics: Metrics,
    checkpoint: z.unknown().optional(),
    result: z.unknown().optional(),
    error: z.strictObject({ code: z.string().max(16), message: z.string().max(4096) }).optional()
  }),
  response: z.strictObject({ known: z.boolean() })
})
export type TaskReport = z.infer<typeof ReportCommand.request>

/** Agent -> coordinator: the reports of one turn, answered each on its own (batch-call.ts). */
export const ReportManyCommand = defineCommand('$agentmesh/task/report-many', {
  request: z.strictObject({ reports: z.array(ReportCommand.request).min(1).max(BATCH_MAX) }),
  response: z.strictObject({ answers: z.array(itemAnswer(ReportCommand.response)).max(BATCH_MAX) }),
  weight: itemsWeight('reports')
})

/** Coordinator -> agents: what each holds, for a coordinator that just took office. */
export const HeldCommand = defineCommand('$agentmesh/task/held', {
  /** The tasks asked about (the coordinator's open ones on that agent). */
  request: z.strictObject({ term: z.number().int().nonnegative(), task_ids: z.array(TaskId).max(1_000).optional() }),
  response: z.strictObject({ tasks: z.array(z.strictObject({ task_id: TaskId, attempt: z.number().int().min(1), state: z.enum(['running', 'completed', 'failed', 'paused', 'cancelled']), progress: z.number(), result: z.unknown().optional(), error: z.strictObject({ code: z.string(), message: z.string() }).optional(), checkpoint: z.unknown().optional() })).max(100_000) })
})

/**
 * What a replica keeps of a record it pruned (table.ts): the term and version it was pruned at,
 * so a stale copy of the record (a voter that missed its end) is not taken for a live task.
 */
export const PrunedMark = z.strictObject({
  task_id: TaskId, term: z.number().int().nonnegative(), version: z.number().int().nonnegative(), at: z.number().int()
})
export type PrunedMark = z.output<typeof PrunedMark>

/** Coordinator -> voters: task records to keep; a new coordinator reads them back. */
export const ReplicateCommand = defineCommand('$agentmesh/task/replicate', {
  // `pruned`: marks of records others pruned, sent by a coordinator taking office to a voter that held a stale copy (pruned.ts).
  // `cert`: the coordinator's certificate of its term, with its first request of the term to each voter (term-proofs.ts).
  request: z.strictObject({
    term: z.number().int().nonnegative(),
    records: z.array(TaskRecord).max(1_000),
    pruned: z.array(PrunedMark).max(1_000).optional(),
    cert: CertificateSchema.optional()
  }),
  response: z.strictObject({ stored: z.number().int() })
})

/**
 * Coordinator -> voter: anti-entropy of the voter's replica (replica-sync.ts). The coordinator's
 * sums of (task_id, term, version) under its salt; the voter answers its entries
 * (`[task_id, term, version]`) of the buckets whose sums differ, and names those too large to list
 * (compared again alone, by sub-bucket, with `bucket`); the coordinator then sends what the voter
 * lacks or holds older with ReplicateCommand.
 */
export const ReplicaEntry = z.tuple([TaskId, z.number().int().nonnegative(), z.number().int().nonnegative()])
export type ReplicaEntry = z.output<typeof ReplicaEntry>
/** Entries a voter lists in one answer to a replica digest, at most (whole buckets or sub-buckets; the rest next round). */
export const REPLICA_LISTED_MAX = 1_000
/** What those entries weigh at most, as JSON text (an id may have 128 characters). */
export const REPLICA_LISTED_CHARS = 64 * 1024
export const ReplicaDigestCommand = defineCommand('$agentmesh/task/replica-digest', {
  request: z.strictObject({
    term: z.number().int().nonnegative(),
    sums: z.string().length(DIGEST_TEXT_LENGTH).regex(/^[0-9a-f]+$/),
    salt: z.string().regex(/^[0-9a-f]{8}$/),
    // The sums are of this bucket's records by sub-bucket (a bucket too large to list whole).
    bucket: z.number().int().min(0).max(DIGEST_BUCKETS - 1).optional()
  }),
  response: z.strictObject({
    entries: z.array(ReplicaEntry).max(REPLICA_LISTED_MAX),
    buckets: z.array(z.number().int().min(0).max(DIGEST_BUCKETS - 1)).max(DIGEST_BUCKETS),
    more: z.boolean(),
    // Buckets that differ but were too large to list (top level only).
    differing: z.array(z.number().int().min(0).max(DIGEST_BUCKETS - 1)).max(DIGEST_BUCKETS).optional()
  })
})

/**
 * A new coordinator -> voters: their task records in task-id order, a page at a time: the records
 * after the id `after` (the last of the page before), up to `limit`. `offset` skips that many
 * more (what readers before the cursor sent; a reader pages with `after` alone). With `pruned`,
 * the marks of the records the voter pruned instead, paged the same way (in `pruned`).
 */
export const RecordsCommand = defineCommand('$agentmesh/task/records', {
  request: z.strictObject({
    term: z.number().int().nonnegative(),
    after: TaskId.optional(),
    offset: z.number().int().nonnegative().default(0),
    limit: z.number().int().min(1).max(1_000).default(200),
    pruned: z.boolean().optional()
  }),
  // `certs`: the certificates of the terms the records name, as the voter holds them (term-proofs.ts).
  response: z.strictObject({
    records: z.array(TaskRecord).max(1_000),
    pruned: z.array(PrunedMark).max(1_000).optional(),
    more: z.boolean(),
    certs: z.array(CertificateSchema).max(1_000).optional()
  })
})

/** Coordinator -> submitter: status changes of tasks it submitted, in the order they happened. */
export const UpdateCommand = defineCommand('$agentmesh/task/update', { request: z.strictObject({ statuses: z.array(TaskStatus).min(1).max(5_000) }), response: z.null() })
