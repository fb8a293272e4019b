/**
 * The coordinator's round and its term (protocols/coordination/coordinator.ts), on its own: the
 * election's answers (in office, the term, the wait for a lapsed lease) are the round's inputs
 * here, so that a lease lapsing mid-round and a term changing meanwhile happen exactly where the
 * test puts them. The same round through real nodes is in test/protocols/coordination/coordination.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Coordinator } from '../../../protocols/coordination/coordinator.js'
import type { AgentSide } from '../../../protocols/coordination/agent-side.js'
import type { RpcService } from '../../../protocols/rpc/index.js'
import { ResourceConflictError } from '../../../protocols/core/errors.js'
import type { AgentStatus, CoordinationDirective, ProgressUpdate } from '../../../protocols/coordination/schemas.js'

const SELF = '12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf'

/** This node's own agent side: answers its status, takes directives and ends them at once (`fail`: as failed, with that error). */
function ownAgent (taken: CoordinationDirective[], fail?: () => string | undefined, rolledBack?: string[]): AgentSide {
  return {
    rollback: async (id: string, attempt: number) => { rolledBack?.push(`${id}#${attempt}`) },
    statusReport: async (requestId: string): Promise<AgentStatus> => ({
      request_id: requestId, timestamp: new Date().toISOString(), agent: SELF, name: 'self', status: 'idle', capabilities: [], metrics: {}, active_directives: []
    }),
    takeLocal: async (d: CoordinationDirective, deliver: (p: ProgressUpdate) => void) => {
      taken.push(d)
      const error = fail?.()
      queueMicrotask(() => {
        const ended = error !== undefined ? { status: 'failed' as const, error: { code: 'TSK001', message: error } } : { status: 'completed' as const }
        const about = { directive_id: d.directive_id, attempt: d.attempt }
        deliver({ event_id: crypto.randomUUID(), timestamp: new Date().toISOString(), source_agent: SELF, ...about, metrics: {}, ...ended })
      })
      return { directive_id: d.directive_id, accepted: true, duplicate: false }
    }
  } as unknown as AgentSide
}

type OfficeBack = (signal?: AbortSignal) => Promise<void>

function coordinator (state: { inOffice: boolean, term: number }, taken: CoordinationDirective[], back: OfficeBack, agent = ownAgent(taken)): Coordinator {
  const c = new Coordinator({
    self: SELF,
    // Never called: every directive and status request here is this node's own.
    rpc: undefined as unknown as RpcService,
    agent,
    inOffice: () => state.inOffice,
    officeBack: back,
    term: () => state.term,
    agents: () => [],
    requestTimeoutMs: 1_000
  })
  c.start()
  return c
}

const planOne = ({ statuses }: { statuses: AgentStatus[] }): Array<{ target: string, action: 'assign_task', parameters: Record<string, unknown> }> =>
  statuses.map(s => ({ target: s.agent, action: 'assign_task', parameters: {} }))

test('coordinator round: a lease that lapses between the statuses and the directives is waited for, and the round completes in its term', { timeout: 3 * 60_000 }, async () => {
  const state = { inOffice: true, term: 4 }
  const taken: CoordinationDirective[] = []
  let waited = 0
  const c = coordinator(state, taken, async () => { waited++; state.inOffice = true })
  const report = await c.coordinate({ planner: (ctx) => { state.inOffice = false; return planOne(ctx) } })
  assert.equal(report.outcome, 'completed', JSON.stringify(report.directives))
  assert.equal(waited, 1, 'the directive waited for the lease once')
  assert.deepEqual(taken.map(d => d.term), [4])
  c.stop()
})

test('coordinator round: a term that changed while the lease was waited for ends the round CRD002; no directive goes out in the new term', { timeout: 3 * 60_000 }, async () => {
  const state = { inOffice: true, term: 4 }
  const taken: CoordinationDirective[] = []
  // Back in office, but re-elected meanwhile: the statuses and the plan were of term 4.
  const c = coordinator(state, taken, async () => { state.inOffice = true; state.term = 5 })
  const report = await c.coordinate({ planner: (ctx) => { state.inOffice = false; return planOne(ctx) } })
  assert.equal(report.term, 4)
  assert.equal(report.outcome, 'partial')
  assert.deepEqual(report.directives.map(d => [d.outcome, d.error?.code]), [['rejected', 'CRD002']])
  assert.match(report.directives[0].error?.message ?? '', /term changed during the round \(4 to 5\)/)
  assert.equal(taken.length, 0, 'no directive was taken')
  // A directive asked for outside a round is the caller's: it goes in the term of the day.
  const { completion } = await c.directive(SELF, 'assign_task', {})
  assert.equal((await completion).status, 'completed')
  assert.deepEqual(taken.map(d => d.term), [5])
  c.stop()
})

test('coordinator round: a lease that does not come back is CRD002 for the round\'s first step, as before', { timeout: 3 * 60_000 }, async () => {
  const state = { inOffice: false, term: 4 }
  const c = coordinator(state, [], async () => {})
  await assert.rejects(c.coordinate({ planner: planOne }), (e: { code?: string }) => e.code === 'CRD002')
  await assert.rejects(c.statusAll(), (e: { code?: string }) => e.code === 'CRD002')
  c.stop()
})

test('coordinator round: a directive that fails after the term changed ends with the agent\'s failure, neither rolled back nor sent again in the new term', { timeout: 3 * 60_000 }, async () => {
  const state = { inOffice: true, term: 4 }
  const taken: CoordinationDirective[] = []
  const rolledBack: string[] = []
  // The agent fails the directive; by the time its failure is in, this node was re-elected in term 5.
  const agent = ownAgent(taken, () => { state.term = 5; return 'the disk is full' }, rolledBack)
  const c = coordinator(state, taken, async () => {}, agent)
  const report = await c.coordinate({ planner: planOne })
  assert.deepEqual(report.directives.map(d => [d.outcome, d.attempts, d.error?.message]), [['failed', 1, 'the disk is full']])
  assert.deepEqual(rolledBack, [])
  assert.equal(taken.length, 1, 'no second attempt')
  // In the same term a failure is rolled back and tried again, up to three attempts.
  state.term = 6
  const again = coordinator(state, taken, async () => {}, ownAgent(taken, () => 'the disk is full', rolledBack))
  const retried = await again.coordinate({ planner: planOne })
  assert.deepEqual(retried.directives.map(d => [d.outcome, d.attempts]), [['failed', 3]])
  assert.equal(rolledBack.length, 2)
  c.stop()
  again.stop()
})

test('coordinator round: stopped, or its signal aborted while it waits for the lease, a coordinator sends nothing more and says which', { timeout: 3 * 60_000 }, async () => {
  const state = { inOffice: false, term: 4 }
  const taken: CoordinationDirective[] = []
  const controller = new AbortController()
  const seen: Array<AbortSignal | undefined> = []
  const c = coordinator(state, taken, async (signal) => { seen.push(signal); controller.abort() })
  await assert.rejects(c.directive(SELF, 'assign_task', {}, { signal: controller.signal }), (e: { code?: string }) => e.code === 'ABORT_ERR')
  assert.equal(seen[0], controller.signal, 'the wait was given the caller\'s signal')
  // A round aborted while it waits: its directive is rejected as aborted, and its agent is not taken for offline.
  state.inOffice = true
  const roundAbort = new AbortController()
  const aborting = coordinator(state, taken, async () => { roundAbort.abort() })
  const report = await aborting.coordinate({ signal: roundAbort.signal, planner: (ctx) => { state.inOffice = false; return planOne(ctx) } })
  assert.deepEqual(report.directives.map(d => [d.outcome, d.error?.code]), [['rejected', 'ABORT_ERR']])
  assert.deepEqual(aborting.offlineAgents(), [])
  aborting.stop()
  state.inOffice = true
  c.stop()
  await assert.rejects(c.directive(SELF, 'assign_task', {}), (e: { code?: string, message?: string }) => e.code === 'CRD002' && /stopped/.test(e.message ?? ''))
  assert.equal(taken.length, 0)
})

test('coordinator round: a term that changed before a re-plan ends the round with a report saying so, not an exception', { timeout: 3 * 60_000 }, async () => {
  const state = { inOffice: true, term: 4 }
  const taken: CoordinationDirective[] = []
  // The agent refuses the first plan (a resource conflict sends the round back to planning); meanwhile the term moved on.
  const agent = ownAgent(taken)
  agent.takeLocal = async () => { state.term = 5; throw new ResourceConflictError('8 cpus are not free') }
  const c = coordinator(state, taken, async () => {}, agent)
  const report = await c.coordinate({ planner: planOne })
  assert.equal(report.outcome, 'failed')
  assert.match(report.error ?? '', /term changed during the round \(4 to 5\)/)
  assert.equal(report.plans, 1, 'no second plan in the new term')
  c.stop()
})
