/**
 * Coordination through real nodes on 127.0.0.1: the election, the coordinator's round, the
 * agent's directive handlers, and the fence against stale and forged coordinators.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { presets, type AgentNode } from '../../../surfaces/index.js'
import { ResourceConflictError } from '../../../protocols/core/errors.js'
import type { z } from 'zod'
import { CoordinationDirective, DirectiveCommand, StatusCommand } from '../../../protocols/coordination/index.js'
import { ElectionCommand } from '../../../protocols/coordination/election-service.js'
import { coordinateInOffice, LOADED_HOST_ELECTIONS, startMesh, stopAll, waitFor } from '../../helpers.js'

/**
 * Fast timings: the tests wait on conditions, these only make the conditions come sooner. Elections
 * on 2-4 s timeouts, not the preset's 300-600 ms: agents in one process beside two other test files
 * on two cores can lose their leader to a slow event loop, and a new term breaks a check that the
 * term holds, or deposes the coordinator in the middle of a round (issue 45).
 */
const fast = { preset: 'local' as const, coordination: { bootstrapExpect: 3, ...LOADED_HOST_ELECTIONS } }

/** Check `check` every 50 ms for `ms`: it must hold every time (a bounded window, not a sleep). */
async function holdsFor (check: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms
  while (Date.now() < end) {
    assert.ok(check(), `${what}: stopped holding after ${ms - (end - Date.now())} ms`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  assert.ok(check(), what)
}

function inOffice (nodes: AgentNode[]): AgentNode[] { return nodes.filter(n => n.coordinator().inOffice) }

/** One coordinator in office among these (running) nodes, followed by all of them: returns it. */
async function oneCoordinator (running: AgentNode[]): Promise<AgentNode> {
  // The one found by the check, not asked again after it: on a loaded host the lease may lapse between the two.
  let found: AgentNode | undefined
  await waitFor(() => {
    const office = inOffice(running)
    const one = office.length === 1 && running.every(n => n.coordinator().leader === office[0].peerId && n.coordinator().term === office[0].coordinator().term)
    if (one) found = office[0]
    return one
  }, 'one coordinator followed by every agent', 30_000)
  return found as AgentNode
}

test('election: five agents elect one coordinator; when it stops, the others elect another in a higher term', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(5, () => fast)
  try {
    const first = await oneCoordinator(nodes)
    const s = first.coordinator()
    assert.equal(s.situation, 'coordinator')
    assert.equal(s.voters.length, 5, 'every eligible agent joins the voter set')
    assert.equal(s.quorum.needed, 3)
    for (const n of nodes) {
      if (n === first) continue
      const c = n.coordinator()
      assert.equal(c.situation, 'following')
      assert.equal(c.leaderName, first.name)
    }
    const changes: string[] = []
    const others = nodes.filter(n => n !== first)
    others[0].addEventListener('coordinator:change', (e) => { if (e.detail.leader !== undefined) changes.push(e.detail.leader) })
    await first.stop()
    const second = await oneCoordinator(others)
    assert.notEqual(second.peerId, first.peerId)
    assert.ok(second.coordinator().term > s.term, 'the new coordinator holds a higher term')
    assert.ok(changes.includes(second.peerId), 'coordinator:change reported the new coordinator')
    // Four of five voters remain: a majority, so the old voter set still has quorum.
    assert.equal(second.coordinator().quorum.has, true)
  } finally {
    await stopAll(nodes)
  }
})

test('membership: a stopped agent is "left" at once, the others stay alive; node.members() shows each', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => fast)
  try {
    await waitFor(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === 2), 'every member alive')
    const changes: string[] = []
    nodes[0].addEventListener('member:change', (e) => { changes.push(`${e.detail.peerId}:${e.detail.to}`) })
    const gone = nodes[2]
    await gone.stop()
    await waitFor(() => nodes[0].members().find(m => m.peerId === gone.peerId)?.state === 'left', 'the stopped agent to be "left"')
    assert.ok(changes.includes(`${gone.peerId}:left`))
    // A loaded machine may let one probe of the healthy agent time out (a passing "suspect" is
    // what suspicion is for); it must never be declared offline and must be alive again.
    await waitFor(() => nodes[0].members().find(m => m.peerId === nodes[1].peerId)?.state === 'alive', 'the healthy agent alive')
    assert.ok(!changes.some(c => c === `${nodes[1].peerId}:offline` || c === `${nodes[1].peerId}:left`), changes.join(', '))
  } finally {
    await stopAll(nodes)
  }
})

test('coordination round: status from every agent, a plan, directives acknowledged and completed, a performance report', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, () => fast)
  try {
    const coordinator = await oneCoordinator(nodes)
    const ran: string[] = []
    for (const n of nodes) {
      n.onDirective('assign_task', async (params, ctx) => {
        ctx.progress(0.5, { step: 1 })
        ran.push(`${n.name}:${String(params.task)}`)
        return { done: params.task, by: n.name }
      })
      n.coordination.onStatusRequest(() => ({ status: 'idle', metrics: { load: 0.1 } }))
    }
    const progress: number[] = []
    coordinator.coordination.addEventListener('progress', (e) => { if (e.detail.status === 'in_progress') progress.push(1) })

    const report = await coordinator.coordination.coordinate({
      planner: ({ statuses }) => statuses.map((s, i) => ({ target: s.agent, action: 'assign_task', parameters: { task: `t${i}` } }))
    })
    assert.equal(report.outcome, 'completed', JSON.stringify(report))
    assert.equal(report.agentsAnswered, 4)
    assert.equal(report.directives.length, 4)
    assert.ok(report.directives.every(d => d.outcome === 'completed' && d.attempts === 1))
    assert.equal(ran.length, 4, 'each directive ran once')
    assert.equal(report.term, coordinator.coordinator().term)
    assert.equal(coordinator.coordinator().state, 'idle')
    assert.equal(coordinator.coordination.successRate(), 1)
    await waitFor(() => progress.length >= 3, 'progress updates from the remote agents')
    assert.ok(coordinator.stats.get('directives_total', { role: 'sent', outcome: 'completed' }) >= 4)
    // The four directives were timed: a sample line (not the # HELP line) with their count.
    const timed = /^directive_completion_time_seconds_count\{directive_type="assign_task"\} (\d+)$/m.exec((await coordinator.stats.exposition()).body)
    assert.equal(Number(timed?.[1]), 4, 'directive_completion_time_seconds counted the four directives')

    // A resource conflict sends the round back to planning; the second plan succeeds.
    const target = nodes.find(n => n !== coordinator) as AgentNode
    let conflicts = 0
    const off = target.onDirective('adjust_resources', {
      accept: (p) => { if (p.cpu === 8) { conflicts++; throw new ResourceConflictError('8 cpus are not free') } },
      run: (p) => ({ cpu: p.cpu })
    })
    const replanned = await coordinator.coordination.coordinate({
      planner: ({ attempt, conflicts: c }) => [{ target: target.peerId, action: 'adjust_resources', parameters: { cpu: attempt === 1 ? 8 : 2, previous: c.length } }]
    })
    off()
    assert.equal(conflicts, 1)
    assert.equal(replanned.plans, 2)
    assert.equal(replanned.outcome, 'completed')
    assert.deepEqual(replanned.directives.at(-1)?.result, { cpu: 2 })

    // A failing directive is rolled back and retried on the same agent.
    let attempts = 0
    const rolledBack: number[] = []
    target.onDirective('form_coalition', {
      run: (_p, ctx) => { attempts++; if (ctx.attempt === 1) throw new Error('first try fails'); return 'formed' },
      rollback: (_p, ctx) => { rolledBack.push(ctx.attempt) }
    })
    const retried = await coordinator.coordination.coordinate({
      planner: () => [{ target: target.peerId, action: 'form_coalition', parameters: { members: 2 } }]
    })
    assert.equal(retried.outcome, 'completed')
    assert.equal(retried.directives[0].attempts, 2)
    assert.deepEqual(rolledBack, [1])
    assert.equal(attempts, 2)

    // Consensus: every agent answers; equal answers agree, one different answer does not.
    for (const n of nodes) n.coordination.onConsensus('sum', (input) => (input as number[]).reduce((a, b) => a + b, 0) + (n === target && (input as number[])[0] === 0 ? 1 : 0))
    const agreed = await coordinator.coordination.consensus('sum', [1, 2, 3])
    assert.equal(agreed.agreed, true)
    assert.equal(agreed.value, 6)
    assert.equal(Object.keys(agreed.results).length, 4)
    const split = await coordinator.coordination.consensus('sum', [0, 2])
    assert.equal(split.agreed, false)
  } finally {
    await stopAll(nodes)
  }
})

test('coordination: an agent that does not answer is marked offline and not retried', { timeout: 3 * 60_000 }, async () => {
  // requestTimeoutMs short: the test need not wait 5 s for the silence.
  const nodes = await startMesh(4, () => ({ ...fast, coordination: { ...fast.coordination, requestTimeoutMs: 800 } }))
  try {
    const coordinator = await oneCoordinator(nodes)
    const victim = nodes.find(n => n !== coordinator) as AgentNode
    let tries = 0
    victim.onDirective('assign_task', { accept: async () => { tries++; await new Promise(() => {}) }, run: () => 'never' })
    for (const n of nodes) if (n !== victim) n.onDirective('assign_task', () => 'ok')
    const report = await coordinateInOffice(coordinator, {
      planner: ({ statuses }) => statuses.map(s => ({ target: s.agent, action: 'assign_task', parameters: {} }))
    })
    const lost = report.directives.find(d => d.target === victim.peerId)
    assert.equal(lost?.outcome, 'unavailable')
    assert.equal(tries, 1, 'an unavailable agent is not retried')
    assert.equal(report.outcome, 'partial')
    assert.ok(coordinator.coordinator().offlineAgents.includes(victim.peerId))
    // Three of four directives completed; the round, this coordinator's only one, did not.
    assert.equal(report.successRate, 0.75)
    assert.equal(coordinator.coordination.successRate(), 0)
    assert.match((await coordinator.stats.exposition()).body, /^coordination_success_rate 0$/m)
  } finally {
    await stopAll(nodes)
  }
})

test('coordination: a round or a status request asked for while the coordinator\'s lease has lapsed for a moment, or a round whose lease lapses between its status requests and its directives, waits for its next acks instead of failing CRD002', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, () => fast)
  try {
    const coordinator = await oneCoordinator(nodes)
    for (const n of nodes) n.onDirective('assign_task', () => 'ok')
    // Blocked past the lease (local preset: promises of 2.5 heartbeats of 50 ms, 139 ms; longer when
    // the leader asked for longer holds on a loaded host) and short of the voters' election timeout
    // (2 s): the lease lapses, nobody campaigns. A lease that runs past 250 ms is waited out first.
    await waitFor(() => coordinator.coordinator().inOffice && (coordinator.coordination.status().leaseRemainingMs ?? Infinity) < 200, 'a lease shorter than 200 ms', 20_000)
    const end = Date.now() + (coordinator.coordination.status().leaseRemainingMs as number) + 40
    while (Date.now() < end) { /* this process's event loop, all three agents' */ }
    assert.equal(coordinator.coordinator().inOffice, false, 'the lease lapsed')
    assert.equal(coordinator.coordination.status().role, 'leader')
    const report = await coordinator.coordination.coordinate({
      planner: ({ statuses }) => statuses.map(s => ({ target: s.agent, action: 'assign_task', parameters: {} }))
    })
    assert.equal(report.outcome, 'completed')
    assert.equal(report.directives.length, 3)
    // And a status request of every agent, alone, the same way.
    await waitFor(() => coordinator.coordinator().inOffice && (coordinator.coordination.status().leaseRemainingMs ?? Infinity) < 200, 'a lease shorter than 200 ms again', 20_000)
    const again = Date.now() + (coordinator.coordination.status().leaseRemainingMs as number) + 40
    while (Date.now() < again) { /* blocked again */ }
    assert.equal(coordinator.coordinator().inOffice, false, 'the lease lapsed again')
    assert.equal((await coordinator.coordination.statusAll()).statuses.length, 3)
    // And a lapse in the middle of a round, after the status requests and before the directives
    // (CI saw it: every directive was refused CRD002 by the coordinator's own check).
    const mid = await coordinator.coordination.coordinate({
      planner: async ({ statuses }) => {
        await waitFor(() => coordinator.coordinator().inOffice && (coordinator.coordination.status().leaseRemainingMs ?? Infinity) < 200, 'a lease shorter than 200 ms in the round', 20_000)
        const until = Date.now() + (coordinator.coordination.status().leaseRemainingMs as number) + 40
        while (Date.now() < until) { /* blocked in the planner */ }
        assert.equal(coordinator.coordinator().inOffice, false, 'the lease lapsed in the round')
        return statuses.map(s => ({ target: s.agent, action: 'assign_task' as const, parameters: {} }))
      }
    })
    assert.equal(mid.outcome, 'completed', JSON.stringify(mid.directives.map(d => d.error)))
    assert.equal(mid.directives.length, 3)
  } finally {
    await stopAll(nodes)
  }
})

test('fencing: a directive with a stale or forged term, or from an agent that is not the coordinator, is refused and counted', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, () => fast)
  try {
    // A second coordinator, so that the term before it is a real (positive) stale term.
    const first = await oneCoordinator(nodes)
    await first.stop()
    const running = nodes.filter(n => n !== first)
    const coordinator = await oneCoordinator(running)
    const [agent, impostor] = running.filter(n => n !== coordinator)
    let ran = 0
    agent.onDirective('assign_task', () => { ran++ })
    const term = agent.coordinator().term
    const directive = (t: number): z.input<typeof CoordinationDirective> => ({
      directive_id: randomUUID(), timestamp: new Date().toISOString(), target_agent: agent.peerId, action: 'assign_task' as const, parameters: {}, term: t
    })
    // Not the coordinator, with the current term.
    await assert.rejects(impostor.request(agent.peerId, DirectiveCommand, directive(term)), (e: { code?: string }) => e.code === 'CRD002')
    // Not the coordinator, with a forged higher term: no election backs it.
    await assert.rejects(impostor.request(agent.peerId, DirectiveCommand, directive(term + 5)), (e: { code?: string }) => e.code === 'CRD002')
    // A stale term from the coordinator itself (as an old coordinator's would be).
    assert.ok(term >= 2, `a second coordinator's term (${term}) is past the first's`)
    await assert.rejects(coordinator.request(agent.peerId, DirectiveCommand, directive(term - 1)), (e: { code?: string }) => e.code === 'CRD001')
    await assert.rejects(coordinator.request(agent.peerId, DirectiveCommand, directive(0)), (e: { code?: string }) => e.code === 'CRD001')
    // A status request from an impostor.
    await assert.rejects(impostor.request(agent.peerId, StatusCommand, { request_id: 'x', timestamp: new Date().toISOString(), target_agent: agent.peerId, term }), (e: { code?: string }) => e.code === 'CRD002')
    assert.equal(ran, 0)
    assert.ok(agent.stats.get('coordination_rejected_total', { reason: 'not-coordinator' }) >= 3)
    assert.ok(agent.stats.get('coordination_rejected_total', { reason: 'stale-term' }) >= 1)
    // The term the agent follows did not move: the forged term was not believed.
    assert.equal(agent.coordinator().term, term)

    // A forged heartbeat claiming leadership in a higher term, from a voter that won no
    // election: the agent's term may rise (terms are public), but it never follows the forger
    // without votes, and the real coordinator's next election restores one leader.
    const voters = agent.coordinator().voters
    const forged = await impostor.request(agent.peerId, ElectionCommand, {
      type: 'heartbeat', term, leader: impostor.peerId, config: { version: 1, term: 0, voters }, seq: 1
    })
    assert.ok(forged !== null && forged.type === 'heartbeat-ack' && !forged.success, `a heartbeat from the wrong leader in the current term is refused: ${JSON.stringify(forged)}`)
    assert.equal(agent.coordinator().leader, coordinator.peerId)
    // Counted as refused. The reason is forged-leader while the agent holds this term's leader;
    // what else it holds at that moment can make it another (one CI-local run of many counted
    // one that was not forged-leader), so the reasons are printed rather than one required.
    const reasons = JSON.stringify(agent.stats.snapshot().coordination_rejected_total?.filter(e => e.labels.message === 'heartbeat'))
    assert.ok(agent.stats.get('coordination_rejected_total', { message: 'heartbeat' }) >= 1, `the forged heartbeat counted as refused: ${reasons}`)

    // The real coordinator's directive goes through.
    const { completion } = await coordinator.coordination.directive({ target: agent.peerId, action: 'assign_task', parameters: {} })
    assert.equal((await completion).status, 'completed')
    assert.equal(ran, 1)
  } finally {
    await stopAll(nodes)
  }
})

test('election: a vote request from an agent outside the voter set is refused and counted', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, (i) => ({ ...fast, coordination: { ...fast.coordination, eligible: i !== 3 } }))
  try {
    const coordinator = await oneCoordinator(nodes)
    const outsider = nodes[3]
    assert.equal(outsider.coordinator().eligible, false)
    assert.ok(!coordinator.coordinator().voters.includes(outsider.peerId), 'an agent that is not eligible is not a voter')
    const voter = nodes.find(n => n !== coordinator && n !== outsider) as AgentNode
    const term = voter.coordinator().term
    const reply = await outsider.request(voter.peerId, ElectionCommand, {
      type: 'vote', term: term + 10, candidate: outsider.peerId, pre: false, config: { version: 99, term: term + 9, voters: [outsider.peerId] }
    })
    assert.ok(reply !== null && reply.type === 'vote-reply' && !reply.granted, `vote refused: ${JSON.stringify(reply)}`)
    assert.ok(voter.stats.get('coordination_rejected_total', { message: 'vote' }) >= 1)
    assert.equal(voter.coordinator().term, term, 'a non-voter cannot raise the term')
    assert.equal(voter.coordinator().leader, coordinator.peerId)
    // Heartbeats from the non-voter claiming leadership in a higher term: with a voter set that
    // leaves it out, and with a "newer" set of its own that names it. Both refused, nothing moves.
    const voters = voter.coordinator().voters
    const heartbeat = (config: { version: number, term: number, voters: string[] }): Promise<unknown> =>
      outsider.request(voter.peerId, ElectionCommand, { type: 'heartbeat', term: term + 3, leader: outsider.peerId, config, seq: 1 })
    const refusedBefore = voter.stats.get('coordination_rejected_total', { message: 'heartbeat', reason: 'not-a-voter' })
    for (const config of [{ version: 1, term, voters }, { version: 99, term: term + 2, voters: [...voters, outsider.peerId] }]) {
      const ack = await heartbeat(config) as { type: string, success?: boolean } | null
      assert.ok(ack !== null && ack.type === 'heartbeat-ack' && ack.success === false, `heartbeat from a non-voter refused: ${JSON.stringify(ack)}`)
    }
    assert.equal(voter.stats.get('coordination_rejected_total', { message: 'heartbeat', reason: 'not-a-voter' }), refusedBefore + 2)
    assert.equal(voter.coordinator().term, term, 'a non-voter\'s heartbeat does not raise the term')
    assert.equal(voter.coordinator().leader, coordinator.peerId)
    assert.deepEqual(voter.coordinator().voters, voters, 'nor change the voter set')
    // A non-eligible agent still follows the coordinator and takes its directives.
    await waitFor(() => outsider.coordinator().leader === coordinator.peerId, 'the outsider to follow the coordinator')
    outsider.onDirective('assign_task', () => 'done')
    const { completion } = await coordinator.coordination.directive({ target: outsider.peerId, action: 'assign_task', parameters: {} })
    assert.equal((await completion).result, 'done')
  } finally {
    await stopAll(nodes)
  }
})

test('election: two agents with bootstrapExpect 3 elect nobody and say why in /health and /coordinator', { timeout: 3 * 60_000 }, async () => {
  // The preset's own election timeouts: nobody can be elected here, however slow the host, and
  // three of its longest timeouts are a short wait.
  const preset = { preset: 'local' as const, coordination: { bootstrapExpect: 3 } }
  const nodes = await startMesh(2, (i) => ({ ...preset, ...(i === 0 ? { debug: '127.0.0.1:0' } : {}) }))
  try {
    // Both have heard each other and know they are not enough; then, over three of the longest
    // election timeouts, neither takes office.
    await waitFor(() => nodes.every(n => n.coordinator().situation === 'no-voter-set' && n.peers().length === 1), 'both agents to wait for a voter set')
    await holdsFor(() => inOffice(nodes).length === 0 && nodes.every(n => n.coordinator().term === 0), 3 * presets.local.coordination.electionTimeoutMaxMs, 'nobody elected')
    const health = await (await fetch(`${nodes[0].debugUrl as string}/health`)).json() as { coordination: { situation: string } }
    assert.equal(health.coordination.situation, 'no-voter-set')
    const coord = await (await fetch(`${nodes[0].debugUrl as string}/coordinator`)).json() as { term: number, voters: string[], role: string }
    assert.equal(coord.term, 0)
    assert.deepEqual(coord.voters, [])
  } finally {
    await stopAll(nodes)
  }
})
