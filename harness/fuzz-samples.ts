/**
 * One valid message for each schema entry point: the fuzzer mutates these (harness/fuzz-inputs.ts).
 * test/mesh/fuzz.test.ts checks each still parses, so a schema change cannot quietly turn a target
 * into one that only ever sees refusals.
 */
import type { z } from 'zod'
import type { Command } from '../protocols/rpc/index.js'
import { ElectionCommand } from '../protocols/coordination/election-wire.js'
import { ConsensusCommand, DirectiveCommand, ProgressCommand, RollbackCommand, StatusCommand } from '../protocols/coordination/schemas.js'
import {
  ControlCommand, QueryManyCommand, ReplicateCommand, ReportCommand, RunCommand, SubmitCommand, TaskStatus, UpdateCommand
} from '../protocols/task/schemas.js'
import { AllocateCommand, HeldResourcesCommand, ReleaseCommand, ResourceStatus } from '../protocols/resource/schemas.js'
import { Answer, Decision, Move, Opening, Outcome } from '../protocols/negotiation/schemas.js'
import { FetchHeader, FetchRequest, LearningMetrics, ModelUpdate } from '../protocols/learning/schemas.js'
import { Alert, MetricReport } from '../protocols/monitoring/schemas.js'
import { CardExchange } from '../protocols/discovery/card.js'
import { MemberGossip, MemberStatement, MemberSync, Probe } from '../protocols/discovery/members.js'

/** How a message reaches its schema: an rpc request or answer, a gossip batch, or a framed conversation. */
export type Path = 'rpc' | 'gossip' | 'stream'

export interface Sample { name: string, path: Path, schema: z.ZodType, valid: unknown }

const TS = '2030-01-02T03:04:05.678Z'
const SHA = 'a'.repeat(64)

function rpc (name: string, cmd: Command, request: unknown, response?: unknown): Sample[] {
  const out: Sample[] = [{ name: `${name} request`, path: 'rpc', schema: cmd.request, valid: request }]
  if (response !== undefined) out.push({ name: `${name} answer`, path: 'rpc', schema: cmd.response, valid: response })
  return out
}

/** The samples, with real peer ids (a and b) where a schema wants one. */
export function samples (a: string, b: string): Sample[] {
  const config = { version: 2, term: 5, voters: [a, b] }
  const cert = { term: 5, leader: a, config, votes: [{ voter: b, sig: 'c2ln'.repeat(22) }] }
  const spec = {
    task_id: 't-1',
    type: 'render',
    priority: 3,
    deadline: TS,
    requirements: { cpu_cores: 2, memory_gb: 1.5, storage_gb: 0, gpu_units: 1 },
    dependencies: ['t-0'],
    metadata: { owner: 'x', n: [1, 2] },
    on_deadline: 'cancel',
    max_attempts: 2,
    assignment: 'contract_net'
  }
  const status = { task_id: 't-1', status: 'running', progress: 0.5, metrics: { cpu: 0.3 }, timestamp: TS, agent: b, attempt: 1, reason: 'ok' }
  const unit = { resource_id: `${b}/cpu/0`, kind: 'cpu', amount: 1 }
  const card = {
    peerId: a,
    name: 'agent-a',
    mesh: 'fuzz',
    roles: ['agent'],
    capabilities: ['gpu'],
    version: '0.1.0',
    protocols: ['/agentmesh/rpc/1.0.0'],
    addresses: ['/ip4/127.0.0.1/tcp/1'],
    startedAt: 1_700_000_000_000,
    resources: { cpu_cores: 2, memory_gb: 4, storage_gb: 10, gpu_units: 0 }
  }
  return [
    ...rpc('election vote', ElectionCommand, { type: 'vote', term: 6, candidate: a, config, pre: true, proof: cert }, { type: 'vote-reply', term: 6, granted: false, pre: true, reason: 'term-too-far', config, sig: 'c2ln'.repeat(22) }),
    ...rpc('election heartbeat', ElectionCommand, { type: 'heartbeat', term: 5, leader: a, config, seq: 9, cert }, { type: 'heartbeat-ack', term: 5, seq: 9, success: true, configVersion: 2, endorse: 'c2ln' }),
    ...rpc('election config', ElectionCommand, { type: 'config-query' }, { type: 'config-reply', term: 5, config }),
    ...rpc('coord status', StatusCommand, { request_id: 'r1', timestamp: TS, target_agent: b, term: 5 }, {
      request_id: 'r1', timestamp: TS, agent: b, name: 'b', status: 'idle', capabilities: ['x'], metrics: { load: 0.1 }, active_directives: ['d0']
    }),
    ...rpc('coord directive', DirectiveCommand, { directive_id: 'd1', timestamp: TS, target_agent: b, action: 'assign_task', parameters: { task: 't-1' }, term: 5, attempt: 2 }, { directive_id: 'd1', accepted: true, duplicate: false }),
    ...rpc('coord progress', ProgressCommand, { event_id: 'e1', timestamp: TS, source_agent: b, directive_id: 'd1', attempt: 1, status: 'failed', metrics: {}, result: { a: 1 }, error: { code: 'CRD004', message: 'no' } }),
    ...rpc('coord rollback', RollbackCommand, { directive_id: 'd1', attempt: 1, term: 5 }),
    ...rpc('coord consensus', ConsensusCommand, { round_id: 'c1', term: 5, question: 'pick', input: [1, 'two'] }),
    ...rpc('task submit', SubmitCommand, { tasks: [spec, { task_id: 't-0', type: 'fetch' }] }, { accepted: [{ task_id: 't-1', duplicate: false, status: 'submitted' }] }),
    ...rpc('task query-many', QueryManyCommand, { task_ids: ['t-1', 't-0'] }, { statuses: [status] }),
    ...rpc('task control', ControlCommand, { command_id: 'k1', type: 'task.control.pause', task_id: 't-1', reason: 'wait', checkpoint: { step: 3 } }, { type: 'task.control.reject', command_id: 'k1', reason: 'no', code: 'TSK007' }),
    ...rpc('task run', RunCommand, { term: 5, spec, attempt: 1, checkpoint: null, inputs: { 't-0': 42 }, resources: [unit] }, { accepted: false, holds: 2 }),
    ...rpc('task report', ReportCommand, { task_id: 't-1', attempt: 1, status: 'completed', progress: 1, metrics: {}, result: 'done' }),
    ...rpc('task replicate', ReplicateCommand, {
      term: 5, records: [{ spec, status, submitter: a, submitted_at: 1_700_000_000_000, version: 3, losses: 1, resources: [unit] }]
    }),
    ...rpc('task update', UpdateCommand, { statuses: [status] }),
    ...rpc('resource allocate', AllocateCommand, { type: 'resource.allocate', task_id: 't-1', requirements: { cpu_cores: 1, memory_gb: 2, storage_gb: 3 }, agent: b }, {
      type: 'resource.allocated', task_id: 't-1', agent: b, resources: [unit]
    }),
    ...rpc('resource release', ReleaseCommand, { task_id: 't-1', resource_ids: [unit.resource_id] }),
    ...rpc('resource held', HeldResourcesCommand, { term: 5 }, { allocations: [{ task_id: 't-1', agent: b, resources: [unit] }] }),
    ...rpc('card exchange', CardExchange, { card, credential: { any: 'thing' } }, { card: { ...card, peerId: b, client: true }, peers: [{ peerId: a, addresses: [] }] }),
    ...rpc('member probe', Probe, { incarnation: 3 }, { incarnation: 3, eligible: true, name: 'b', roles: ['agent'] }),
    ...rpc('member gossip', MemberGossip, { statements: [{ body: '{}', sig: 'c2ln' }] }, {}),
    ...rpc('member sync', MemberSync, { statements: [{ body: '{}', sig: 'c2ln' }] }, { statements: [] }),
    // A statement's body (JSON in a signed string), parsed by the receiver once the signature checks out.
    { name: 'member statement', path: 'gossip', schema: MemberStatement, valid: { peerId: a, name: 'a', roles: ['agent'], eligible: true, incarnation: 2, leaving: false, suspects: [{ peerId: b, incarnation: 1 }], seq: 7 } },
    { name: 'task status', path: 'gossip', schema: TaskStatus, valid: status },
    { name: 'resource status', path: 'gossip', schema: ResourceStatus, valid: { ...unit, agent: b, state: 'allocated', task_id: 't-1', timestamp: TS } },
    {
      name: 'monitoring report',
      path: 'gossip',
      schema: MetricReport,
      valid: {
        report_id: 'm1',
        agent: b,
        name: 'b',
        timestamp: TS,
        trigger: 'interval',
        custom: { q: 1 },
        metrics: { messages_in: 1, messages_out: 2, active_connections: 1, peers: 1, tasks_running: 0, rss_mb: 80, event_loop_utilization: 0.2, uptime_s: 9 }
      }
    },
    { name: 'monitoring alert', path: 'gossip', schema: Alert, valid: { alert_id: 'al1', severity: 'critical', source: b, message: 'disk', timestamp: TS, labels: { disk: 'sda' } } },
    { name: 'learning update', path: 'gossip', schema: ModelUpdate, valid: { type: 'learning.model_update', model_id: 'm.v1', version: 3, size: 10, sha256: SHA, source: b, timestamp: TS } },
    { name: 'learning metrics', path: 'gossip', schema: LearningMetrics, valid: { model_id: 'm.v1', version: 3, agent: b, status: 'applied', bytes: 10, duration_ms: 1.5, timestamp: TS, metrics: { acc: 0.9 } } },
    { name: 'learning fetch request', path: 'stream', schema: FetchRequest, valid: { model_id: 'm.v1', version: 3 } },
    { name: 'learning fetch header', path: 'stream', schema: FetchHeader, valid: { ok: true, size: 10, sha256: SHA } },
    { name: 'negotiation cfp', path: 'stream', schema: Opening, valid: { type: 'cfp', negotiation_id: 'n1', subject: 'render', task: { frames: 10 }, constraints: {}, reply_by: TS } },
    { name: 'negotiation offer', path: 'stream', schema: Opening, valid: { type: 'offer', negotiation_id: 'n1', round: 1, terms: { price: 3 }, subject: 's', max_rounds: 5, deadline: TS } },
    { name: 'negotiation answer', path: 'stream', schema: Answer, valid: { type: 'propose', negotiation_id: 'n1', proposal: { price: 2 } } },
    { name: 'negotiation decision', path: 'stream', schema: Decision, valid: { type: 'reject-proposal', negotiation_id: 'n1', reason: 'late', code: 'NEG001' } },
    { name: 'negotiation outcome', path: 'stream', schema: Outcome, valid: { type: 'confirm', negotiation_id: 'n1', result: [1] } },
    { name: 'negotiation move', path: 'stream', schema: Move, valid: { type: 'walk-away', negotiation_id: 'n1', round: 3, reason: 'too dear' } }
  ]
}
