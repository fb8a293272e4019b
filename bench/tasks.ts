/**
 * npm run bench:tasks [-- --agents 10 --latency 300 --throughput 2000 --bidders 10 --rounds 300 --data-dir DIR --set KEY=VALUE]
 *
 * Ten agent processes on 127.0.0.1 (harness/fixtures/task-agent.ts) run no-op tasks; the
 * submitter is a node in this process that neither votes nor runs tasks.
 * - submit-to-start: one task at a time, from submitTask() to the handler starting in its
 *   agent's process (both clocks are this machine's: performance.timeOrigin + now()).
 * - throughput: tasks submitted in pipelines of 100, 4 pipelines in flight, until every one
 *   completed: tasks/s through submit -> assign -> run -> complete -> submitter told.
 * - --data-dir DIR: each agent keeps its replica of the task table on disk in DIR/w<i> (a
 *   durable put, fsync, before it answers; docs/tasks.md), to measure what the durable table costs.
 * - contract net: the submitter calls for proposals for a task among the agents (they bid for
 *   the task types they run), awards the best, gets its confirmation and rejects the others.
 */
import { benchArgs } from './args.js'
import { fileURLToPath } from 'node:url'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { join } from 'node:path'
import { createAgentNode } from '../surfaces/index.js'
import { configEnv } from './config-env.js'
import { procCpuMs, profileArgs } from './proc-cpu.js'

const { values } = benchArgs({
  options: {
    agents: { type: 'string', default: '10' },
    latency: { type: 'string', default: '300' },
    throughput: { type: 'string', default: '2000' },
    rounds: { type: 'string', default: '300' },
    skip: { type: 'string', default: '' },
    'data-dir': { type: 'string' },
    // Config for the agent processes (bench/config-env.ts).
    set: { type: 'string', multiple: true, default: [] }
  }
})
const AGENT = fileURLToPath(new URL('../harness/fixtures/task-agent.js', import.meta.url))
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const r1 = (x: number): number => Math.round(x * 10) / 10
const skip = new Set(values.skip.split(',').filter(Boolean))
const now = (): number => performance.timeOrigin + performance.now()

const n = Number(values.agents)
const mesh = `taskbench${process.pid}`
const submitter = await createAgentNode({ name: 'submitter', mesh, mdns: false, security: { mode: 'open' }, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'error', coordination: { eligible: false }, monitoring: { metricsIntervalMs: 0 } })
await submitter.start()
const starts = new Map<string, number>()
const debugUrls: string[] = []
/** BENCH_TAIL=1: the coordinator's view of its open tasks, from its /tasks route. */
async function showTable (): Promise<void> {
  for (const u of debugUrls) {
    const t = await (await fetch(`${u}/tasks?limit=5`)).json() as { table: { leading: boolean, term: number, taking_over: boolean, counts: unknown, open: unknown[] } }
    const m = await (await fetch(`${u}/metrics`)).text()
    const lag = (q: string): string => (Number(new RegExp(`^nodejs_eventloop_lag_${q}_seconds (\\S+)`, 'm').exec(m)?.[1] ?? NaN) * 1000).toFixed(0)
    console.log(`  ${u.slice(-5)} loop lag p99 ${lag('p99')} ms max ${lag('max')} ms`)
    if (t.table.leading || t.table.taking_over) console.log(`  ${u} term ${t.table.term}${t.table.taking_over ? ' (taking over)' : ''}: ${JSON.stringify(t.table.counts)} oldest open: ${JSON.stringify(t.table.open)}`)
  }
}
const procs: ChildProcess[] = []
for (let i = 0; i < n; i++) {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  // BENCH_PROFILE=DIR: every agent process writes a CPU profile there.
  const child = spawn(process.execPath, [...profileArgs(), AGENT], {
    env: {
      ...clean,
      AGENTMESH_NAME: `w${i}`,
      AGENTMESH_MESH: mesh,
      AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
      AGENTMESH_BOOTSTRAP: submitter.addresses()[0],
      AGENTMESH_MDNS: 'false',
      AGENTMESH_SECURITY_MODE: 'open',
      AGENTMESH_LOG_LEVEL: 'error',
      AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: String(Math.min(5, n)),
      AGENTMESH_MONITORING_METRICS_INTERVAL_MS: '0',
      ...configEnv(values.set as string[]),
      ...(values['data-dir'] !== undefined ? { AGENTMESH_DATA_DIR: join(values['data-dir'], `w${i}`) } : {}),
      // BENCH_TAIL=1: each agent serves its debug endpoint; a stalled run prints the table.
      ...(process.env.BENCH_TAIL === '1' ? { AGENTMESH_DEBUG: '127.0.0.1:0' } : {})
    },
    stdio: ['ignore', 'pipe', 'inherit']
  })
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try { const o = JSON.parse(l); if (o.event === 'started' && o.debug !== undefined) debugUrls.push(o.debug); if (o.event === 'task' && o.phase === 'start' && !starts.has(o.task_id)) starts.set(o.task_id, o.at) } catch {}
  })
  procs.push(child)
}

try {
  await submitter.joined({ min: n, signal: AbortSignal.timeout(60_000) })
  const { leader } = await submitter.coordinatorElected({ signal: AbortSignal.timeout(60_000) })
  let coordinatorId = leader
  const agents = submitter.peers().map(p => p.peerId)
  // Let every agent see every other before measuring (the coordinator places on live members).
  await new Promise(resolve => setTimeout(resolve, 3_000))
  // A change of coordinator mid-run costs a takeover: say so, it explains a slow figure.
  submitter.addEventListener('coordinator:change', (e) => { coordinatorId = e.detail.leader ?? coordinatorId; console.log(`coordinator change: term ${e.detail.term}, ${submitter.peers().find(p => p.peerId === e.detail.leader)?.name ?? String(e.detail.leader)}`) })
  console.log(`${n} agent processes, coordinator ${submitter.peers().find(p => p.peerId === leader)?.name ?? leader}`)
  const noop = (id: string): { task_id: string, type: string, metadata: { steps: number } } => ({ task_id: id, type: 'work', metadata: { steps: 0 } })
  // Warm-up: connections, streams, JIT.
  const warm = await submitter.submitTasks(Array.from({ length: 50 }, (_, i) => noop(`warm-${i}`)))
  const warming = process.env.BENCH_TAIL === '1' ? setInterval(() => { console.log('warm-up:', warm.filter(h => h.finished).length, 'of 50 done;', JSON.stringify(warm.find(h => !h.finished)?.latest)); void showTable().catch(() => {}) }, 5_000) : undefined
  await Promise.all(warm.map(async h => await h.result()))
  if (warming !== undefined) clearInterval(warming)

  if (!skip.has('latency')) {
    const toDone: number[] = []
    const submittedAt = new Map<string, number>()
    for (let i = 0; i < Number(values.latency); i++) {
      const id = `lat-${i}`
      const t0 = now()
      submittedAt.set(id, t0)
      const h = await submitter.submitTask({ ...noop(id), metadata: { steps: 0, log: true } })
      await h.result()
      toDone.push(now() - t0)
    }
    // The agents' "start" lines come through pipes, sometimes after the result came over the
    // mesh: read them once all are in.
    await new Promise(resolve => setTimeout(resolve, 1_000))
    const toStart = [...submittedAt].flatMap(([id, t0]) => { const s = starts.get(id); return s !== undefined ? [s - t0] : [] })
    console.log(`submit-to-start (one at a time, ${toStart.length}): p50 ${r1(pct(toStart, 0.5))} ms, p99 ${r1(pct(toStart, 0.99))} ms, max ${r1(Math.max(...toStart))} ms`)
    console.log(`submit-to-result (one at a time): p50 ${r1(pct(toDone, 0.5))} ms, p99 ${r1(pct(toDone, 0.99))} ms -> ${r1(1000 / (toDone.reduce((a, b) => a + b, 0) / toDone.length))} tasks/s sequential`)
  }

  if (!skip.has('throughput')) {
    const total = Number(values.throughput)
    const batch = 100
    let next = 0
    const t0 = now()
    // CPU per task: the coordinator's process, every agent process, and this one (the submitter).
    const coordinatorName = submitter.peers().find(p => p.peerId === coordinatorId)?.name ?? ''
    const coordinatorProc = procs[Number(/^w(\d+)$/.exec(coordinatorName)?.[1] ?? -1)]
    const agentsCpu = (): number => procs.reduce((a, p) => a + procCpuMs(p.pid ?? -1), 0)
    const cpu0 = { coordinator: procCpuMs(coordinatorProc?.pid ?? -1), agents: agentsCpu(), submitter: process.cpuUsage() }
    const open: Array<{ latest?: { status: string, reason?: string } }> = []
    // BENCH_TAIL=1: every 5 s, what the tasks in flight wait for.
    const tail = process.env.BENCH_TAIL === '1' ? setInterval(() => {
      const by = new Map<string, number>()
      for (const h of open) { const k = `${h.latest?.status ?? '?'} ${h.latest?.reason ?? ''}`; by.set(k, (by.get(k) ?? 0) + 1) }
      console.log([...by].map(([k, v]) => `${v}x ${k}`).join(' | '))
      void showTable().catch((err: Error) => { console.log(`  /tasks: ${err.message}`) })
    }, 5_000) : undefined
    const lanes = Array.from({ length: 4 }, async () => {
      while (next < total) {
        const from = next
        next += batch
        const hs = await submitter.submitTasks(Array.from({ length: Math.min(batch, total - from) }, (_, i) => noop(`tp-${from + i}`)))
        open.push(...hs)
        await Promise.all(hs.map(async h => await h.result()))
      }
    })
    await Promise.all(lanes)
    if (tail !== undefined) clearInterval(tail)
    const s = (now() - t0) / 1000
    console.log(`throughput: ${total} no-op tasks in ${r1(s)} s = ${Math.round(total / s)} tasks/s (batches of ${batch}, 4 in flight)`)
    const sub = process.cpuUsage(cpu0.submitter)
    const perTask = (ms: number): string => `${Math.round(1000 * ms / total)} µs`
    const coord = procCpuMs(coordinatorProc?.pid ?? -1) - cpu0.coordinator
    const all = agentsCpu() - cpu0.agents
    console.log(`  CPU per task: coordinator's process ${perTask(coord)} (${r1(coord / 1000 / s * 100)}% of a core), all agent processes ${perTask(all)}, submitter ${perTask((sub.user + sub.system) / 1000)}`)
  }

  if (!skip.has('contract-net')) {
    const rounds: number[] = []
    for (let i = 0; i < Number(values.rounds); i++) {
      const t0 = now()
      const r = await submitter.negotiation.contractNet<{ running: number, free_cores: number }>({
        subject: 'task:work', candidates: agents, task: noop(`cnp-${i}`), replyWithinMs: 2_000, score: (p) => -p.running * 10_000 + p.free_cores
      })
      rounds.push(now() - t0)
      if (r.proposals.length !== agents.length) console.log(`round ${i}: ${r.proposals.length} proposals of ${agents.length}`)
    }
    console.log(`contract net, ${agents.length} bidders (cfp, proposals, award, confirmation, rejections): p50 ${r1(pct(rounds, 0.5))} ms, p99 ${r1(pct(rounds, 0.99))} ms over ${rounds.length} rounds`)
  }
} finally {
  for (const p of procs) p.kill('SIGTERM')
  await Promise.all(procs.map(async p => { if (p.exitCode === null) await new Promise(resolve => p.once('exit', resolve)) }))
  await submitter.stop()
}
