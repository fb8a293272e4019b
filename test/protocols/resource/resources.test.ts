/**
 * The resource protocol through real nodes: allocate, deny, release, status on
 * resources.status.<id>, a dead agent's allocations released, and two tasks competing for one
 * GPU running one after the other.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { AgentNode, TaskContext } from '../../../surfaces/index.js'
import { officeHolder, startMesh, stopAll, waitFor } from '../../helpers.js'

const fast = { preset: 'local' as const, coordination: { bootstrapExpect: 3 } }
// Only n1 has a GPU; every node has two cores, 4 GB of memory and no storage.
const withGpu = (i: number): Record<string, unknown> => ({ ...fast, resources: { cpuCores: 2, memoryGb: 4, storageGb: 0, gpuUnits: i === 1 ? 1 : 0 } })

async function elected (nodes: AgentNode[]): Promise<AgentNode> {
  return await officeHolder(nodes, 'a coordinator followed by all', 20_000)
}

const gpu = { cpu_cores: 0, memory_gb: 0, storage_gb: 0, gpu_units: 1 }

test('resources: allocated or denied with the reason, released, announced on resources.status.<id>; a dead agent\'s allocations are released', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(4, withGpu)
  try {
    const coordinator = await elected(nodes)
    const [n0, n1, n2] = nodes
    const gpuId = `${n1.peerId}/gpu/0`
    const watch = n0.subscribe(`resources.status.${gpuId}`)
    const states: string[] = []
    void (async () => { for await (const m of watch) states.push(`${(m.payload as { state: string }).state}:${String((m.payload as { task_id?: string }).task_id ?? '')}`) })()
    await waitFor(() => coordinator === n0 || coordinator.topicPeers(`resources.status.${gpuId}`).subscribers.includes(n0.peerId), 'the coordinator to see the subscription')

    const a = await n2.allocateResources({ task_id: 'render-a', requirements: gpu })
    assert.equal(a.type, 'resource.allocated')
    assert.ok(a.type === 'resource.allocated' && a.agent === n1.peerId && a.resources[0].resource_id === gpuId, 'the one GPU, on n1')
    // Asking again for the same task is the same allocation, not a second GPU.
    const again = await n2.allocateResources({ task_id: 'render-a', requirements: gpu })
    assert.deepEqual(again, a)

    const b = await n0.allocateResources({ task_id: 'render-b', requirements: gpu })
    assert.equal(b.type, 'resource.denied')
    assert.ok(b.type === 'resource.denied' && b.code === 'CRD003' && /in use/.test(b.reason), JSON.stringify(b))
    // Too big for any agent is denied too, and says so.
    const huge = await n0.allocateResources({ task_id: 'render-c', requirements: { cpu_cores: 64, memory_gb: 0, storage_gb: 0 } })
    assert.ok(huge.type === 'resource.denied' && /too small/.test(huge.reason))
    // Absurd requirements never reach the manager.
    await assert.rejects(n0.allocateResources({ task_id: 'bad', requirements: { cpu_cores: -1, memory_gb: 0, storage_gb: 0 } }), (e: Error & { code?: string }) => e.code === 'MSG001' && /cpu_cores/.test(e.message))
    // Only the holder may release.
    await assert.rejects(n0.releaseResources('render-a'), (e: Error & { code?: string }) => e.code === 'CRD003')

    assert.deepEqual(await n2.releaseResources('render-a'), [gpuId])
    const b2 = await n0.allocateResources({ task_id: 'render-b', requirements: gpu })
    assert.ok(b2.type === 'resource.allocated' && b2.resources[0].resource_id === gpuId)
    await waitFor(() => states.join(' ').includes('allocated:render-a') && states.includes('free:') && states.includes('allocated:render-b'), `status of ${gpuId} on its topic (saw ${states.join(', ')})`)
    assert.ok(states.indexOf('allocated:render-a') < states.indexOf('free:') && states.indexOf('free:') < states.indexOf('allocated:render-b'))
    await n0.releaseResources('render-b')

    // An agent that dies holding resources loses them: it takes a core and 3 of n2's 4 GB.
    const holder = nodes.find(n => n !== coordinator && n !== n2 && n !== n0) as AgentNode
    const mem = await holder.allocateResources({ task_id: 'cache', requirements: { cpu_cores: 1, memory_gb: 3, storage_gb: 0 }, agent: n2.peerId })
    assert.equal(mem.type, 'resource.allocated')
    assert.equal(coordinator.resources.snapshot().agents.find(x => x.agent === n2.peerId)?.free.memory_gb, 1)
    await holder.stop()
    await waitFor(() => !coordinator.resources.snapshot().allocations.some(x => x.task_id === 'cache'), 'the dead agent\'s allocation to be released', 15_000)
    assert.equal(coordinator.resources.snapshot().agents.find(x => x.agent === n2.peerId)?.free.memory_gb, 4)
    watch.unsubscribe()
  } finally {
    await stopAll(nodes)
  }
})

test('resources: two tasks that need the one GPU run one after the other; the second waits with the conflict as its reason', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(3, withGpu)
  try {
    await elected(nodes)
    const log: Array<{ id: string, event: string, by: string, gpu: string[], attempt?: number, at?: number }> = []
    for (const n of nodes) {
      n.onTask('render', async (ctx: TaskContext) => {
        log.push({ id: ctx.taskId, event: 'start', by: n.name, gpu: ctx.resources.filter(r => r.kind === 'gpu').map(r => r.resource_id), attempt: ctx.attempt, at: Date.now() })
        await new Promise(resolve => setTimeout(resolve, 600))
        log.push({ id: ctx.taskId, event: 'end', by: n.name, gpu: [], attempt: ctx.attempt, at: Date.now() })
        return n.name
      })
    }
    const [a, b] = await nodes[2].submitTasks([
      { task_id: 'frame-1', type: 'render', requirements: gpu },
      { task_id: 'frame-2', type: 'render', requirements: gpu }
    ])
    await waitFor(() => log.length >= 1, 'one frame to start')
    await waitFor(() => [a, b].some(h => h.latest?.status === 'submitted' && /CRD003/.test(h.latest.reason ?? '')), 'the other frame to wait on the conflict')
    assert.equal(await a.result(), 'n1')
    assert.equal(await b.result(), 'n1')
    const starts = log.filter(l => l.event === 'start')
    const ends = log.filter(l => l.event === 'end')
    assert.equal(starts.length, 2, `each frame started once: ${JSON.stringify(log.map(l => [l.id, l.event, l.by, l.attempt, l.at]))}`)
    assert.equal(log.indexOf(starts[1]) > log.indexOf(ends[0]), true, 'the second started after the first ended')
    assert.deepEqual(starts.map(s => s.gpu), [[`${nodes[1].peerId}/gpu/0`], [`${nodes[1].peerId}/gpu/0`]], 'each held the GPU, by its id')
  } finally {
    await stopAll(nodes)
  }
})

test('resources: a new manager (the coordinator stopped) rebuilds the table from the running tasks and the agents\' own allocations; nothing is double-booked', { timeout: 3 * 60_000 }, async () => {
  // n1 has the GPU and takes no part in elections, so stopping the coordinator never takes it.
  const nodes = await startMesh(4, (i) => ({ ...withGpu(i), coordination: { ...fast.coordination, eligible: i !== 1 } }))
  try {
    const first = await elected(nodes)
    const gpuAgent = nodes[1]
    const submitter = nodes.find(n => n !== first && n !== gpuAgent) as AgentNode
    // The direct allocation's holder is never the new manager: only asking it can restore it.
    const holder = gpuAgent
    let finish: () => void = () => {}
    const finished = new Promise<void>(resolve => { finish = resolve })
    for (const n of nodes) n.onTask('render', async () => { await finished; return n.name })
    // The GPU held by a running task; 3 of the GPU agent's 4 GB held by that agent directly.
    const h = await submitter.submitTask({ task_id: 'long-render', type: 'render', requirements: gpu })
    await waitFor(() => h.latest?.status === 'running', 'the render to run')
    const cache = await holder.allocateResources({ task_id: 'cache', requirements: { cpu_cores: 0, memory_gb: 3, storage_gb: 0 }, agent: gpuAgent.peerId })
    assert.equal(cache.type, 'resource.allocated')

    await first.stop()
    const running = nodes.filter(n => n !== first)
    const manager = await elected(running)
    // Asked at once, the new manager refuses what the old one gave.
    const other = await submitter.allocateResources({ task_id: 'other-render', requirements: gpu })
    assert.ok(other.type === 'resource.denied' && other.code === 'CRD003', `the GPU is still the running task's: ${JSON.stringify(other)}`)
    const mem = await submitter.allocateResources({ task_id: 'more-cache', requirements: { cpu_cores: 0, memory_gb: 2, storage_gb: 0 }, agent: gpuAgent.peerId })
    assert.equal(mem.type, 'resource.denied', `3 of 4 GB are still held: ${JSON.stringify(mem)}`)
    const table = manager.resources.snapshot()
    assert.deepEqual(table.allocations.map(a => a.task_id).sort(), ['cache', 'long-render'])
    assert.equal(table.allocations.find(a => a.task_id === 'cache')?.holder, holder.peerId)
    assert.deepEqual(table.allocations.find(a => a.task_id === 'long-render')?.resources.map(r => r.resource_id), [`${gpuAgent.peerId}/gpu/0`])
    assert.equal(table.agents.find(a => a.agent === gpuAgent.peerId)?.free.memory_gb, 1)
    assert.equal(table.agents.find(a => a.agent === gpuAgent.peerId)?.free.gpu_units, 0)

    // Once the task ends and the holder releases, the units are free again, once.
    finish()
    assert.equal(await h.result(), gpuAgent.name)
    // The table asked is the one of the coordinator in office now: with two voters left, a
    // loaded host may move the office again, and a node out of office keeps the table it had.
    // (It ran out at 15 s and then 30 s in two CI-local passes, on the manager picked above.)
    const office = (): AgentNode | undefined => running.find(n => n.coordinator().inOffice)
    await waitFor(() => office()?.resources.snapshot().allocations.some(a => a.task_id === 'long-render') === false, 'the render\'s GPU to be freed', 30_000)
      .catch((err: Error) => {
        const who = running.map(n => ({
          name: n.name, inOffice: n.coordinator().inOffice, term: n.coordinator().term, allocations: n.resources.snapshot().allocations.map(a => a.task_id)
        }))
        throw new Error(`${err.message}; manager was ${manager.name}; ${JSON.stringify(who)}; task ${JSON.stringify(h.latest)}`)
      })
    const now = await submitter.allocateResources({ task_id: 'other-render', requirements: gpu })
    assert.ok(now.type === 'resource.allocated' && now.resources[0].resource_id === `${gpuAgent.peerId}/gpu/0`)
    await holder.releaseResources('cache')
    assert.equal(office()?.resources.snapshot().agents.find(a => a.agent === gpuAgent.peerId)?.free.memory_gb, 4)
  } finally {
    await stopAll(nodes)
  }
})
