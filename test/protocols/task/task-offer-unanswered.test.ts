/**
 * An offer whose answer never came (a timeout on a loaded host, a connection lost after the run
 * command was read): the agent may be running the attempt. The test loop found this in
 * tasks.test as "runs n2@1, n3@2, n3@3": the coordinator's next placement numbered a new attempt
 * for the same agent, whose executor stopped the one it ran and began again.
 *
 * The agents' side is the executor's rule for a run command (executor.ts `accept`, checked on
 * real nodes in tasks.test: the same attempt again is a duplicate and runs nothing, a later one
 * stops the running attempt and runs), played by the test's rpc so that which answer is lost is
 * the test's choice, not the host's load.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { RpcService } from '../../../protocols/rpc/index.js'
import type { Member } from '../../../protocols/discovery/members.js'
import { TaskSpec, signSubmission, type TaskRecord } from '../../../protocols/task/index.js'
import { TimeoutError } from '../../../protocols/core/errors.js'
import { KEY, SUBMITTER, build, until, voters, type Built } from './task-harness.js'

/** What one agent did with one task: the attempts it began to run, and every offer's number. */
interface Held { runs: number[], offers: number[] }

interface Agents {
  rpc: RpcService
  /** Per agent, per task. */
  held: (agent: 'w1' | 'w2', task: string) => Held
  /** How many more of w1's answers (to a request of one or several run commands) are lost on the way back: the coordinator waits for them in vain. */
  drop: number
  /** Called when one of w1's answers is lost. */
  dropped: () => void
}

/** What the test reads of a run command. */
interface Run { attempt: number, spec: { task_id: string } }

const member = (peerId: string): Member => ({ peerId, name: peerId, state: 'alive', eligible: false }) as unknown as Member

/** Agents w1 and w2 behind the harness's voters: each takes a run command as the executor does; w1's first `drop` answers are lost. */
function agents (v: ReturnType<typeof voters>): Agents {
  const state = new Map<string, Held>()
  const held = (agent: string, task: string): Held => {
    let h = state.get(`${agent}/${task}`)
    if (h === undefined) state.set(`${agent}/${task}`, h = { runs: [], offers: [] })
    return h
  }
  const a: Agents = { rpc: v.rpc, held, drop: 1, dropped: () => {} }
  const take = (peer: string, run: Run): unknown => {
    const h = held(peer, run.spec.task_id)
    h.offers.push(run.attempt)
    const last = h.runs.at(-1)
    if (last !== undefined && last > run.attempt) return { accepted: false, holds: last }
    if (last === run.attempt) return { accepted: true, duplicate: true }
    h.runs.push(run.attempt)
    return { accepted: true, duplicate: false }
  }
  a.rpc = {
    ...v.rpc,
    // A run command, or several in one request (a turn's offers to one agent, batch-call.ts): a lost answer loses them all.
    request: async (peer: string, cmd: { name: string }, payload: Run & { runs?: Run[] }, options?: unknown) => {
      const many = cmd.name === '$agentmesh/task/run-many'
      if ((!many && cmd.name !== '$agentmesh/task/run') || (peer !== 'w1' && peer !== 'w2')) {
        return await (v.rpc.request as (...x: unknown[]) => Promise<unknown>)(peer, cmd, payload, options)
      }
      const answer = many ? { answers: (payload.runs ?? []).map(run => ({ ok: true, answer: take(peer, run) })) } : take(peer, payload)
      if (peer === 'w1' && a.drop > 0) {
        a.drop--
        a.dropped()
        throw new TimeoutError('no answer within the deadline (the test lost it)')
      }
      return answer
    }
  } as unknown as RpcService
  return a
}

/** The coordinator in office after its takeover, `alive` the agents its member view holds: `body` runs with it, stopped after. */
async function placing (a: Agents, release: () => void, alive: string[], body: (b: Built) => Promise<void>): Promise<void> {
  const room = { cpu_cores: 8, memory_gb: 8, storage_gb: 8 }
  const b = build(a.rpc, undefined, true, new Map([['self', room], ['w1', room], ['w2', room]]))
  b.members.list = alive.map(member)
  b.resources.start()
  b.tasks.start()
  try {
    release()
    b.tasks.scheduler.officeCheck()
    await until('the takeover to end', () => !b.tasks.scheduler.snapshot(1).taking_over)
    await body(b)
  } finally {
    b.tasks.stop()
    b.resources.stop()
  }
}

async function submit (b: Built, id: string): Promise<void> {
  // The coordinator has no handler for the type: it answers itself TSK006 and is passed over.
  const spec = TaskSpec.parse({ task_id: id, type: 'work' })
  await b.tasks.scheduler.submit(SUBMITTER, [spec], [signSubmission(spec, SUBMITTER, KEY)])
}

const status = (b: Built, id: string): TaskRecord['status'] => (b.tasks.scheduler.table.get(id) as TaskRecord).status

test('an offer whose answer was lost is made again with the same number to the same agent: "duplicate", and the task runs once', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  await placing(a, v.release, ['w1'], async (b) => {
    await submit(b, 'u1')
    await until('the task to be assigned', () => status(b, 'u1').status === 'assigned')
    assert.deepEqual([status(b, 'u1').agent, status(b, 'u1').attempt], ['w1', 1], 'assigned to the attempt w1 runs')
    const w1 = a.held('w1', 'u1')
    assert.deepEqual(w1.offers, [1, 1], 'offered attempt 1 twice: the answer to the first was lost')
    assert.deepEqual(w1.runs, [1], 'w1 began one run: the second offer was a duplicate, not a new attempt that stopped the first')
  })
})

test('the one agent that may hold the attempt is asked again before any other: no second agent runs the task', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  const tasks = ['m1', 'm2', 'm3', 'm4', 'm5', 'm6']
  a.drop = Number.POSITIVE_INFINITY
  await placing(a, v.release, ['w1'], async (b) => {
    // Once w1 took every task unheard, its answers come through and w2 comes alive: each task is
    // then placed again with both alive, w2 the less loaded while w1's tasks are still queued.
    a.dropped = () => {
      if (!tasks.every(id => a.held('w1', id).offers.length > 0)) return
      a.drop = 0
      b.members.list = ['w1', 'w2'].map(member)
    }
    for (const id of tasks) await submit(b, id)
    await until('every task to be assigned', () => tasks.every(id => status(b, id).status === 'assigned'))
    for (const id of tasks) {
      assert.deepEqual([id, status(b, id).agent, status(b, id).attempt], [id, 'w1', 1], 'the agent running it, with the attempt it runs')
      assert.deepEqual(a.held('w1', id).runs, [1], `w1 ran ${id} once`)
      assert.deepEqual(a.held('w2', id).offers, [], `w2 was not offered ${id}`)
    }
  })
})

test('an agent\'s report of an offer whose answer was lost is the acknowledgement: taken, not refused (TSK004)', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  // w1's answers are all lost: only its report can tell the coordinator that it runs the task.
  a.drop = Number.POSITIVE_INFINITY
  await placing(a, v.release, ['w1'], async (b) => {
    await submit(b, 'u2')
    await until('the offer to w1 to be given up', () => status(b, 'u2').reason?.includes('COM001') === true)
    assert.deepEqual([status(b, 'u2').status, b.tasks.scheduler.table.lastOffered('u2')], ['submitted', 1])
    assert.throws(() => b.tasks.scheduler.report('w2', { task_id: 'u2', attempt: 1, status: 'running', progress: 0.5, metrics: {} }),
      (e: { code?: string }) => e.code === 'TSK004', 'another agent\'s report of that attempt is refused')
    assert.equal(b.tasks.scheduler.report('w1', { task_id: 'u2', attempt: 1, status: 'running', progress: 0.5, metrics: {} }), true)
    const s = status(b, 'u2')
    assert.deepEqual([s.status, s.agent, s.attempt, s.progress], ['running', 'w1', 1, 0.5], 'the report placed the task on w1')
    assert.deepEqual(a.held('w1', 'u2').runs, [1])
  })
})

test('an agent that never answers is asked again once with the same number, then after the others: its silence does not hold the task', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = Number.POSITIVE_INFINITY
  await placing(a, v.release, ['w1'], async (b) => {
    a.dropped = () => { b.members.list = ['w1', 'w2'].map(member) }
    await submit(b, 'u3')
    await until('the task to be assigned', () => status(b, 'u3').status === 'assigned')
    assert.deepEqual(a.held('w1', 'u3').offers, [1, 1], 'w1 was offered attempt 1 twice, then passed over')
    assert.deepEqual([status(b, 'u3').agent, status(b, 'u3').attempt, a.held('w2', 'u3').runs], ['w2', 2, [2]], 'w2 runs the next attempt')
  })
})
