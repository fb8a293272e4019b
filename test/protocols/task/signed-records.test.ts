/**
 * Coordinator-signed task records (issue 13; protocols/task/record-seal.ts, record-check.ts,
 * term-proofs.ts), through real nodes: a voter holds altered copies of running tasks' records
 * (completed, with a made-up result, at a version that wins any merge by version), kept with the
 * coordinator's old signature, re-signed by a key that never led the term, or with the signature
 * stripped; the coordinator is stopped; whichever voter takes office does not adopt them, and
 * every task runs to its true end.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { TaskService, type TaskRecord } from '../../../protocols/task/index.js'
import { RecordSealer, recordSignatureVerifies } from '../../../protocols/task/record-seal.js'
import type { AgentNode, TaskContext } from '../../../surfaces/index.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'

const local = { preset: 'local' as const, security: { mode: 'open' as const }, coordination: { bootstrapExpect: 3 } }
const tasksOf = (n: AgentNode): TaskService => n.services.find((s): s is TaskService => s instanceof TaskService) as TaskService

async function elected (nodes: AgentNode[]): Promise<AgentNode> {
  const leader = (): AgentNode | undefined => nodes.find(x => x.coordinator().inOffice)
  await waitFor(() => nodes.filter(n => n.coordinator().inOffice).length === 1 && nodes.every(n => n.coordinator().leader === leader()?.peerId),
    'a coordinator followed by all', 30_000)
  return leader() as AgentNode
}

test('a voter\'s altered task states are not adopted by the coordinator that takes over; the tasks run to their true end', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, (i) => ({ ...local, coordination: { ...local.coordination, eligible: i < 3 } }))
  try {
    const coordinator = await elected(nodes)
    const submitter = nodes[3]
    let release = (): void => {}
    const gate = new Promise<void>(resolve => { release = resolve })
    for (const n of nodes.slice(0, 3)) n.onTask('work', async (ctx: TaskContext) => { await gate; return `true ${ctx.taskId}` })
    const ids = ['kept-signature', 'other-signer', 'stripped']
    const refused: string[] = []
    for (const n of nodes.slice(0, 3)) {
      // Each refusal names its task (the log line's task_id): the fault campaign's SEC004 lines named none.
      tasksOf(n).addEventListener('rejected', (e) => {
        if (e.detail.message === 'task-record') refused.push(`${n.peerId}:${e.detail.reason}${ids.includes(e.detail.taskId ?? '') ? '' : ' without its task'}`)
      })
    }
    const handles = await submitter.submitTasks(ids.map(id => ({ task_id: id, type: 'work' })))

    // Every record a voter holds carries the coordinator's signature, which verifies.
    const voter = nodes.slice(0, 3).find(n => n !== coordinator) as AgentNode
    const table = tasksOf(voter).scheduler.table
    await waitFor(() => ids.every(id => table.get(id)?.status.status === 'running'), 'the voter to hold the three tasks running', 20_000)
    for (const id of ids) {
      const r = table.get(id) as TaskRecord
      assert.equal(r.signature?.by, coordinator.peerId)
      assert.ok(recordSignatureVerifies(voter.config.mesh, r), `${id}: the coordinator's signature verifies`)
    }

    // The voter's copies say the tasks completed with a made-up result, at versions that win any merge by version.
    const forged = (r: TaskRecord): TaskRecord => ({
      ...structuredClone(r),
      version: r.version + 1000,
      status: { ...r.status, status: 'completed', progress: 1, result: 'made up', timestamp: new Date().toISOString() }
    })
    const stranger = await generateKeyPair('Ed25519')
    const other = new RecordSealer(peerIdFromPrivateKey(stranger).toString(), voter.config.mesh, stranger)
    table.records.set('kept-signature', forged(table.get('kept-signature') as TaskRecord))
    table.records.set('other-signer', other.seal(forged(table.get('other-signer') as TaskRecord)))
    const { signature: _s, ...stripped } = forged(table.get('stripped') as TaskRecord)
    table.records.set('stripped', stripped)

    await coordinator.stop()
    const rest = nodes.filter(n => n !== coordinator)
    const next = await elected(rest)
    await waitFor(() => !tasksOf(next).scheduler.snapshot(1).taking_over && tasksOf(next).scheduler.snapshot(1).leading, 'the takeover to end', 30_000)
    const now = tasksOf(next).scheduler.table
    for (const id of ids) {
      assert.notEqual(now.get(id)?.status.status, 'completed', `${id}: the altered end is not adopted`)
      assert.notEqual(now.get(id)?.status.result, 'made up')
    }
    // Refused by the reader, counted as SEC004: all three when the altered voter is another;
    // two when it took office itself (its own unsigned copy is taken, then loses to the other's signed one).
    assert.ok(refused.length >= 2 && refused.every(r => r === `${next.peerId}:SEC004`), refused.join(', '))

    release()
    for (const h of handles) assert.equal(await h.result(), `true ${h.taskId}`)
    for (const id of ids) {
      assert.equal(now.get(id)?.status.status, 'completed')
      assert.equal(now.get(id)?.status.result, `true ${id}`)
    }
  } finally {
    await stopAll(nodes)
  }
})
