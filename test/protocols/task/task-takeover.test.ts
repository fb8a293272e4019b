/**
 * A coordinator taking office, with no network: the TaskService with an office, a member view
 * and an rpc of its own making, so the order of events is the test's, not the scheduler's.
 *
 * The 1,000-fault campaign (seed 1606683835, tasks t1104 and t2030) found a task whose end a
 * coordinator had answered run to a second end under the next one. The path: the new
 * coordinator's own replica still had the task running on its agent; that agent was killed (the
 * reason there was an election), and the member view said so while the takeover was still
 * reading the voters' records. The scheduler already led the new term, so it took the task from
 * the lost agent and queued it again, stamped with the new term; the voters' record of the end,
 * of the earlier term, then lost the merge, and the task was placed again.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { TaskRecord } from '../../../protocols/task/index.js'
import type { RpcService } from '../../../protocols/rpc/index.js'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { MemoryStore } from '../../../protocols/core/store.js'
import { electionKeys } from '../../../protocols/coordination/election-keys.js'
import { voteStatement } from '../../../protocols/coordination/election-proof.js'
import type { Certificate } from '../../../protocols/coordination/election-types.js'
import { FORMER, SUBMITTER, afterTakeover, build, record, until, voters, type Built } from './task-harness.js'

test('an agent lost while a new coordinator reads the voters\' records does not undo the end a majority holds', { timeout: 3 * 60_000 }, async () => {
  // The new coordinator's replica: t1104 running as attempt 2 on w0 (term 65). A majority of the
  // voters (v1 and this node count as one with the read) hold its end: completed by w0.
  const stale = record('t1104', 65, 4, { status: 'running', attempt: 2, agent: 'w0', progress: 0.5 })
  const ended = record('t1104', 65, 6, { status: 'completed', attempt: 2, agent: 'w0', progress: 1, result: { by: 'w0' } })
  const { rpc, release, replicated } = voters([ended])
  const { members, resources, tasks } = build(rpc)
  resources.start()
  tasks.start()
  try {
    tasks.scheduler.table.merge(stale)
    tasks.scheduler.officeCheck()
    assert.equal(tasks.scheduler.snapshot(1).taking_over, true, 'the takeover waits for v1\'s records')
    // w0 was killed (hence the election); the member view says so before the read is done.
    members.safeDispatchEvent('member:change', { detail: { peerId: 'w0', name: 'w0', from: 'suspect', to: 'offline', incarnation: 1 } })
    // And a report of the stale attempt: not taken while reading (w0's executor sends an end again until one is).
    const known = tasks.scheduler.report('w0', { task_id: 't1104', attempt: 2, status: 'running', progress: 0.9, metrics: {} })
    await new Promise(resolve => setTimeout(resolve, 100)) // a replication batch would have gone out by now
    release()
    await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
    assert.equal(tasks.scheduler.snapshot(1).leading, true)
    const r = tasks.scheduler.table.get('t1104') as TaskRecord
    assert.deepEqual([r.status.status, r.status.attempt, r.status.agent], ['completed', 2, 'w0'], 'the end the majority held stands')
    assert.equal(r.term, 67, 're-stamped by the new coordinator')
    const sent = replicated.filter(x => x.spec.task_id === 't1104').map(x => `${x.status.status}@${String(x.term)}`)
    assert.ok(sent.length > 0, 'the takeover wrote its records to the voters')
    assert.deepEqual([...new Set(sent)], ['completed@67'], 'no voter was sent the task queued again')
    // The submitter's query is answered the end, and nothing places the task again.
    assert.equal((await tasks.scheduler.query(SUBMITTER, 't1104')).status, 'completed')
    assert.equal(known, false, 'no report is taken before the read is merged')
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('after the read, an agent lost loses its open tasks as before (placed again, stamped with the new term)', { timeout: 3 * 60_000 }, async () => {
  const open = record('t7', 65, 3, { status: 'running', attempt: 1, agent: 'w0' })
  const { rpc, release, replicated } = voters([open])
  const { members, resources, tasks } = build(rpc)
  resources.start()
  tasks.start()
  try {
    release()
    tasks.scheduler.officeCheck()
    await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
    // w0 did not answer what it holds (the rpc here reaches nobody else): its attempt was taken as lost.
    const r = tasks.scheduler.table.get('t7') as TaskRecord
    assert.equal(r.losses, 1, 'the unanswered agent lost its attempt at takeover')
    assert.equal(r.term, 67)
    members.safeDispatchEvent('member:change', { detail: { peerId: 'w0', name: 'w0', from: 'suspect', to: 'offline', incarnation: 1 } })
    assert.ok(replicated.some(x => x.spec.task_id === 't7' && x.term === 67), 'its records went to the voters in the new term')
  } finally {
    tasks.stop()
    resources.stop()
  }
})

/**
 * The campaign's seed 657022656 (round 25): the only copies of task t779's end were of a term
 * (33) whose leader the new coordinator had never followed (it was restarted during that term).
 * The voters that held copies kept the term's certificate and sent it with their pages, but the
 * coordinator checked its own replica first, with no certificate offered yet, cached "unproven"
 * for the term, and then refused every voter's copy on that verdict: the acknowledged task was
 * dropped from the table and from its disk, and its submitter was answered TSK001.
 */
test('a record of a term this node never followed is kept when a voter\'s page brings the certificate that proves it', { timeout: 3 * 60_000 }, async () => {
  const [v1, v2] = [await voterKey(), await voterKey()]
  const { rpc, release } = voters([ended('t779', 66, 4)], new Set([v2.id]), [], { peer: v1.id, certs: [certificate(66, [v1, v2], [v1, v2])] })
  const { resources, tasks, store } = await holding(rpc, ended('t779', 66, 4), [v1, v2])
  try {
    assert.ok(tasks.proofs.fault(66, FORMER, 67) !== undefined, 'nothing here proves term 66 before the read')
    await takeOffice(tasks, release)
    assert.equal(tasks.scheduler.snapshot(1).leading, true)
    assert.equal((await tasks.scheduler.query(SUBMITTER, 't779')).status, 'completed', 'the end is answered, not TSK001')
    assert.ok(store.space('tasks').get('t779') !== undefined, 'still on this node\'s disk')
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('this replica\'s record of an unproven term is set aside, not dropped, and kept once a voter\'s page proves the term (with another task)', { timeout: 3 * 60_000 }, async () => {
  const [v1, v2] = [await voterKey(), await voterKey()]
  // v1 holds only another task of term 66; its page brings the certificate of that term.
  const { rpc, release } = voters([ended('t1', 66, 2)], new Set([v2.id]), [], { peer: v1.id, certs: [certificate(66, [v1, v2], [v1, v2])] })
  const { resources, tasks } = await holding(rpc, ended('t779', 66, 4), [v1, v2])
  try {
    await takeOffice(tasks, release)
    assert.equal((await tasks.scheduler.query(SUBMITTER, 't779')).status, 'completed', 'this node\'s copy was its only one')
    assert.equal((await tasks.scheduler.query(SUBMITTER, 't1')).status, 'completed')
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('a read that fails drops nothing it set aside: a copy replicated here meanwhile stays on the disk', { timeout: 3 * 60_000 }, async () => {
  const [v1, v2] = [await voterKey(), await voterKey()]
  let fail = (): void => {}
  const gate = new Promise<void>(resolve => { fail = resolve })
  const rpc = {
    handle: () => () => {},
    request: async (peer: string, cmd: { name: string }) => {
      if (cmd.name === '$agentmesh/task/records') { await gate; throw new Error(`${peer} is unreachable in this test`) }
      throw new Error(`${peer} is unreachable in this test`)
    }
  } as unknown as RpcService
  const { resources, tasks, store } = await holding(rpc, ended('t779', 66, 4), [v1, v2])
  try {
    tasks.scheduler.officeCheck()
    await new Promise(resolve => setTimeout(resolve, 50))
    // Meanwhile a coordinator of a later term replicates t779 here: on this disk, acknowledged.
    await tasks.scheduler.replica.replicate('B', 68, [ended('t779', 68, 1)])
    fail()
    await until('the read to fail', () => !tasks.scheduler.snapshot(1).taking_over)
    await new Promise(resolve => setTimeout(resolve, 50))
    assert.equal(store.space<TaskRecord>('tasks').get('t779')?.term, 68, 'the acknowledged copy is still on the disk')
    assert.ok(tasks.scheduler.table.get('t779') !== undefined)
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('a verdict that a term is unproven gives way to a certificate offered after it; a coordinator keeps its own certificate', { timeout: 3 * 60_000 }, async () => {
  const v1 = await voterKey()
  const v2 = await voterKey()
  const { rpc } = voters([])
  const { office, tasks } = build(rpc, new MemoryStore(), false)
  office.voters = () => ['self', v1.id, v2.id]
  assert.ok(tasks.proofs.fault(66, FORMER, 67) !== undefined)
  tasks.proofs.offer(certificate(66, [v1, v2], [v1]))
  assert.ok(tasks.proofs.fault(66, FORMER, 67) !== undefined, 'one vote of three proves nothing')
  tasks.proofs.offer(certificate(66, [v1, v2], [v1, v2]))
  assert.equal(tasks.proofs.fault(66, FORMER, 67), undefined, 'proven once a majority\'s certificate came')
  // A coordinator sends its certificate with its first replicate of a term, and keeps it: a later
  // reader of its own replica alone can then be shown who led that term.
  const own: Certificate = { term: 67, leader: 'self', config: { version: 1, term: 0, voters: ['self', v1.id, v2.id] }, votes: [] }
  office.certificate = () => own
  assert.deepEqual(tasks.proofs.toSend(v1.id, 67), own)
  assert.deepEqual(tasks.proofs.forTerms([67]), [own])
  // Votes that came late make a fuller certificate, kept in place of the first.
  const fuller = { ...own, votes: [{ voter: v1.id, sig: v1.keys.sign(voteStatement(67, 'self')) }] }
  office.certificate = () => fuller
  tasks.proofs.toSend(v2.id, 67)
  assert.deepEqual(tasks.proofs.forTerms([67]), [fuller])
})

async function voterKey (): Promise<{ id: string, keys: ReturnType<typeof electionKeys> }> {
  const key = await generateKeyPair('Ed25519')
  return { id: peerIdFromPrivateKey(key).toString(), keys: electionKeys(key, '') }
}

/** The certificate of FORMER's election in `term` by the set of FORMER, v1 and v2, with the votes of `signers`. */
function certificate (term: number, set: Array<{ id: string }>, signers: Array<{ id: string, keys: ReturnType<typeof electionKeys> }>): Certificate {
  return {
    term,
    leader: FORMER,
    config: { version: 2, term: 1, voters: [FORMER, ...set.map(s => s.id)].sort() },
    votes: signers.map(s => ({ voter: s.id, sig: s.keys.sign(voteStatement(term, FORMER)) }))
  }
}

const ended = (id: string, term: number, version: number): TaskRecord =>
  record(id, term, version, { status: 'completed', attempt: 1, agent: 'w2', progress: 1, result: { by: 'w2' } })

/** A node about to take office in term 67, that followed nobody before it (voters: itself and `others`), with `own` on its disk. */
async function holding (rpc: RpcService, own: TaskRecord, others: Array<{ id: string }>): Promise<Built & { store: MemoryStore }> {
  const store = new MemoryStore()
  await store.space<TaskRecord>('tasks').put(own.spec.task_id, own)
  const built = build(rpc, store, false)
  built.office.voters = () => ['self', ...others.map(v => v.id)]
  built.resources.start()
  built.tasks.start()
  return { ...built, store }
}

/** Take office; the voters answer the read (`release`) after this replica was checked. */
async function takeOffice (tasks: Built['tasks'], release: () => void): Promise<void> {
  tasks.scheduler.officeCheck()
  await new Promise(resolve => setTimeout(resolve, 50))
  release()
  await until('the takeover to end', () => !tasks.scheduler.snapshot(1).taking_over)
}

test('an agent taken for lost still ends the attempt it held: its end is taken while the task waits for another placement, its progress refused (TSK004)', { timeout: 3 * 60_000 }, async () => {
  // A loaded host: the agent's member state flapped, or (here) it did not answer the takeover,
  // and the task went back to the queue. No agent is alive to place it on, so it waits there.
  const open = record('t8', 65, 3, { status: 'running', attempt: 1, agent: 'w0' })
  const { rpc, release } = voters([open])
  await afterTakeover(rpc, release, async ({ tasks }) => {
    const r = tasks.scheduler.table.get('t8') as TaskRecord
    assert.deepEqual([r.status.status, r.losses], ['submitted', 1], 'the attempt was taken for lost')
    assert.throws(() => tasks.scheduler.report('w0', { task_id: 't8', attempt: 1, status: 'running', progress: 0.5, metrics: {} }),
      (e: { code?: string, message?: string }) => e.code === 'TSK004' && /waits for another placement/.test(e.message ?? ''))
    assert.equal(r.status.status, 'submitted', 'the refused progress changed nothing')
    // An end of another attempt is not w0's to report.
    assert.throws(() => tasks.scheduler.report('w0', { task_id: 't8', attempt: 2, status: 'completed', progress: 1, metrics: {}, result: 'no' }), (e: { code?: string }) => e.code === 'TSK004')
    const known = tasks.scheduler.report('w0', { task_id: 't8', attempt: 1, status: 'completed', progress: 1, metrics: {}, result: { by: 'w0' } })
    assert.equal(known, true)
    const done = tasks.scheduler.table.get('t8') as TaskRecord
    assert.deepEqual([done.status.status, done.status.attempt, done.status.agent, done.status.result], ['completed', 1, 'w0', { by: 'w0' }], 'the end of the lost attempt stands')
    // The submitter is answered what a majority of the voters holds: the end, once it is replicated.
    let answered = ''
    for (const end = Date.now() + 10_000; answered !== 'completed' && Date.now() < end; await new Promise(resolve => setTimeout(resolve, 20))) {
      answered = (await tasks.scheduler.query(SUBMITTER, 't8')).status
    }
    assert.equal(answered, 'completed', 'the submitter is answered the end')
  })
})

test('an attempt held by an agent the member view holds offline is lost at the next second, also when the change came while this node was not leading', { timeout: 3 * 60_000 }, async () => {
  const open = record('t9', 65, 3, { status: 'running', attempt: 1, agent: 'w0' })
  const v = voters([open])
  await afterTakeover(w0Holds(v, 't9'), v.release, async ({ members, tasks }) => {
    const r = tasks.scheduler.table.get('t9') as TaskRecord
    assert.deepEqual([r.status.status, r.status.agent, r.losses], ['running', 'w0', 0], 'w0 holds it after the takeover')
    const reasons: string[] = []
    tasks.addEventListener('status', (e) => { reasons.push(e.detail.status.reason ?? '') })
    // w0 went offline while this node's lease had lapsed: the change event came and went unheeded; the view holds it offline.
    members.list = [{ peerId: 'w0', name: 'w0', state: 'offline', eligible: false } as unknown as (typeof members.list)[number]]
    await until('the attempt on the offline agent to be lost', () => (tasks.scheduler.table.get('t9') as TaskRecord).status.status !== 'running')
    const after = tasks.scheduler.table.get('t9') as TaskRecord
    assert.deepEqual([after.status.status, after.losses], ['submitted', 1])
    assert.ok(reasons.some(x => /agent w0 was lost/.test(x)), `the loss said why: ${JSON.stringify(reasons)}`)
  })
})

test('the end of an attempt stopped by a pause is not taken once the task is resumed and queued: only a lost attempt\'s is', { timeout: 3 * 60_000 }, async () => {
  const open = record('t10', 65, 3, { status: 'running', attempt: 1, agent: 'w0' })
  const v = voters([open])
  await afterTakeover(w0Holds(v, 't10'), v.release, async ({ tasks }) => {
    const control = async (type: 'task.control.pause' | 'task.control.resume'): Promise<string> =>
      (await tasks.scheduler.control('self', { command_id: type, type, task_id: 't10' })).type
    assert.equal(await control('task.control.pause'), 'task.control.ack')
    assert.equal(await control('task.control.resume'), 'task.control.ack')
    const r = tasks.scheduler.table.get('t10') as TaskRecord
    assert.deepEqual([r.status.status, r.status.agent, r.status.attempt, r.losses], ['submitted', 'w0', 1, 0], 'queued again by the resume, no agent to place it on')
    assert.throws(() => tasks.scheduler.report('w0', { task_id: 't10', attempt: 1, status: 'completed', progress: 1, metrics: {}, result: 'late' }),
      (e: { code?: string }) => e.code === 'TSK004')
    assert.equal((tasks.scheduler.table.get('t10') as TaskRecord).status.status, 'submitted', 'the stopped attempt\'s end changed nothing')
  })
})

test('a control whose change could not be written (the lease lapsed after the control began) is refused CRD002, not acknowledged, and stops nothing; asked again, it is written once', { timeout: 3 * 60_000 }, async () => {
  const open = record('t11', 65, 3, { status: 'running', attempt: 1, agent: 'w0' })
  const v = voters([open])
  const stops: unknown[] = []
  const rpc = w0Holds(v, 't11')
  const counting = {
    ...rpc,
    request: async (peer: string, cmd: { name: string }, payload: unknown, options?: unknown) => {
      if (cmd.name === '$agentmesh/task/stop') { stops.push(payload); return null }
      return await (rpc.request as (...a: unknown[]) => Promise<unknown>)(peer, cmd, payload, options)
    }
  } as unknown as RpcService
  await afterTakeover(counting, v.release, async ({ office, tasks }) => {
    assert.equal((tasks.scheduler.table.get('t11') as TaskRecord).status.status, 'running')
    // The lease lapses while the control is checked (here: when it reads the voters, for who may control the task).
    const voters = office.voters
    office.voters = () => { office.inOffice = false; return voters() }
    const cancel = { command_id: 'c11', type: 'task.control.cancel' as const, task_id: 't11' }
    await assert.rejects(tasks.scheduler.control('self', cancel), (e: { code?: string }) => e.code === 'CRD002')
    assert.equal((tasks.scheduler.table.get('t11') as TaskRecord).status.status, 'running', 'nothing written')
    assert.deepEqual(stops, [], 'and w0 was not told to stop')
    office.voters = voters
    office.inOffice = true
    const again = await tasks.scheduler.control('self', cancel)
    assert.deepEqual([again.type, again.type === 'task.control.ack' ? again.status : undefined], ['task.control.ack', 'cancelled'])
    assert.equal((tasks.scheduler.table.get('t11') as TaskRecord).status.status, 'cancelled')
    assert.equal(stops.length, 1, 'w0 told to stop once')
  })
})

/** The voters of `v`, and agent w0 answering a takeover that it holds attempt 1 of `task`, running: the takeover keeps it there. */
function w0Holds (v: ReturnType<typeof voters>, task: string): RpcService {
  return {
    ...v.rpc,
    request: async (peer: string, cmd: { name: string }, payload: unknown, options?: unknown) => cmd.name === '$agentmesh/task/held' && peer === 'w0'
      ? { tasks: [{ task_id: task, attempt: 1, state: 'running', progress: 0.5 }] }
      : await (v.rpc.request as (...a: unknown[]) => Promise<unknown>)(peer, cmd, payload, options)
  } as unknown as RpcService
}
