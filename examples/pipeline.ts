// A submitter that sends a pipeline of dependent tasks and watches it run. It starts three
// task workers (examples/task-worker.ts) as their own processes, joins them, and submits:
//
//   fetch ──> square ──┐
//        └──> keep-even ┴──> sum
//
// Each task starts only when the tasks it depends on completed, and gets their results.
//   node dist/examples/pipeline.js
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createAgentNode, type TaskHandle } from 'agentmesh'

const WORKER = fileURLToPath(new URL('./task-worker.js', import.meta.url))

export async function main (): Promise<void> {
  const mesh = `pipeline-${process.pid}`
  // The submitter takes no part in elections and runs no tasks: the workers coordinate.
  // Open, it and its workers (AGENTMESH_SECURITY_MODE below): one program's processes on one host,
  // and nodes are closed by default. A real mesh is closed: README "Security", examples/local-mesh.ts.
  const me = await createAgentNode({ name: 'submitter', mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'warn', coordination: { eligible: false }, security: { mode: 'open' } })
  await me.start()
  const workers: ChildProcess[] = []
  try {
    for (let i = 1; i <= 3; i++) {
      const w = spawn(process.execPath, [WORKER, '--name', `worker-${i}`, '--bootstrap', me.addresses()[0]], {
        env: { ...process.env, AGENTMESH_MESH: mesh, AGENTMESH_MDNS: 'false', AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0', AGENTMESH_LOG_LEVEL: 'warn', AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '3', AGENTMESH_SECURITY_MODE: 'open' },
        stdio: ['ignore', 'pipe', 'inherit']
      })
      createInterface({ input: w.stdout! }).on('line', (l) => { if (!l.startsWith('{')) console.log(`  ${l}`) })
      workers.push(w)
    }
    await me.joined({ min: 3, signal: AbortSignal.timeout(20_000) })
    const { leader, term } = await me.coordinatorElected({ signal: AbortSignal.timeout(20_000) })
    console.log(`coordinator: ${me.peers().find(p => p.peerId === leader)?.name ?? leader} (term ${term})`)

    const handles: TaskHandle[] = await me.submitTasks([
      { task_id: 'fetch', type: 'step', metadata: { op: 'fetch' } },
      { task_id: 'square', type: 'step', metadata: { op: 'square' }, dependencies: ['fetch'] },
      { task_id: 'keep-even', type: 'step', metadata: { op: 'keep-even' }, dependencies: ['fetch'] },
      { task_id: 'sum', type: 'step', metadata: { op: 'sum' }, dependencies: ['square', 'keep-even'] }
    ])
    console.log(`submitted ${handles.length} tasks`)
    // Watch every task's status changes as they happen.
    const names = new Map(me.peers().map(p => [p.peerId, p.name]))
    await Promise.all(handles.map(async h => {
      for await (const s of h.updates()) {
        if (s.status === 'running' && s.progress > 0 && s.progress < 1) continue
        console.log(`${h.taskId.padEnd(10)} ${s.status}${s.agent !== undefined ? ` on ${names.get(s.agent) ?? s.agent}` : ''}${s.reason !== undefined ? ` (${s.reason})` : ''}`)
      }
    }))
    const [total] = await handles[3].result() as number[]
    console.log(`pipeline result: ${total}`)
  } finally {
    for (const w of workers) w.kill('SIGTERM')
    await Promise.all(workers.map(async w => { if (w.exitCode === null) await new Promise(resolve => w.once('exit', resolve)) }))
    await me.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
