/**
 * npm run bench:coordination [-- --kills 20 --agents 5 --rounds 2000 --round-agents 10 --set KEY=VALUE]
 *
 * Fail-over: agents as processes on 127.0.0.1, each with its identity and election state on
 * disk (as a container restarted with its volume). The coordinator is killed (SIGKILL); the
 * time from the kill to the moment a successor takes office (its own clock: one machine) is one
 * sample; the killed agent is restarted and rejoins before the next kill.
 *
 * Coordination round: one coordinator and `round-agents` agents, nodes in one process: a status
 * request to every agent, then one directive and its acknowledgement. Sequential rounds give the
 * latency (p50/p99), eight rounds at a time the throughput (rounds/s).
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { benchArgs } from './args.js'
import { fileURLToPath } from 'node:url'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import { configEnv } from './config-env.js'
import { procCpuMs, profileArgs } from './proc-cpu.js'

const { values } = benchArgs({
  options: {
    kills: { type: 'string', default: '20' },
    agents: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '2000' },
    'round-agents': { type: 'string', default: '10' },
    skip: { type: 'string', default: '' },
    'in-process': { type: 'boolean', default: false },
    // Config for the fail-over's agent processes (bench/config-env.ts).
    set: { type: 'string', multiple: true, default: [] }
  }
})
const extraEnv = configEnv(values.set as string[])
const inProcess = values['in-process']
const AGENT = fileURLToPath(new URL('../harness/fixtures/netns-agent.js', import.meta.url))
const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }
const pct = (xs: number[], p: number): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.min(s.length - 1, Math.floor(p * s.length))] }
const r1 = (x: number): number => Math.round(x * 10) / 10

// --- fail-over ----------------------------------------------------------------------------

interface Proc { child: ChildProcess, events: any[], peerId: string }

function startProc (i: number, dir: string, ports: number[]): Proc {
  return spawnAgent({
    AGENTMESH_NAME: `a${i}`,
    AGENTMESH_MESH: `failover${process.pid}`,
    AGENTMESH_IDENTITY: join(dir, `a${i}.key`),
    AGENTMESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
    AGENTMESH_BOOTSTRAP: ports.filter((_, j) => j !== i).map(p => `/ip4/127.0.0.1/tcp/${p}`).join(','),
    AGENTMESH_MDNS: 'false',
    AGENTMESH_SECURITY_MODE: 'open',
    AGENTMESH_LOG_LEVEL: 'error',
    AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: String(ports.length),
    ...extraEnv
  })
}

/** An agent process (the test fixture), its events collected from stdout. */
function spawnAgent (env: Record<string, string>): Proc {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  // BENCH_PROFILE=DIR: every agent process writes a CPU profile there.
  const child = spawn(process.execPath, [...profileArgs(), AGENT], { env: { ...clean, ...env }, stdio: ['pipe', 'pipe', 'inherit'] })
  const p: Proc = { child, events: [], peerId: '' }
  createInterface({ input: child.stdout! }).on('line', (l) => {
    try {
      const o = JSON.parse(l)
      if (o.event === 'started') p.peerId = o.peerId
      if (o.event !== undefined) p.events.push(o)
    } catch {}
  })
  return p
}

async function until (check: () => boolean, what: string, ms = 30_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await sleep(5)
  }
}

/** The agent that most recently announced it took office, with the time it did. */
function latestLeader (procs: Proc[]): { proc: Proc, at: number, term: number } | undefined {
  let best: { proc: Proc, at: number, term: number } | undefined
  for (const p of procs) {
    for (const e of p.events) {
      if (e.event === 'coordinator' && e.self === true && (best === undefined || e.term > best.term)) best = { proc: p, at: e.at, term: e.term }
    }
  }
  return best
}

async function failover (kills: number, n: number): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'am-failover-'))
  // Fixed ports (a restarted agent listens where the others' bootstrap lists say), below Linux's
  // ephemeral range (32768-60999 by default), where an outgoing connection could hold one: a run
  // on 2026-11-30 failed with EADDRINUSE on 34610.
  const base = 20_000 + Math.floor(Math.random() * 12_000)
  const ports = Array.from({ length: n }, (_, i) => base + i)
  const procs = ports.map((_, i) => startProc(i, dir, ports))
  const samples: number[] = []
  try {
    await until(() => latestLeader(procs) !== undefined, 'the first coordinator', 60_000)
    for (let k = 0; k < kills; k++) {
      const leader = latestLeader(procs)
      if (leader === undefined) throw new Error('no coordinator')
      // Let the mesh settle: every agent follows the leader (and the restarted one rejoined).
      await until(() => procs.every(p => p.events.some(e => e.event === 'coordinator' && e.leader === leader.proc.peerId && e.term === leader.term)), 'all to follow')
      await sleep(1500)
      const i = procs.indexOf(leader.proc)
      const killedAt = Date.now()
      leader.proc.child.kill('SIGKILL')
      await until(() => (latestLeader(procs)?.term ?? 0) > leader.term, 'a successor')
      const next = latestLeader(procs) as { at: number }
      samples.push(next.at - killedAt)
      process.stdout.write(`  kill ${k + 1}: successor in office after ${next.at - killedAt} ms\n`)
      await new Promise(resolve => { if (leader.proc.child.exitCode !== null || leader.proc.child.signalCode !== null) resolve(null); else leader.proc.child.once('exit', resolve) })
      procs[i] = startProc(i, dir, ports)
      await until(() => procs[i].peerId !== '', 'the restart')
    }
  } finally {
    for (const p of procs) p.child.kill('SIGKILL')
    await sleep(200)
    rmSync(dir, { recursive: true, force: true })
  }
  return samples
}

// --- coordination round -------------------------------------------------------------------

async function rounds (count: number, agents: number): Promise<{ p50: number, p99: number, seqRate: number, rate: number }> {
  const mesh = `round${process.pid}`
  const opts = { mesh, mdns: false, security: { mode: 'open' as const }, logLevel: 'silent' as const, listen: ['/ip4/127.0.0.1/tcp/0'], coordination: { bootstrapExpect: 1 } }
  const coordinator = await createAgentNode({ ...opts, name: 'coordinator' })
  await coordinator.start()
  await coordinator.coordinatorElected({ signal: AbortSignal.timeout(10_000) })
  // Agents that do not vote (the round measures coordination, not a voter set of eleven), each
  // in its own process as agents are deployed, or all in this one (--in-process).
  const targets: string[] = []
  const local: AgentNode[] = []
  const procs: Proc[] = []
  for (let i = 0; i < agents; i++) {
    if (inProcess) {
      const n = await createAgentNode({ ...opts, name: `agent${i}`, bootstrap: [coordinator.addresses()[0]], coordination: { eligible: false } })
      await n.start()
      n.onDirective('assign_task', () => 'ok')
      local.push(n)
      targets.push(n.peerId)
    } else {
      const p = spawnAgent({ AGENTMESH_NAME: `agent${i}`, AGENTMESH_MESH: mesh, AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0', AGENTMESH_BOOTSTRAP: coordinator.addresses()[0], AGENTMESH_MDNS: 'false', AGENTMESH_SECURITY_MODE: 'open', AGENTMESH_LOG_LEVEL: 'error', AGENTMESH_COORDINATION_ELIGIBLE: 'false' })
      procs.push(p)
      await until(() => p.peerId !== '', 'an agent process to start')
      targets.push(p.peerId)
    }
  }
  await until(() => coordinator.members().filter(m => m.state === 'alive').length === agents, 'agents to join')
  await until(() => local.every(n => n.coordinator().leader === coordinator.peerId) && procs.every(p => p.events.some(e => e.event === 'coordinator' && e.leader === coordinator.peerId)), 'agents to follow the coordinator')
  const c = coordinator.coordination
  const round = async (i: number): Promise<void> => {
    const { statuses } = await c.statusAll()
    if (statuses.length !== agents + 1) throw new Error(`${statuses.length} statuses`)
    await c.directive({ target: targets[i % agents], action: 'assign_task', parameters: { i } })
  }
  for (let i = 0; i < 200; i++) await round(i)
  const lat: number[] = []
  const t0 = performance.now()
  for (let i = 0; i < count; i++) {
    const s = performance.now()
    await round(i)
    lat.push(performance.now() - s)
  }
  const seqRate = count / ((performance.now() - t0) / 1000)
  let done = 0
  const t1 = performance.now()
  const cpu0 = { self: process.cpuUsage(), agents: procs.reduce((a, p) => a + procCpuMs(p.child.pid ?? -1), 0) }
  await Promise.all(Array.from({ length: 8 }, async (_, w) => { while (done < count) { done++; await round(done + w) } }))
  const rate = done / ((performance.now() - t1) / 1000)
  const self = process.cpuUsage(cpu0.self)
  const agentsMs = procs.reduce((a, p) => a + procCpuMs(p.child.pid ?? -1), 0) - cpu0.agents
  const perRound = (ms: number): string => `${Math.round(1000 * ms / done)} µs`
  console.log(`  8 at a time, CPU per round: this process (the coordinator${inProcess ? ' and the agents' : ''}) ${perRound((self.user + self.system) / 1000)}, the agent processes ${perRound(agentsMs)}`)
  for (const n of [...local, coordinator]) await n.stop()
  for (const p of procs) p.child.kill('SIGTERM')
  if (process.env.BENCH_TAIL !== undefined) console.log(`  tail: p90 ${r1(pct(lat, 0.9))} p95 ${r1(pct(lat, 0.95))} p99 ${r1(pct(lat, 0.99))} max ${r1(Math.max(...lat))} ms`)
  return { p50: pct(lat, 0.5), p99: pct(lat, 0.99), seqRate, rate }
}

const skip = new Set(values.skip.split(',').filter(Boolean))
console.log(`agentmesh coordination bench (node ${process.version})`)
if (!skip.has('failover')) {
  console.log(`fail-over: ${values.agents} agent processes, ${values.kills} kills of the coordinator (defaults: election timeout 400-800 ms, heartbeat 100 ms)`)
  const s = await failover(Number(values.kills), Number(values.agents))
  console.log(`fail-over  p50 ${pct(s, 0.5)} ms  p99 ${pct(s, 0.99)} ms  min ${Math.min(...s)} ms  max ${Math.max(...s)} ms  (${s.length} kills)`)
}
if (!skip.has('round')) {
  const r = await rounds(Number(values.rounds), Number(values['round-agents']))
  console.log(`coordination round (status from ${values['round-agents']} agents + 1 directive + ack): p50 ${r1(r.p50)} ms  p99 ${r1(r.p99)} ms  ${Math.round(r.seqRate)} rounds/s sequential  ${Math.round(r.rate)} rounds/s 8 at a time`)
}
process.exit(0)
