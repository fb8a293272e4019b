/**
 * Every refusal on record (issue 43): a walk over the refusal codes a peer can cause in a closed
 * mesh, each caused for real by an insider (a valid credential with the role `agent` and no
 * capabilities) or a stranger (no credential), each checked for its audit line on the node that
 * refused: the kind, the code, the peer, and the id of the request that was refused.
 *
 * The insider speaks raw rpc frames (as any peer can), so the test chooses each request's id and
 * the wire answer is what it checks; nothing is refused on the sending side first.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { createAgentNode, RPC_PROTOCOL, type AgentNode, type TaskContext } from '../../surfaces/index.js'
import { AuditLog, type AuditEntry } from '../../node/audit.js'
import { newOwnerKey } from '../../protocols/admission/credential.js'
import { decodeEnvelope, encodeEnvelope, makeEnvelope, type Envelope } from '../../protocols/envelope/index.js'
import { encodeLength, FrameDecoder, joinFrames } from '../../protocols/rpc/frames.js'
import { ControlCommand, RecordsCommand, ReportCommand, StopCommand, SubmitCommand } from '../../protocols/task/index.js'
import { closedAgent, nodeOptions, officeHolder, stopAll, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const auditOf = (node: AgentNode): AuditLog => node.services.find(s => s instanceof AuditLog) as AuditLog

/** One raw rpc stream: frames out as given, answers decoded as they come. */
async function rawStream (from: AgentNode, to: AgentNode): Promise<{ send: (frames: Uint8Array[]) => void, answers: Envelope[], close: () => void }> {
  const stream = await from.libp2p.dialProtocol(to.libp2p.peerId, RPC_PROTOCOL)
  const decoder = new FrameDecoder(1 << 20)
  const answers: Envelope[] = []
  stream.addEventListener('message', (e) => { for (const f of decoder.push(e.data)) answers.push(decodeEnvelope(f, 1 << 20)) })
  return { send: (frames) => { stream.send(joinFrames(frames)) }, answers, close: () => { stream.abort(new Error('done')) } }
}

function requestFrame (from: AgentNode, to: AgentNode, id: string, subject: string, payload: unknown, patch: Partial<Envelope> = {}): Uint8Array {
  return encodeEnvelope({ ...makeEnvelope({ source: from.peerId, destination: { peer: to.peerId }, type: 'REQUEST', subject, payload }), id, ...patch })
}

test('every refusal code a peer can cause leaves an audit line with the peer and the request id', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const nodes: AgentNode[] = []
    const coordination = { bootstrapExpect: 2, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
    try {
      const runner = { roles: ['agent', 'coordinator'], capabilities: ['task:*'] }
      const a0 = (await closedAgent(dir, mesh, owner, 'a0', runner, { coordination, rpc: { requestsPerSec: 50, floodSeconds: 60 } })).node
      nodes.push(a0)
      const a1 = (await closedAgent(dir, mesh, owner, 'a1', runner, { coordination, bootstrapFrom: a0 })).node
      nodes.push(a1)
      const insider = (await closedAgent(dir, mesh, owner, 'insider', { roles: ['agent'] }, { coordination: { ...coordination, eligible: false }, bootstrapFrom: a0 })).node
      nodes.push(insider)
      await waitFor(() => nodes.every(n => n.peers().length === 2), 'the three agents to admit each other', 20_000)
      const leader = await officeHolder(nodes, 'a coordinator followed by all', 20_000)
      const voter = leader === a0 ? a1 : a0

      const walked = new Map<string, string>()
      const audited = async (on: AgentNode, want: { kind: string, code: string, peer: string, correlationId?: string }): Promise<void> => {
        const match = (e: AuditEntry): boolean => e.kind === want.kind && e.code === want.code && e.peer === want.peer &&
          (want.correlationId === undefined || e.correlationId === want.correlationId)
        await waitFor(() => auditOf(on).recent({ limit: 1_000 }).some(match), `${want.code} audited as ${want.kind} on ${on.name}`, 10_000)
        walked.set(want.code, want.kind)
      }
      /** The insider's request on a fresh raw stream; resolves to the answer's error code. */
      const refusedCode = async (to: AgentNode, id: string, subject: string, payload: unknown, patch: Partial<Envelope> = {}): Promise<string | undefined> => {
        const raw = await rawStream(insider, to)
        try {
          raw.send([requestFrame(insider, to, id, subject, payload, patch)])
          await waitFor(() => raw.answers.length > 0, `an answer to ${subject}`, 10_000)
          return raw.answers[0].error?.code
        } finally { raw.close() }
      }

      // SEC001: a stranger's request, before (and without) admission.
      const stranger = await createAgentNode(nodeOptions(mesh, { name: 'stranger', preset: 'local', security: { mode: 'open' } }))
      nodes.push(stranger)
      await stranger.start()
      await stranger.dial(a0.addresses()[0])
      await assert.rejects(stranger.request(a0.peerId, 'echo', 'hello'))
      await audited(a0, { kind: 'admission.refused', code: 'SEC001', peer: stranger.peerId })
      await stranger.stop()

      // SEC002: a command allowed to a role the insider does not hold.
      a0.handle('deploy', () => ({ ok: true }), { allow: { roles: ['ops'] } })
      assert.equal(await refusedCode(a0, 'r-sec002', 'deploy', {}), 'SEC002')
      await audited(a0, { kind: 'command.forbidden', code: 'SEC002', peer: insider.peerId, correlationId: 'r-sec002' })

      // SEC004: a submission without the submitter's signature.
      assert.equal(await refusedCode(leader, 'r-sec004', SubmitCommand.name, { tasks: [{ task_id: 'unsigned', type: 'work' }] }), 'SEC004')
      await audited(leader, { kind: 'signature.refused', code: 'SEC004', peer: insider.peerId })

      // A task of a0's, running on a0 or a1 (the insider has no grant to run it).
      for (const n of [a0, a1]) n.onTask('work', async (ctx: TaskContext) => await new Promise((resolve) => { ctx.signal.addEventListener('abort', resolve, { once: true }) }))
      const h = await a0.submitTask({ task_id: `t-${randomUUID()}`, type: 'work' })
      await waitFor(() => h.latest?.status === 'running', 'the task to run', 20_000)
      const { agent: holder, attempt } = h.latest as { agent: string, attempt: number }
      const worker = nodes.find(n => n.peerId === holder) as AgentNode
      const term = leader.coordinator().term

      // TSK007: a control of a task the insider is no party to (answered as a reject, not an error).
      const raw = await rawStream(insider, leader)
      raw.send([requestFrame(insider, leader, 'r-tsk007', ControlCommand.name, { command_id: 'c1', type: 'task.control.cancel', task_id: h.taskId })])
      await waitFor(() => raw.answers.length > 0, 'the control\'s answer')
      raw.close()
      assert.equal((raw.answers[0].payload as { code?: string }).code, 'TSK007')
      await audited(leader, { kind: 'task.control.refused', code: 'TSK007', peer: insider.peerId, correlationId: 'r-tsk007' })

      // TSK004: a forged completion of an attempt another agent holds.
      const report = { task_id: h.taskId, attempt, status: 'completed', progress: 1, metrics: {}, result: 'made up' }
      assert.equal(await refusedCode(leader, 'r-tsk004', ReportCommand.name, report), 'TSK004')
      await audited(leader, { kind: 'task.report.refused', code: 'TSK004', peer: insider.peerId, correlationId: 'r-tsk004' })

      // CRD001 and CRD002: the worker told to stop by a peer that is not its coordinator, in an
      // old term and in the current one.
      assert.equal(await refusedCode(worker, 'r-crd001', StopCommand.name, { term: 0, task_id: h.taskId, attempt, why: 'cancel' }), 'CRD001')
      await audited(worker, { kind: 'task.control.refused', code: 'CRD001', peer: insider.peerId, correlationId: 'r-crd001' })
      assert.equal(await refusedCode(worker, 'r-crd002', StopCommand.name, { term, task_id: h.taskId, attempt, why: 'cancel' }), 'CRD002')
      await audited(worker, { kind: 'task.control.refused', code: 'CRD002', peer: insider.peerId, correlationId: 'r-crd002' })
      // CRD002 on a read: every task record with its result, asked of a voter by a non-voter.
      assert.equal(await refusedCode(voter, 'r-records', RecordsCommand.name, { term, offset: 0, limit: 10 }), 'CRD002')
      await audited(voter, { kind: 'task.read.refused', code: 'CRD002', peer: insider.peerId, correlationId: 'r-records' })
      assert.equal((await h.status()).status, 'running', 'none of it touched the task')

      // MSG001: an envelope naming another agent as its source, and a payload its command's schema refuses.
      assert.equal(await refusedCode(a0, 'r-source', 'echo', 'hi', { source: a1.peerId }), 'MSG001')
      await audited(a0, { kind: 'message.refused', code: 'MSG001', peer: insider.peerId, correlationId: 'r-source' })
      assert.equal(await refusedCode(leader, 'r-schema', ControlCommand.name, { what: 'ever' }), 'MSG001')
      await audited(leader, { kind: 'message.refused', code: 'MSG001', peer: insider.peerId, correlationId: 'r-schema' })

      // MSG002: a frame of a wire version this node does not speak.
      const unknownVersion = requestFrame(insider, a1, 'r-msg002', 'echo', 'hi')
      unknownVersion[0] = 0x09
      const raw2 = await rawStream(insider, a1)
      raw2.send([unknownVersion])
      await waitFor(() => raw2.answers.length > 0, 'an answer to the unknown version')
      raw2.close()
      assert.equal(raw2.answers[0].error?.code, 'MSG002')
      await audited(a1, { kind: 'message.refused', code: 'MSG002', peer: insider.peerId })
      // ... and a length prefix over the limit: the stream is ended, the refusal kept.
      const raw3 = await rawStream(insider, a1)
      raw3.send([Uint8Array.from([...encodeLength(a1.config.maxMessageBytes + 1), 1, 2, 3])])
      await waitFor(() => raw3.answers.length > 0, 'an answer to the oversized frame')
      raw3.close()
      assert.equal(raw3.answers[0].error?.code, 'MSG002')

      // CMD001: a command nobody handles.
      assert.equal(await refusedCode(a0, 'r-cmd001', 'no-such-command', {}), 'CMD001')
      await audited(a0, { kind: 'message.refused', code: 'CMD001', peer: insider.peerId, correlationId: 'r-cmd001' })

      // RATE001: requests over a0's per-peer limit (50/s, a second's worth as burst), in one burst
      // of 600. At 200/s a0 on a loaded host read the 600 more slowly than its bucket refilled, and
      // refused none in 20 s (the loop, load 8): the limit must sit below what a0 can serve.
      const flood = await rawStream(insider, a0)
      flood.send(Array.from({ length: 600 }, (_, i) => requestFrame(insider, a0, `flood-${i}`, 'no-such-command', {})))
      await waitFor(() => flood.answers.some(a => a.error?.code === 'RATE001'), 'a RATE001 answer', 20_000)
      flood.close()
      await audited(a0, { kind: 'limit.exceeded', code: 'RATE001', peer: insider.peerId })

      assert.deepEqual([...walked.keys()].sort(), ['CMD001', 'CRD001', 'CRD002', 'MSG001', 'MSG002', 'RATE001', 'SEC001', 'SEC002', 'SEC004', 'TSK004', 'TSK007'])
    } finally {
      await stopAll(nodes)
    }
  })
})
