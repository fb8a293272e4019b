/** Helpers shared by the tests: real nodes on 127.0.0.1, conditions waited for with deadlines. */
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions, type Message } from '../surfaces/index.js'

export const CLI = fileURLToPath(new URL('../surfaces/cli/main.js', import.meta.url))
export const DIST = fileURLToPath(new URL('..', import.meta.url))

let meshCounter = 0
/** A mesh name no other test (or leftover process) shares. */
export function uniqueMesh (): string {
  return `t${process.pid}-${++meshCounter}-${Math.floor(Math.random() * 1e6)}`
}

/** Wait until `check` holds, polling; fails with `what` after the deadline. */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await sleep(50)
  }
  if (await check()) return
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}

/** Run `fn` with a fresh temporary directory, removed afterwards whatever happens. */
export async function withTempDir<T> (fn: (dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'agentmesh-test-'))
  try {
    return await fn(dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** A port nothing listens on: bound once by the OS, then let go. */
export async function freePort (): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as { port: number }).port
  await new Promise(resolve => server.close(resolve))
  return port
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

export function nodeOptions (mesh: string, extra: CreateAgentNodeOptions = {}): CreateAgentNodeOptions {
  // Quiet unless a test asks: the log lines of many nodes would bury the test report. Open, said
  // here rather than by the local preset, so the tests keep the timings they were written for
  // (lan's, unless they give a preset); a test of a closed mesh gives its own `security`.
  return { mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent', security: { mode: 'open' }, ...extra }
}

/**
 * A coordination round by `coordinator`, run again once it is back in office when its lease
 * lapsed before the round began (CRD002): on a loaded host (CI runs three test files at once) a
 * lease can lapse between finding the coordinator and calling it. It must be the same agent: a
 * test chose its other agents' parts around it.
 */
export async function coordinateInOffice (coordinator: AgentNode, options: Parameters<AgentNode['coordination']['coordinate']>[0], timeoutMs = 15_000): Promise<Awaited<ReturnType<AgentNode['coordination']['coordinate']>>> {
  const end = Date.now() + timeoutMs
  for (;;) {
    try {
      return await coordinator.coordination.coordinate(options)
    } catch (err) {
      if ((err as { code?: string }).code !== 'CRD002' || Date.now() >= end) throw err
      await waitFor(() => coordinator.coordinator().inOffice, `${coordinator.name} back in office`, Math.max(1, end - Date.now()))
    }
  }
}

/** Start n nodes, each bootstrapping from the first, and wait until every one sees n-1 agents. */
export async function startMesh (n: number, extra: (i: number) => CreateAgentNodeOptions = () => ({})): Promise<AgentNode[]> {
  const mesh = uniqueMesh()
  const first = await createAgentNode(nodeOptions(mesh, { name: 'n0', ...extra(0) }))
  await first.start()
  const nodes = [first]
  for (let i = 1; i < n; i++) {
    const node = await createAgentNode(nodeOptions(mesh, { name: `n${i}`, bootstrap: [first.addresses()[0]], ...extra(i) }))
    await node.start()
    nodes.push(node)
  }
  await waitFor(() => nodes.every(x => x.peers().length === n - 1), `${n} nodes to see each other`, 20_000)
  return nodes
}

/** Every message the node's subscription to `topic` delivers from now on, in order (the array fills as they come). */
export function collect (node: AgentNode, topic: string): Message[] {
  const got: Message[] = []
  const sub = node.subscribe(topic)
  void (async () => { for await (const m of sub) got.push(m) })()
  return got
}

export async function stopAll (nodes: Array<AgentNode | undefined>): Promise<void> {
  await Promise.all(nodes.map(async n => { await n?.stop() }))
}

/** A child process whose stdout lines can be awaited. */
export class Proc {
  readonly child: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  private readonly listeners = new Set<() => void>()

  /** `stdin: 'pipe'` for a process driven over its stdin (test/fixtures/netns-agent.ts stops when its stdin closes). */
  constructor (args: string[], env: NodeJS.ProcessEnv = {}, cwd?: string, opts: { stdin?: 'pipe' } = {}) {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
    // A HOME of its own unless the test gives one: `start` keeps its data directory in ~/.agentmesh/<name>
    // (issue 14), and processes that reuse a name, in one test or across runs, must not share it (nor write to the user's home).
    const home = env.HOME === undefined ? mkdtempSync(join(tmpdir(), 'agentmesh-home-')) : undefined
    this.child = spawn(process.execPath, args, {
      env: { ...clean, ...(home !== undefined ? { HOME: home } : {}), ...env },
      stdio: [opts.stdin ?? 'ignore', 'pipe', 'pipe'],
      ...(cwd !== undefined ? { cwd } : {})
    })
    if (home !== undefined) this.child.once('exit', () => { rmSync(home, { recursive: true, force: true }) })
    createInterface({ input: this.child.stdout! }).on('line', (l) => { this.lines.push(l); for (const f of this.listeners) f() })
    this.child.stderr!.on('data', (d) => { this.stderr += String(d) })
  }

  /** The first JSON line (already printed or still to come) that matches. */
  async json (match: (o: any) => boolean, what: string, timeoutMs = 15_000): Promise<any> {
    const find = (): any => {
      for (const l of this.lines) {
        try { const o = JSON.parse(l); if (match(o)) return o } catch {}
      }
      return undefined
    }
    await waitFor(() => find() !== undefined || this.child.exitCode !== null, what, timeoutMs)
    const found = find()
    if (found === undefined) throw new Error(`process exited (${this.child.exitCode}) before ${what}; stderr: ${this.stderr}`)
    return found
  }

  async exited (timeoutMs = 15_000): Promise<number | null> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return this.child.exitCode
    return await new Promise((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`process did not exit within ${timeoutMs} ms`)) }, timeoutMs)
      this.child.once('exit', (code) => { clearTimeout(t); resolve(code) })
    })
  }

  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill(signal)
    try { await this.exited(5_000) } catch { this.child.kill('SIGKILL'); await this.exited(5_000).catch(() => {}) }
  }
}

/**
 * The environment of a test's agent processes (test/fixtures/task-agent.ts): fast failure
 * detection and elections, `expect` agents for the first voter set.
 */
export function agentTimings (expect: number): Record<string, string> {
  return {
    AGENTMESH_MEMBERSHIP_HEARTBEAT_INTERVAL_MS: '200',
    AGENTMESH_MEMBERSHIP_PROBE_INTERVAL_MS: '200',
    AGENTMESH_MEMBERSHIP_PROBE_TIMEOUT_MS: '300',
    AGENTMESH_MEMBERSHIP_SILENCE_MS: '800',
    AGENTMESH_MEMBERSHIP_SUSPICION_MIN_MS: '600',
    AGENTMESH_MEMBERSHIP_SUSPICION_MAX_MS: '1500',
    AGENTMESH_COORDINATION_HEARTBEAT_INTERVAL_MS: '100',
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MIN_MS: '400',
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MAX_MS: '800',
    AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: String(expect)
  }
}

/** mulberry32: a small seeded generator, the same sequence for the same seed everywhere, so a failing run repeats from its seed. */
export function seededRandom (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** One CLI command to its end, without the caller's AGENTMESH_ variables: its exit code and output. */
export async function runCli (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  return await new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], { env: clean, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}
