/**
 * Tasks run where the credential allows (issue 43): in a closed mesh an agent runs tasks of type T
 * only when its credential grants `task:T` (or `task:*`), and a task may require capabilities
 * that the agent's credential must grant. An insider with a plain `agent` credential cannot take
 * other submitters' tasks: its handler is refused at registration, and a handler it installs
 * anyway (a modified build) is never offered a task, since the coordinator places by the
 * credentials it holds, not by what an agent says it can do. The submitter sees who ran the task:
 * the agent's peer id and its credential's serial.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { PrivateKey } from '@libp2p/interface'
import { AgentMeshError, type AgentNode } from '../../../node/index.js'
import { newOwnerKey } from '../../../protocols/admission/credential.js'
import { runRefusal } from '../../../protocols/task/access.js'
import { closedAgent, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

type Member = Awaited<ReturnType<typeof closedAgent>>

async function member (
  dir: string, mesh: string, owner: PrivateKey, name: string, roles: string[], capabilities: string[], bootstrap?: AgentNode
): Promise<Member> {
  return await closedAgent(dir, mesh, owner, name, { roles, capabilities }, bootstrap !== undefined ? { bootstrapFrom: bootstrap } : {})
}

test('closed mesh: a plain agent credential cannot take tasks; the granted agent runs them all and is named with its serial', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    // The coordinator may coordinate but runs no task; the worker is granted `render`; the insider holds `agent` only.
    const coord = await member(dir, mesh, owner, 'coord', ['agent', 'coordinator'], [])
    const worker = await member(dir, mesh, owner, 'worker', ['agent'], ['task:render'], coord.node)
    const insider = await member(dir, mesh, owner, 'insider', ['agent'], [], coord.node)
    const all = [coord.node, worker.node, insider.node]
    try {
      await waitFor(() => all.every(n => n.peers().length === 2), 'three agents to see each other', 30_000)
      await waitFor(() => all.every(n => n.coordinator().leader === coord.node.peerId && coord.node.coordinator().inOffice), 'coord in office everywhere', 30_000)

      // Refused at registration, saying what grants it (SEC002).
      assert.throws(() => insider.node.onTask('render', () => 'made up'), (e: unknown) =>
        e instanceof AgentMeshError && e.code === 'SEC002' && /task:render/.test(e.message) && /credential issue --capabilities task:render/.test(e.message))
      assert.throws(() => coord.node.onTask('render', () => 'not granted either'), (e: unknown) => e instanceof AgentMeshError && e.code === 'SEC002')
      // A modified build installs its handler anyway, under the service's check: it must get nothing.
      let captured = 0
      insider.node.tasks.executor.onTask('render', () => { captured++; return 'made up' })
      worker.node.onTask('render', (ctx) => `rendered ${ctx.taskId}`)

      const handles = await coord.node.submitTasks(Array.from({ length: 6 }, (_, i) => ({ task_id: `render-${i}`, type: 'render' })))
      for (const h of handles) assert.equal(await h.result(), `rendered ${h.taskId}`)
      assert.equal(captured, 0, 'the insider ran none of the tasks')
      for (const h of handles) {
        const s = await h.status()
        assert.equal(s.agent, worker.node.peerId, `${h.taskId} ran on the worker`)
        assert.equal(s.agent_serial, worker.credential.serial, `${h.taskId} names the worker's credential`)
      }

      // A task requiring a capability nobody's credential grants waits, saying why.
      const gpu = await insider.node.submitTask({ task_id: 'render-gpu', type: 'render', capabilities: ['gpu'] })
      await waitFor(async () => /no live agent is granted task:render, gpu/.test((await gpu.status()).reason ?? ''), 'the gpu task to say why it waits', 15_000)
      assert.equal((await gpu.status()).status, 'submitted')
      await gpu.cancel()
    } finally {
      await stopAll(all)
    }
  })
})

test('the rule itself: closed needs task:<type> or task:*, any mesh needs every capability the spec requires', { timeout: 3 * 60_000 }, () => {
  assert.equal(runRefusal({ type: 'render' }, undefined, true), 'no valid credential of this mesh is held for it')
  assert.match(runRefusal({ type: 'render' }, { capabilities: [] }, true) ?? '', /does not grant task:render/)
  assert.equal(runRefusal({ type: 'render' }, { capabilities: ['task:render'] }, true), undefined)
  assert.equal(runRefusal({ type: 'render' }, { capabilities: ['task:*'] }, true), undefined)
  assert.match(runRefusal({ type: 'render', capabilities: ['gpu', 'fast'] }, { capabilities: ['task:*', 'gpu'] }, true) ?? '', /lacks fast/)
  assert.equal(runRefusal({ type: 'render' }, { capabilities: [] }, false), undefined, 'open: the type needs no grant')
  assert.match(runRefusal({ type: 'render', capabilities: ['gpu'] }, { capabilities: [] }, false) ?? '', /lacks gpu/)
})
