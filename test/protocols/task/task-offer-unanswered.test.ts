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
import { FORMER, KEY, SELF, SUBMITTER, afterTakeover, record, until, voters, type BuildOptions, type Built } from './task-harness.js'

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
  /** Called when an agent took a run command, before its answer goes back. */
  took: (peer: string) => void
  /** Awaited after `took`, before the answer goes back: an answer slow on its way. */
  answerAfter: () => Promise<void>
  /** The stop and deliver commands sent to w1 or w2: name and payload. */
  other: Array<{ peer: string, name: string, payload: unknown }>
}

/** What the test reads of a run command. */
interface Run { attempt: number, spec: { task_id: string } }

const member = (peerId: string, state = 'alive'): Member => ({ peerId, name: peerId, state, eligible: false }) as unknown as Member

/** Agents w1 and w2 behind the harness's voters: each takes a run command as the executor does; w1's first `drop` answers are lost. */
function agents (v: ReturnType<typeof voters>): Agents {
  const state = new Map<string, Held>()
  const held = (agent: string, task: string): Held => {
    let h = state.get(`${agent}/${task}`)
    if (h === undefined) state.set(`${agent}/${task}`, h = { runs: [], offers: [] })
    return h
  }
  const a: Agents = { rpc: v.rpc, held, drop: 1, dropped: () => {}, took: () => {}, answerAfter: async () => {}, other: [] }
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
      if ((peer === 'w1' || peer === 'w2') && (cmd.name === '$agentmesh/task/stop' || cmd.name === '$agentmesh/task/deliver')) {
        a.other.push({ peer, name: cmd.name, payload })
        return null
      }
      if ((!many && cmd.name !== '$agentmesh/task/run') || (peer !== 'w1' && peer !== 'w2')) {
        return await (v.rpc.request as (...x: unknown[]) => Promise<unknown>)(peer, cmd, payload, options)
      }
      const answer = many ? { answers: (payload.runs ?? []).map(run => ({ ok: true, answer: take(peer, run) })) } : take(peer, payload)
      a.took(peer)
      await a.answerAfter()
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

const ROOM = { cpu_cores: 8, memory_gb: 8, storage_gb: 8 }

/**
 * The coordinator in office after its takeover, `alive` the agents its member view holds: `body`
 * runs with it, stopped after. Each agent has ROOM unless `options` says otherwise.
 */
async function placing (a: Agents, release: () => void, alive: string[], body: (b: Built) => Promise<void>, options: BuildOptions = {}): Promise<void> {
  const capacities = new Map([[options.self ?? 'self', ROOM], ['w1', ROOM], ['w2', ROOM]])
  await afterTakeover(a.rpc, release, async (b) => {
    b.members.list = alive.map(p => member(p))
    await body(b)
  }, { capacities, ...options })
}

async function submit (b: Built, id: string, more: Record<string, unknown> = {}): Promise<void> {
  // The coordinator has no handler for the type: it answers itself TSK006 and is passed over.
  const spec = TaskSpec.parse({ task_id: id, type: 'work', ...more })
  await b.tasks.scheduler.submit(SUBMITTER, [spec], [signSubmission(spec, SUBMITTER, KEY)])
}

const status = (b: Built, id: string): TaskRecord['status'] => (b.tasks.scheduler.table.get(id) as TaskRecord).status

/**
 * This node elected again, in the next term, as its office announces it. The term it led is
 * proven first, as its own election's announcement would have (the harness took office without
 * one): the new term's read checks that this node signed its records of it (built with SELF).
 */
function reelect (b: Built): void {
  b.tasks.proofs.follow(b.office.term, b.office.self)
  b.office.term++
  b.office.inOffice = true
  b.office.safeDispatchEvent('coordinator:change', { detail: { leader: b.office.self, term: b.office.term, self: true } })
}

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
      b.members.list = ['w1', 'w2'].map(p => member(p))
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
    a.dropped = () => { b.members.list = ['w1', 'w2'].map(p => member(p)) }
    await submit(b, 'u3')
    await until('the task to be assigned', () => status(b, 'u3').status === 'assigned')
    assert.deepEqual(a.held('w1', 'u3').offers, [1, 1], 'w1 was offered attempt 1 twice, then passed over')
    assert.deepEqual([status(b, 'u3').agent, status(b, 'u3').attempt, a.held('w2', 'u3').runs], ['w2', 2, [2]], 'w2 runs the next attempt')
  })
})

test('the agent asked again is the one that may hold the attempt, also when it is suspect, and also when a contract net would award the task to another', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  const awards: string[] = []
  await placing(a, v.release, ['w1'], async (b) => {
    // Slow to answer, w1 is suspect by the next placement; w2 is alive, and the net's choice.
    a.dropped = () => { b.members.list = [member('w1', 'suspect'), member('w2')] }
    await submit(b, 'c1', { assignment: 'contract_net' })
    await until('the task to be assigned', () => status(b, 'c1').status === 'assigned')
    assert.deepEqual([status(b, 'c1').agent, status(b, 'c1').attempt, a.held('w1', 'c1').offers], ['w1', 1, [1, 1]], 'w1 was asked again, with attempt 1')
    assert.deepEqual(a.held('w2', 'c1').offers, [], 'w2 was not offered the task')
    assert.deepEqual(awards, ['w1'], 'the net was not held again while w1 may run it')
  }, { award: (id) => { const w = awards.length === 0 ? 'w1' : 'w2'; awards.push(w); return id === 'c1' ? w : undefined } })
})

test('the units granted for an unanswered offer stay held: the agent\'s report claims them, and no other task is placed on them', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = Number.POSITIVE_INFINITY
  const one = { cpu_cores: 1, memory_gb: 0, storage_gb: 0 }
  await placing(a, v.release, ['w1'], async (b) => {
    await submit(b, 'r1', { requirements: one })
    await until('the offer of r1 to be given up', () => status(b, 'r1').reason?.includes('COM001') === true)
    assert.equal(b.tasks.scheduler.report('w1', { task_id: 'r1', attempt: 1, status: 'running', progress: 0.1, metrics: {} }), true)
    const r1 = b.tasks.scheduler.table.get('r1') as TaskRecord
    assert.deepEqual([r1.status.status, r1.resources?.map(x => x.resource_id)], ['running', ['w1/cpu/0']], 'the report took the units granted for the offer')
    await submit(b, 'r2', { requirements: one })
    await until('r2 to wait for the core', () => /CRD003/.test(status(b, 'r2').reason ?? ''))
    assert.deepEqual(a.held('w1', 'r2').offers, [], 'r2 was not placed on the core r1 runs on')
  }, { capacities: new Map([['w1', { cpu_cores: 1, memory_gb: 0, storage_gb: 0 }]]) })
})

test('a message sent while an offer went unanswered reaches the agent once its report is taken; a cancel meanwhile stops it there', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = Number.POSITIVE_INFINITY
  await placing(a, v.release, ['w1'], async (b) => {
    await submit(b, 'd1')
    await submit(b, 'd2')
    await until('both offers to be given up', () => ['d1', 'd2'].every(id => status(b, id).reason?.includes('COM001') === true))
    const answer = await b.tasks.scheduler.input(SUBMITTER, { command_id: 'in1', task_id: 'd1', message: { message_id: 'm1', input: { hello: 1 } } })
    assert.equal(answer.type, 'task.control.ack')
    assert.equal(b.tasks.scheduler.report('w1', { task_id: 'd1', attempt: 1, status: 'running', progress: 0, metrics: {} }), true)
    await until('the message to be delivered to w1', () => a.other.some(o => o.name === '$agentmesh/task/deliver'))
    const delivered = a.other.find(o => o.name === '$agentmesh/task/deliver')?.payload as { attempt: number, messages: Array<{ message_id: string }> }
    assert.deepEqual([delivered.attempt, delivered.messages.map(m => m.message_id)], [1, ['m1']])
    // d2: cancelled while queued, its offer unanswered: w1, which may run it, is told to stop.
    const cancel = await b.tasks.scheduler.control(SUBMITTER, { command_id: 'c2', type: 'task.control.cancel', task_id: 'd2' })
    assert.equal(cancel.type, 'task.control.ack')
    await until('w1 to be told to stop d2', () => a.other.some(o => o.name === '$agentmesh/task/stop'))
    const stop = a.other.find(o => o.name === '$agentmesh/task/stop')?.payload as { task_id: string, attempt: number, why: string }
    assert.deepEqual([stop.task_id, stop.attempt, stop.why], ['d2', 1, 'cancel'])
  })
})

test('an offer whose answer was lost while the coordinator\'s lease lapsed is marked all the same: asked again with the same number once it leads again, in the same term', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = 1 // w1's first answer is lost
  await placing(a, v.release, ['w1'], async (b) => {
    let lapsed = false
    a.took = () => {
      if (lapsed) return
      lapsed = true
      b.office.inOffice = false
      setTimeout(() => { b.office.inOffice = true; b.tasks.scheduler.officeCheck() }, 300)
    }
    await submit(b, 'lapse-lost')
    await until('the task to be assigned', () => status(b, 'lapse-lost').status === 'assigned')
    assert.deepEqual([status(b, 'lapse-lost').agent, status(b, 'lapse-lost').attempt], ['w1', 1])
    assert.deepEqual(a.held('w1', 'lapse-lost').offers, [1, 1], 'offered attempt 1 again, not a new attempt')
    assert.deepEqual(a.held('w1', 'lapse-lost').runs, [1], 'w1 began one run, not a second that stopped the first')
  })
})

test('an agent that may run an unanswered offer\'s attempt and goes offline is written lost and told to stop before another agent runs the task', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = 1 // w1 takes attempt 1, and its answer is lost
  await placing(a, v.release, ['w1'], async (b) => {
    // Once w1's answer is lost, the member view holds it offline and w2 alive.
    a.dropped = () => { b.members.list = [member('w1', 'offline'), member('w2')] }
    await submit(b, 'gone')
    await until('the task to be assigned to w2', () => status(b, 'gone').status === 'assigned' && status(b, 'gone').agent === 'w2')
    const r = b.tasks.scheduler.table.get('gone') as TaskRecord
    assert.deepEqual([r.status.attempt, r.losses], [2, 1], 'attempt 2, after one loss written')
    assert.deepEqual(a.held('w1', 'gone').runs, [1])
    assert.deepEqual(a.held('w2', 'gone').runs, [2])
    const stop = a.other.find(o => o.peer === 'w1' && o.name === '$agentmesh/task/stop') as { payload: { task_id: string, attempt: number } } | undefined
    assert.deepEqual([stop?.payload.task_id, stop?.payload.attempt], ['gone', 1], 'w1 told to stop attempt 1')
  })
})

/**
 * Term 68 was FORMER's: it placed `id` on `agent` (attempt 2), and the voter holds that record.
 * This node, whose offer of attempt 1 went unanswered in term 67, is elected in term 69 and
 * reads it. `held` answers the takeover's question to an agent first (undefined: the test's
 * agents answer, holding nothing).
 */
async function formerPlacedIt (a: Agents, b: Built, records: TaskRecord[], id: string, agent: string, held: (peer: string) => Promise<unknown>): Promise<void> {
  records.push(record(id, 68, 10, { status: 'assigned', agent, attempt: 2 }))
  const request = a.rpc.request.bind(a.rpc) as (...x: unknown[]) => Promise<unknown>
  a.rpc.request = (async (peer: string, cmd: { name: string }, ...rest: unknown[]) => {
    const answer = cmd.name === '$agentmesh/task/held' ? await held(peer) : undefined
    return answer ?? await request(peer, cmd, ...rest)
  }) as RpcService['request']
  b.tasks.proofs.follow(67, SELF)
  b.tasks.proofs.follow(68, FORMER)
  b.office.term = 69
  b.office.safeDispatchEvent('coordinator:change', { detail: { leader: SELF, term: 69, self: true } })
  await until('the term 69 takeover to end', () => b.tasks.scheduler.snapshot(1).term === 69 && !b.tasks.scheduler.snapshot(1).taking_over)
}

/**
 * The lease lapses while the first run command is out (on a loaded host, between the offer and
 * its answer) and comes back 300 ms later, by `back`. Both agents are alive and equally loaded:
 * a new attempt could go to either. The agent that took attempt 1 is asked again with it.
 */
async function lapsedWhileOut (id: string, back: (b: Built) => void, term: number): Promise<void> {
  const v = voters([])
  const a = agents(v)
  a.drop = 0
  await placing(a, v.release, ['w1', 'w2'], async (b) => {
    let first: 'w1' | 'w2' | undefined
    a.took = (peer) => {
      if (first !== undefined) return
      first = peer as 'w1' | 'w2'
      b.office.inOffice = false
      setTimeout(() => { back(b) }, 300)
    }
    await submit(b, id)
    await until('the task to be assigned', () => status(b, id).status === 'assigned')
    const took = first as 'w1' | 'w2'
    const other = took === 'w1' ? 'w2' : 'w1'
    assert.equal(b.tasks.scheduler.snapshot(1).term, term, `assigned in term ${term}`)
    assert.deepEqual([status(b, id).agent, status(b, id).attempt], [took, 1], 'assigned to the agent that took attempt 1, with that attempt')
    assert.deepEqual(a.held(took, id).runs, [1], `${took} began one run: asked again, it answered "duplicate"`)
    assert.deepEqual(a.held(took, id).offers, [1, 1], 'offered attempt 1 twice: the first assignment was not written')
    assert.deepEqual(a.held(other, id).offers, [], `${other} was not offered the task`)
  }, { self: SELF })
}

test('an offer taken while the coordinator\'s lease lapsed (the assignment not written) is asked again with the same number of the same agent: no other agent runs it', { timeout: 60_000 }, async () => {
  await lapsedWhileOut('lapse', (b) => { b.office.inOffice = true; b.tasks.scheduler.officeCheck() }, 67)
})

test('an offer taken while the coordinator\'s lease lapsed, the lease back in a new term of the same node, is asked again with the same number of the same agent: no other agent runs it', { timeout: 60_000 }, async () => {
  // The new term's takeover reads the records and rebuilds the resource table first.
  await lapsedWhileOut('reelected', reelect, 68)
})

test('an offer whose answer was lost keeps its units through a new term of the same node: no other task is placed on them, and the agent\'s report claims them', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = Number.POSITIVE_INFINITY
  const caps = new Map([['w1', { cpu_cores: 1, memory_gb: 0, storage_gb: 0 }]])
  await placing(a, v.release, ['w1'], async (b) => {
    // n2 comes first in the queue (priority 1) but needs memory w1 does not have yet.
    await submit(b, 'n2', { requirements: { cpu_cores: 1, memory_gb: 1, storage_gb: 0 }, priority: 1 })
    await until('n2 to wait for an agent big enough', () => /CRD003/.test(status(b, 'n2').reason ?? ''))
    // n1 takes w1's core; its answer is lost, and the lease lapses with it (no second ask in this term).
    a.dropped = () => { a.dropped = () => {}; b.office.inOffice = false }
    await submit(b, 'n1', { requirements: { cpu_cores: 1, memory_gb: 0, storage_gb: 0 } })
    await until('n1\'s offer to be lost', () => a.held('w1', 'n1').offers.length === 1 && !b.tasks.scheduler.snapshot(1).leading)
    // w1 grows, and this node is elected again: the new term's resource table is rebuilt from the
    // agents' word and the records, neither of which holds n1's core. n2 is placed first.
    caps.set('w1', { cpu_cores: 1, memory_gb: 1, storage_gb: 0 })
    reelect(b)
    await until('the new term\'s takeover to end', () => b.tasks.scheduler.snapshot(1).term === 68 && !b.tasks.scheduler.snapshot(1).taking_over)
    // The new term's first placement tries n2, then asks w1 again about n1.
    await until('w1 to be asked about n1 again', () => a.held('w1', 'n1').offers.length === 2)
    assert.deepEqual(a.held('w1', 'n1').offers, [1, 1], 'with the same number')
    assert.deepEqual(a.held('w1', 'n2').offers, [], 'n2 was not placed on the core n1\'s offer holds')
    assert.equal(b.tasks.scheduler.report('w1', { task_id: 'n1', attempt: 1, status: 'running', progress: 0.1, metrics: {} }), true, 'w1\'s report of attempt 1 is taken in the new term')
    const n1 = b.tasks.scheduler.table.get('n1') as TaskRecord
    assert.deepEqual([n1.status.status, n1.status.attempt, n1.resources?.map(x => x.resource_id)], ['running', 1, ['w1/cpu/0']], 'the report took the units granted for the offer')
  }, { capacities: caps, self: SELF })
})

test('an unanswered offer\'s mark, when a coordinator between placed the task elsewhere: at this node\'s next term the agent is told to stop the attempt it may run', { timeout: 60_000 }, async () => {
  const held: TaskRecord[] = []
  const v = voters(held)
  const a = agents(v)
  a.drop = Number.POSITIVE_INFINITY
  await placing(a, v.release, ['w1'], async (b) => {
    await submit(b, 'moved')
    await until('the offer to w1 to be given up', () => status(b, 'moved').reason?.includes('COM001') === true)
    a.drop = 0
    // w2 is slow to say what it holds: the scheduler's every-second check runs after the read
    // merged the record (the task w2's) and before the takeover settles.
    await formerPlacedIt(a, b, held, 'moved', 'w2', async () => { await new Promise(resolve => setTimeout(resolve, 1_500)) })
    const stops = a.other.filter(o => o.peer === 'w1' && o.name === '$agentmesh/task/stop').map(o => o.payload as { task_id: string, attempt: number })
    assert.deepEqual(stops.map(s => [s.task_id, s.attempt]), [['moved', 1]], 'w1 told to stop attempt 1')
    // The takeover finds w2 not holding attempt 2 (the test's agents hold nothing) and places the task again: past attempt 2.
    assert.deepEqual(a.held('w1', 'moved').offers.filter(n => n <= 2), [1], 'w1 was not offered attempt 1 (or 2) again')
  }, { self: SELF })
})

test('an unanswered offer\'s mark, when a coordinator between placed the task on an agent that runs it: the takeover\'s reconcile keeps that agent and tells the marked one to stop', { timeout: 60_000 }, async () => {
  const held: TaskRecord[] = []
  const v = voters(held)
  const a = agents(v)
  a.drop = Number.POSITIVE_INFINITY
  await placing(a, v.release, ['w1'], async (b) => {
    await submit(b, 'running-elsewhere')
    await until('the offer to be given up', () => status(b, 'running-elsewhere').reason?.includes('COM001') === true)
    const [marked, other] = ['w1', 'w2']
    // The other agent runs attempt 2, and says so when asked.
    await formerPlacedIt(a, b, held, 'running-elsewhere', other, async (peer) => {
      return peer === other ? { tasks: [{ task_id: 'running-elsewhere', attempt: 2, state: 'running', progress: 0.5 }] } : undefined
    })
    const s = status(b, 'running-elsewhere')
    assert.deepEqual([s.status, s.agent, s.attempt], ['running', other, 2], `${other} keeps attempt 2`)
    const stops = a.other.filter(o => o.name === '$agentmesh/task/stop').map(o => [o.peer, (o.payload as { task_id: string }).task_id, (o.payload as { attempt: number }).attempt])
    assert.deepEqual(stops, [[marked, 'running-elsewhere', 1]], `${marked} told to stop attempt 1, and no one else told to stop`)
  }, { self: SELF })
})

test('an offer whose answer comes after a new term\'s takeover keeps its units: no other task is placed on them', { timeout: 60_000 }, async () => {
  const v = voters([])
  const a = agents(v)
  a.drop = 0
  const one = { cpu_cores: 1, memory_gb: 0, storage_gb: 0 }
  await placing(a, v.release, ['w1'], async (b) => {
    // w1 takes attempt 1 of l1 and its answer is slow: meanwhile this node is elected again and
    // the new term's takeover rebuilds the resource table, which holds nothing of l1's yet.
    let answered = (): void => {}
    a.answerAfter = async () => { a.answerAfter = async () => {}; await new Promise<void>(resolve => { answered = resolve }) }
    await submit(b, 'l1', { requirements: one })
    await until('w1 to take l1', () => a.held('w1', 'l1').offers.length === 1)
    reelect(b)
    await until('the new term\'s takeover to end', () => b.tasks.scheduler.snapshot(1).term === 68 && !b.tasks.scheduler.snapshot(1).taking_over)
    answered()
    await until('l1 to be assigned', () => status(b, 'l1').status === 'assigned')
    assert.deepEqual([status(b, 'l1').agent, status(b, 'l1').attempt, a.held('w1', 'l1').runs], ['w1', 1, [1]])
    await submit(b, 'l2', { requirements: one })
    await until('l2 to wait for the core', () => /CRD003/.test(status(b, 'l2').reason ?? ''))
    assert.deepEqual(a.held('w1', 'l2').offers, [], 'l2 was not placed on the core l1 runs on')
  }, { capacities: new Map([['w1', { cpu_cores: 1, memory_gb: 0, storage_gb: 0 }]]), self: SELF })
})

test('an attempt an earlier coordinator\'s offer started, which no record gives its agent: the takeover tells the agent to stop it and numbers the next attempt past it', { timeout: 60_000 }, async () => {
  // FORMER queued the task in term 66 and offered w1 attempt 1; w1 took it, and the answer never reached FORMER.
  const v = voters([record('orphan', 66, 1, { status: 'submitted' })])
  const a = agents(v)
  a.drop = 0
  const asked: string[] = []
  const request = a.rpc.request.bind(a.rpc)
  a.rpc.request = (async (peer: string, cmd: { name: string }, payload: { task_ids?: string[] }, ...rest: unknown[]) => {
    if (cmd.name === '$agentmesh/task/held' && peer === 'w1') {
      asked.push(...payload.task_ids ?? [])
      return { tasks: [{ task_id: 'orphan', attempt: 1, state: 'running', progress: 0.2 }] }
    }
    return await (request as (...x: unknown[]) => Promise<unknown>)(peer, cmd, payload, ...rest)
  }) as RpcService['request']
  await placing(a, v.release, ['w1'], async (b) => {
    await until('the task to be assigned', () => status(b, 'orphan').status === 'assigned')
    assert.deepEqual(asked, ['orphan'], 'w1 was asked about the queued task')
    const stops = a.other.filter(o => o.name === '$agentmesh/task/stop').map(o => [o.peer, (o.payload as { task_id: string }).task_id, (o.payload as { attempt: number }).attempt])
    assert.deepEqual(stops, [['w1', 'orphan', 1]], 'w1 told to stop attempt 1')
    assert.deepEqual([status(b, 'orphan').agent, status(b, 'orphan').attempt, a.held('w1', 'orphan').offers], ['w1', 2, [2]], 'the next attempt is 2, not 1 again')
  }, { members: [member('w1')] })
})
