/**
 * Signed envelopes (issue 13, "signed messages"): what an envelope signature proves and what
 * breaks it, with real Ed25519 identities; then task submissions through real nodes: an unsigned
 * or forged submission is refused with SEC004, and a voter whose stored records were altered
 * (input, submitter) or invented does not get them run by the coordinator that takes over.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { decodeEnvelope, encodeEnvelope, makeEnvelope, signEnvelope, verifyEnvelope, hasValidSignature, frameJson, type Envelope } from '../../../protocols/envelope/index.js'
import { AgentMeshError, BadSignatureError, ValidationError } from '../../../protocols/core/errors.js'
import { SubmissionCheck, SubmitCommand, TaskService, TaskSpec, signSubmission, type TaskRecord } from '../../../protocols/task/index.js'
import type { AuditEvent } from '../../../protocols/core/audit.js'
import type { AgentNode, TaskContext } from '../../../surfaces/index.js'
import { askInOffice, startMesh, stopAll, waitFor } from '../../helpers.js'

async function identity (): Promise<{ key: PrivateKey, peer: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, peer: peerIdFromPrivateKey(key).toString() }
}

const sec004 = (e: Error): boolean => e instanceof BadSignatureError && e.code === 'SEC004'

test('a signed envelope verifies after encoding, decoding and reordering, and not after any change', { timeout: 3 * 60_000 }, async () => {
  const a = await identity()
  const b = await identity()
  const env = signEnvelope(makeEnvelope({ source: a.peer, destination: { topic: 't' }, type: 'EVENT', subject: 's', payload: { x: 1, nested: { b: [1, 'é', null], a: true } }, headers: { k: 'v' } }), a.key)
  assert.match(env.signature ?? '', /^[A-Za-z0-9_-]{86}$/, 'an Ed25519 signature, base64url')
  const back = decodeEnvelope(encodeEnvelope(env), 1 << 20)
  assert.equal(verifyEnvelope(back), back)
  // Another node's JSON may order the keys differently: the canonical encoding does not care.
  const reordered = JSON.parse(JSON.stringify(Object.fromEntries(Object.entries(back).reverse()))) as Envelope
  reordered.payload = { nested: { a: true, b: [1, 'é', null] }, x: 1 }
  assert.ok(hasValidSignature(reordered))

  const changed: Array<[string, Envelope]> = [
    ['payload', { ...env, payload: { x: 2, nested: { b: [1, 'é', null], a: true } } }],
    ['nested payload', { ...env, payload: { x: 1, nested: { b: [1, 'é'], a: true } } }],
    ['source', { ...env, source: b.peer }],
    ['timestamp', { ...env, timestamp: env.timestamp + 1 }],
    ['headers', { ...env, headers: { k: 'w' } }],
    ['an optional field added', { ...env, ttl: 1000 }],
    ['subject', { ...env, subject: 'other' }]
  ]
  for (const [what, e] of changed) assert.throws(() => verifyEnvelope(e), sec004, what)
  // Signed by another key than the source's, or not signed at all.
  const byB = signEnvelope({ ...env, signature: undefined }, b.key)
  assert.throws(() => verifyEnvelope({ ...byB, source: a.peer }), sec004)
  const { signature: _s, ...unsigned } = env
  assert.throws(() => verifyEnvelope(unsigned), (e: Error) => sec004(e) && /must be signed/.test(e.message))
  // A source whose peer id is no key at all.
  assert.throws(() => verifyEnvelope({ ...env, source: 'not-a-peer-id' }), sec004)
})

test('unsigned envelopes decode as before; a malformed or oversized signature is MSG001', { timeout: 3 * 60_000 }, async () => {
  const a = await identity()
  const plain = makeEnvelope({ source: a.peer, destination: { peer: a.peer }, type: 'REQUEST', subject: 's', payload: null })
  assert.deepEqual(decodeEnvelope(encodeEnvelope(plain), 1 << 20), plain)
  for (const signature of ['not base64url!', 'A'.repeat(129), '']) {
    assert.throws(() => decodeEnvelope(frameJson(JSON.stringify({ ...plain, signature })), 1 << 20), ValidationError)
  }
})

function record (spec: TaskSpec, submitter: string, submission?: TaskRecord['submission']): TaskRecord {
  return {
    spec,
    submitter,
    submitted_at: 1,
    version: 1,
    losses: 0,
    status: { task_id: spec.task_id, status: 'submitted', progress: 0, metrics: {}, timestamp: new Date(1).toISOString(), attempt: 0 },
    ...(submission !== undefined ? { submission } : {})
  }
}

test('a record is acted on only if its submitter signed its spec; each refusal is counted and audited', { timeout: 3 * 60_000 }, async () => {
  const a = await identity()
  const b = await identity()
  const spec = TaskSpec.parse({ task_id: 't1', type: 'work', metadata: { input: 'honest' } })
  const proof = signSubmission(spec, a.peer, a.key)
  const audit: AuditEvent[] = []
  const reported: string[] = []
  const check = new SubmissionCheck((from, message) => { reported.push(`${from}:${message}`) }, { record: (e) => { audit.push(e) } })
  assert.ok(check.accepts(record(spec, a.peer, proof), 'v1'))
  assert.ok(check.accepts(JSON.parse(JSON.stringify(record(spec, a.peer, proof))), 'v2'), 'the same record from another voter')
  const refused = [
    record({ ...spec, metadata: { input: 'evil' } }, a.peer, proof),
    record(spec, b.peer, proof),
    record({ ...spec, task_id: 't2' }, a.peer, proof),
    record(spec, a.peer),
    record(spec, a.peer, { ...proof, timestamp: proof.timestamp + 1 })
  ]
  for (const r of refused) assert.equal(check.accepts(r, 'v1'), false, JSON.stringify(r.spec))
  assert.equal(check.refused, refused.length)
  assert.equal(reported.length, refused.length)
  assert.ok(reported.every(r => r === 'v1:task-record'))
  assert.equal(audit.length, refused.length)
  assert.deepEqual(audit[0].kind, 'signature.refused')
  assert.equal(audit[0].code, 'SEC004')
  assert.equal(audit[0].detail?.task_id, 't1')
  // At submit: signed by the authenticated peer, one signature per task.
  assert.throws(() => { check.submissions(b.peer, [spec], [proof]) }, sec004)
  assert.throws(() => { check.submissions(a.peer, [spec], undefined) }, sec004)
  check.submissions(a.peer, [spec], [proof])
  assert.equal(audit.at(-1)?.detail?.what, 'task-submit')
})

const local = { preset: 'local' as const, security: { mode: 'open' as const }, coordination: { bootstrapExpect: 3 } }
const tasksOf = (n: AgentNode): TaskService => n.services.find((s): s is TaskService => s instanceof TaskService) as TaskService
const code = (want: string) => (e: Error) => e instanceof AgentMeshError && e.code === want

async function elected (nodes: AgentNode[]): Promise<AgentNode> {
  const leader = (): AgentNode | undefined => nodes.find(x => x.coordinator().inOffice)
  await waitFor(() => nodes.filter(n => n.coordinator().inOffice).length === 1 && nodes.every(n => n.coordinator().leader === leader()?.peerId),
    'a coordinator followed by all', 20_000)
  return leader() as AgentNode
}

test('a voter\'s altered or invented task records are not run by the coordinator that takes over', { timeout: 3 * 60_000 }, async () => {
  // Three voters and a submitter that takes no part in elections.
  const nodes = await startMesh(4, (i) => ({ ...local, coordination: { ...local.coordination, eligible: i < 3 } }))
  try {
    const coordinator = await elected(nodes)
    const submitter = nodes[3]
    const ran: Array<{ task: string, input: unknown }> = []
    for (const n of nodes.slice(0, 3)) {
      n.onTask('work', (ctx: TaskContext) => { ran.push({ task: ctx.taskId, input: ctx.task.metadata.input }); return ctx.task.metadata.input })
    }
    const refusedRecords: string[] = []
    for (const n of nodes.slice(0, 3)) {
      tasksOf(n).addEventListener('rejected', (e) => { if (e.detail.message === 'task-record') refusedRecords.push(`${n.peerId}:${e.detail.reason}`) })
    }
    const handles = await submitter.submitTasks([
      { task_id: 'input', type: 'work', metadata: { input: 'honest' } },
      { task_id: 'submitter', type: 'work', metadata: { input: 'honest' } }
    ])
    for (const h of handles) assert.equal(await h.result(), 'honest')

    // Unsigned, and signed for another spec: refused at submit, before any record.
    const spec = TaskSpec.parse({ task_id: 'forged', type: 'work', metadata: { input: 'evil' } })
    // Asked of whoever holds office (askInOffice): under load a lease can lapse between finding the
    // coordinator and asking it, and its CRD002 would say nothing of the signature.
    await assert.rejects(askInOffice(nodes, n => submitter.request(n.peerId, SubmitCommand, { tasks: [spec] })), code('SEC004'))
    const other = await identity()
    const wrong = signSubmission(spec, other.peer, other.key)
    await assert.rejects(askInOffice(nodes, n => submitter.request(n.peerId, SubmitCommand, { tasks: [spec], signed: [wrong] })), code('SEC004'))
    assert.equal(tasksOf(coordinator).scheduler.table.get('forged'), undefined)

    // A voter alters its replicas: another input, another submitter, both as if never run, and
    // with versions that win any merge; and it invents a task with a borrowed signature.
    const voter = nodes.slice(0, 3).find(n => n !== coordinator) as AgentNode
    const table = tasksOf(voter).scheduler.table
    await waitFor(() => ['input', 'submitter'].every(id => table.get(id)?.status.status === 'completed'), 'the voter to hold both completed records')
    const again = (r: TaskRecord, change: Partial<TaskRecord>): TaskRecord => {
      const copy = structuredClone(r)
      const spec = change.spec ?? copy.spec
      return { ...copy, ...change, version: r.version + 1000, status: { task_id: spec.task_id, status: 'submitted', progress: 0, metrics: {}, timestamp: new Date().toISOString(), attempt: 0 } }
    }
    const byInput = table.get('input') as TaskRecord
    const bySubmitter = table.get('submitter') as TaskRecord
    table.records.set('input', again(byInput, { spec: { ...byInput.spec, metadata: { input: 'evil' } } }))
    table.records.set('submitter', again(bySubmitter, { submitter: voter.peerId }))
    table.records.set('invented', again(byInput, { spec: { ...byInput.spec, task_id: 'invented', metadata: { input: 'invented' } } }))

    // The coordinator goes; one of the two left takes office and reads the other's records.
    await coordinator.stop()
    const rest = nodes.filter(n => n !== coordinator)
    const next = await elected(rest)
    // Placement after the takeover: a new task runs, and the altered ones (older) did not before it.
    const after = await submitter.submitTask({ task_id: 'after', type: 'work', metadata: { input: 'honest' } })
    assert.equal(await after.result(), 'honest')
    assert.deepEqual(ran.filter(r => r.input !== 'honest'), [], 'no altered or invented input ran')
    assert.deepEqual(ran.map(r => r.task).sort(), ['after', 'input', 'submitter'])
    assert.equal(refusedRecords.length, 3, refusedRecords.join(', '))
    assert.ok(refusedRecords.every(r => r.startsWith(next.peerId) && r.endsWith(':SEC004')), refusedRecords.join(', '))
    const now = tasksOf(next).scheduler.table
    assert.equal(now.get('invented'), undefined)
    assert.equal(now.get('input')?.status.status, 'completed')
    assert.equal(now.get('input')?.spec.metadata.input, 'honest')
    assert.equal(now.get('submitter')?.submitter, submitter.peerId)
  } finally {
    await stopAll(nodes)
  }
})
