/**
 * The coordinator's round and its term (protocols/coordination/coordinator.ts), on its own: the
 * election's answers (in office, the term, the wait for a lapsed lease) are the round's inputs
 * here, so that a lease lapsing mid-round and a term changing meanwhile happen exactly where the
 * test puts them. The same round through real nodes is in test/coordination.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Coordinator } from '../protocols/coordination/coordinator.js'
import type { AgentSide } from '../protocols/coordination/agent-side.js'
import type { RpcService } from '../protocols/rpc/index.js'
import type { AgentStatus, CoordinationDirective, ProgressUpdate } from '../protocols/coordination/schemas.js'

const SELF = '12D3KooWSelfSelfSelfSelfSelfSelfSelfSelfSelfSelfSelf'

/** This node's own agent side: answers its status, takes directives and completes them at once. */
function ownAgent (taken: CoordinationDirective[]): AgentSide {
  return {
    statusReport: async (requestId: string): Promise<AgentStatus> => ({
      request_id: requestId, timestamp: new Date().toISOString(), agent: SELF, name: 'self', status: 'idle', capabilities: [], metrics: {}, active_directives: []
    }),
    takeLocal: async (d: CoordinationDirective, deliver: (p: ProgressUpdate) => void) => {
      taken.push(d)
      queueMicrotask(() => {
        deliver({ event_id: crypto.randomUUID(), timestamp: new Date().toISOString(), source_agent: SELF, directive_id: d.directive_id, attempt: d.attempt, status: 'completed', metrics: {} })
      })
      return { directive_id: d.directive_id, accepted: true, duplicate: false }
    }
  } as unknown as AgentSide
}

function coordinator (state: { inOffice: boolean, term: number }, taken: CoordinationDirective[], officeBack: () => Promise<void>): Coordinator {
  const c = new Coordinator({
    self: SELF,
    // Never called: every directive and status request here is this node's own.
    rpc: undefined as unknown as RpcService,
    agent: ownAgent(taken),
    inOffice: () => state.inOffice,
    officeBack,
    term: () => state.term,
    agents: () => [],
    requestTimeoutMs: 1_000
  })
  c.start()
  return c
}

const planOne = ({ statuses }: { statuses: AgentStatus[] }): Array<{ target: string, action: 'assign_task', parameters: Record<string, unknown> }> =>
  statuses.map(s => ({ target: s.agent, action: 'assign_task', parameters: {} }))

test('coordinator round: a lease that lapses between the statuses and the directives is waited for, and the round completes in its term', async () => {
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

test('coordinator round: a term that changed while the lease was waited for ends the round CRD002; no directive goes out in the new term', async () => {
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

test('coordinator round: a lease that does not come back is CRD002 for the round\'s first step, as before', async () => {
  const state = { inOffice: false, term: 4 }
  const c = coordinator(state, [], async () => {})
  await assert.rejects(c.coordinate({ planner: planOne }), (e: { code?: string }) => e.code === 'CRD002')
  await assert.rejects(c.statusAll(), (e: { code?: string }) => e.code === 'CRD002')
  c.stop()
})
