/**
 * Rights come from what the mesh recorded, not from what a peer says (issue 13, R-SEC), through
 * real nodes. A stranger (an agent that submitted nothing, runs nothing and is no voter) asks the
 * coordinator to pause, cancel and show another agent's task, tells the worker to stop it, and
 * asks a voter for the task records: each is refused with its code and counted, and the task
 * runs on; its submitter still controls it. An agent gossiping a suspicion of a live agent at
 * MAX_SAFE_INTEGER (an incarnation that agent never said) makes nobody think it offline.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { AgentMeshError, NotCoordinatorError, TaskAccessError, TaskFailedError, type AgentNode, type TaskContext } from '../../../surfaces/index.js'
import { ControlCommand, QueryCommand, QueryManyCommand, RecordsCommand, StopCommand } from '../../../protocols/task/index.js'
import { MemberGossip, type MemberStatement } from '../../../protocols/discovery/members.js'
import { statementKeys } from '../../../protocols/discovery/statement-keys.js'
import { privateKeyOf } from '../../../protocols/coordination/election-keys.js'
import { sleep, startMesh, stopAll, waitFor } from '../../helpers.js'

// Elections as the local preset holds them, with a longer timeout: this test is about who may
// control a task, not about elections, and on a loaded host four nodes in one process can stall
// past the preset's 300-600 ms, depose the coordinator mid-test and make its checks say CRD002.
const local = { preset: 'local' as const, coordination: { bootstrapExpect: 3, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 } }

async function elected (nodes: AgentNode[]): Promise<AgentNode> {
  const leader = (): AgentNode | undefined => nodes.find(x => x.coordinator().inOffice)
  await waitFor(() => nodes.filter(n => n.coordinator().inOffice).length === 1 && nodes.every(n => n.coordinator().leader === leader()?.peerId),
    'a coordinator followed by all', 20_000)
  return leader() as AgentNode
}

const code = (want: string) => (e: Error) => e instanceof AgentMeshError && e.code === want

/**
 * `ask` of the coordinator in office, and again of the one in office then if the first had lost
 * its office in between: on a loaded host (three files at a time on two cores) a stall past the
 * lease lapses it for a moment, and the answer is "not the coordinator in office" (CRD002), not
 * the refusal under test (seen once in the loop at load 7).
 */
async function ofCoordinator<T> (nodes: AgentNode[], ask: (coordinator: AgentNode) => Promise<T>): Promise<T> {
  for (let tries = 1; ; tries++) {
    const coordinator = await elected(nodes)
    try {
      return await ask(coordinator)
    } catch (err) {
      if (!(err instanceof NotCoordinatorError) || !/coordinator in office/.test(err.message) || tries >= 5) throw err
    }
  }
}

test('a stranger can neither control nor read another agent\'s task, nor stop it on its worker; the submitter still can', { timeout: 3 * 60_000 }, async () => {
  // Three voters, and a fourth agent that takes no part in elections: the stranger.
  const nodes = await startMesh(4, (i) => ({ ...local, coordination: { ...local.coordination, eligible: i < 3 } }))
  try {
    const coordinator = await elected(nodes)
    const stranger = nodes[3]
    const submitter = nodes.slice(0, 3).find(n => n !== coordinator) as AgentNode
    const stops: string[] = []
    for (const n of nodes.slice(0, 3)) {
      n.onTask('forever', async (ctx: TaskContext) => {
        await new Promise<void>(resolve => { ctx.signal.addEventListener('abort', () => { stops.push(`${ctx.taskId}:${String(ctx.signal.reason?.why)}`); resolve() }, { once: true }) })
        throw ctx.signal.reason
      })
    }
    const h = await submitter.submitTask({ task_id: 'theirs', type: 'forever' })
    await waitFor(() => h.latest?.status === 'running', 'the task to run')
    const { agent, attempt } = h.latest as { agent: string, attempt: number }
    const term = coordinator.coordinator().term
    assert.ok(coordinator.coordinator().voters.every(v => v !== stranger.peerId), 'the stranger is no voter')

    // Status and result: the typed error, not the task (alone or among others).
    await assert.rejects(ofCoordinator(nodes, async c => await stranger.request(c.peerId, QueryCommand, { task_id: 'theirs' })), (e: Error) => e instanceof TaskAccessError && e.code === 'TSK007')
    await assert.rejects(ofCoordinator(nodes, async c => await stranger.request(c.peerId, QueryManyCommand, { task_ids: ['theirs', 'nobody'] })), code('TSK007'))
    // Control: task.control.reject with the code.
    for (const type of ['task.control.pause', 'task.control.cancel'] as const) {
      const answer = await ofCoordinator(nodes, async c => await stranger.request(c.peerId, ControlCommand, { command_id: `x-${type}`, type, task_id: 'theirs', reason: 'mine now' }))
      assert.ok(answer.type === 'task.control.reject' && answer.code === 'TSK007', JSON.stringify(answer))
    }
    // Straight to the worker: only the coordinator it follows stops an attempt (CRD002).
    await assert.rejects(stranger.request(agent, StopCommand, { term, task_id: 'theirs', attempt, why: 'cancel' }), code('CRD002'))
    // The replicated records (every task with its result) are read only by a coordinator taking office.
    const voter = nodes.slice(0, 3).find(n => n !== coordinator) as AgentNode
    await assert.rejects(stranger.request(voter.peerId, RecordsCommand, { term, offset: 0, limit: 10 }), code('CRD002'))

    // The task runs on, untouched; every refusal was counted where it was made.
    await sleep(300)
    assert.equal((await h.status()).status, 'running')
    assert.deepEqual(stops, [])
    const refused = (n: AgentNode, message: string, reason: string): number => n.stats.get('coordination_rejected_total', { message, reason })
    // By whichever coordinator was in office when asked (the same one unless its office lapsed).
    const byCoordinators = (message: string): number => nodes.reduce((sum, n) => sum + refused(n, message, 'TSK007'), 0)
    assert.equal(byCoordinators('task-query'), 1)
    assert.equal(byCoordinators('task-query-many'), 1)
    assert.equal(byCoordinators('task.control.pause'), 1)
    assert.equal(byCoordinators('task.control.cancel'), 1)
    assert.equal(refused(voter, 'task-records', 'not-a-voter'), 1)
    assert.ok(refused(nodes.find(n => n.peerId === agent) as AgentNode, 'task-stop', 'not-coordinator') >= 1)

    // The rule is per task, not per peer: the stranger controls and reads what it submitted.
    const own = await stranger.submitTask({ task_id: 'the-strangers', type: 'forever' })
    await waitFor(() => own.latest?.status === 'running', 'the stranger\'s own task to run')
    assert.equal((await own.status()).status, 'running')
    assert.equal((await own.cancel()).type, 'task.control.ack')
    // The ack is the coordinator's; the stop reaches the worker after it (and its own task's
    // pause below could get to another worker first).
    await waitFor(() => (stops as string[]).includes('the-strangers:cancel'), 'the stranger\'s task stopped on its worker')

    // The submitter still pauses, resumes and cancels its task.
    assert.equal((await h.pause('mine')).type, 'task.control.ack')
    await waitFor(() => h.latest?.status === 'paused', 'the task to be paused by its submitter')
    assert.equal((await h.resume()).type, 'task.control.ack')
    await waitFor(() => h.latest?.status === 'running' && h.latest.attempt > attempt, 'the task to run again')
    assert.equal((await h.cancel('done with it')).type, 'task.control.ack')
    await assert.rejects(h.result(), (e: Error) => e instanceof TaskFailedError && e.status.status === 'cancelled')
    assert.deepEqual(stops, ['the-strangers:cancel', 'theirs:pause', 'theirs:cancel'])
  } finally {
    await stopAll(nodes)
  }
})

test('a suspicion gossiped at an incarnation the suspect never said makes no live agent offline; one at its own is refuted; a statement signed by another is dropped', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, () => local)
  try {
    const [observer, victim, other, liar] = nodes
    const seen: string[] = []
    for (const n of [observer, other]) {
      n.addEventListener('member:change', (e) => { if (e.detail.peerId === victim.peerId) seen.push(`${n.name}: ${e.detail.to}@${e.detail.incarnation}`) })
    }
    const incarnation = (of: AgentNode): number => observer.members().find(m => m.peerId === of.peerId)?.incarnation ?? -1
    // The liar's statements are its own, signed with its key, at its own incarnation: only their
    // suspicions lie. One it makes for the victim (that the victim leaves) carries its own
    // signature, not the victim's. It sends them to each agent, as gossip would pass them on.
    const keys = statementKeys(privateKeyOf(liar.libp2p), liar.config.mesh)
    // Numbered as the node numbers its own (the clock, and one more when it did not move), so the
    // liar's own newer statements and these follow one another.
    let seq = 0
    const statement = (suspects: MemberStatement['suspects'], extra: Partial<MemberStatement> = {}): { body: string, sig: string } => {
      seq = Math.max(Date.now(), seq + 1)
      const body = JSON.stringify({ peerId: liar.peerId, name: liar.name, roles: [], eligible: true, incarnation: incarnation(liar), suspects, seq, ...extra })
      return { body, sig: keys.sign(body) }
    }
    const tell = async (statements: Array<{ body: string, sig: string }>): Promise<void> => {
      await Promise.all([observer, victim, other].map(async n => { await liar.request(n.peerId, MemberGossip, { statements }) }))
    }
    const rejected = (): number => [observer, victim, other].reduce((sum, n) => sum + n.stats.get('gossip_rejected_total', { reason: 'member_bad_signature' }), 0)

    // For several suspicion timeouts, the liar repeats it (the attack of issue 13), and claims
    // for the victim that it leaves: neither is the victim's word.
    const timings = liar.config.membership
    const until = Date.now() + 3 * timings.suspicionMaxMs
    while (Date.now() < until) {
      await tell([statement([{ peerId: victim.peerId, incarnation: Number.MAX_SAFE_INTEGER }])])
      await tell([statement([], { peerId: victim.peerId, incarnation: Number.MAX_SAFE_INTEGER, leaving: true })])
      await sleep(timings.probeIntervalMs)
    }
    assert.ok(rejected() > 0, 'the statement signed for another agent is refused and counted')
    // (A suspicion of the victim's own incarnation, from a probe late on a loaded machine, would be
    // fair and refuted: what must never be seen is the lie taken, or the victim offline.)
    const lie = `@${Number.MAX_SAFE_INTEGER}`
    assert.ok(!seen.some(s => s.endsWith(lie) || s.includes(': offline@') || s.includes(': left@')), `the lie was taken: ${seen.join('; ')}`)
    for (const n of [observer, other, liar]) {
      const m = n.members().find(x => x.peerId === victim.peerId)
      assert.equal(m?.state, 'alive', `${n.name} sees the victim alive`)
      assert.ok((m?.incarnation ?? 0) < Number.MAX_SAFE_INTEGER)
    }

    // The same liar's suspicion at the incarnation the victim did say counts, and the victim refutes it.
    const own = incarnation(victim)
    const mark = seen.length
    await tell([statement([{ peerId: victim.peerId, incarnation: own }])])
    await waitFor(() => seen.slice(mark).some(s => s.endsWith(`: suspect@${own}`)), `an observer to suspect the victim (${seen.join('; ')})`)
    await waitFor(() => [observer, other].every(n => n.members().find(m => m.peerId === victim.peerId)?.state === 'alive') && incarnation(victim) > own,
      `the victim to refute it with a newer incarnation (${seen.join('; ')})`)
    assert.ok(!seen.some(s => s.includes(': offline@')), seen.join('; '))
  } finally {
    await stopAll(nodes)
  }
})
