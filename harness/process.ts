/**
 * Processes and waits shared by the tests and the benchmarks: the CLI's path, a mesh name of its
 * own, a condition waited for with a deadline, a child process whose output lines can be awaited,
 * and the fast timings of an agent process. test/helpers.ts re-exports them.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'

export const CLI = fileURLToPath(new URL('../surfaces/cli/main.js', import.meta.url))

let meshCounter = 0
/** A mesh name no other test (or leftover process) shares. */
export function uniqueMesh (): string {
  return `t${process.pid}-${++meshCounter}-${Math.floor(Math.random() * 1e6)}`
}

/**
 * Wait until `check` holds, polling every `everyMs`; fails with `what` after the deadline. A check
 * that costs the processes under test (a status over IPC from every worker) is polled less often.
 */
export async function waitFor (check: () => boolean | Promise<boolean>, what: string, timeoutMs = 15_000, everyMs = 50): Promise<void> {
  const end = Date.now() + timeoutMs
  while (Date.now() < end) {
    if (await check()) return
    await sleep(everyMs)
  }
  if (await check()) return
  throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}`)
}

/** Whether something accepts a TCP connection on 127.0.0.1:`port` (a node stopped leaves nothing listening). */
export async function listening (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => { resolve(false) })
  })
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/**
 * Every Proc whose process has not exited yet: a test that fails half-way (one of two agents
 * started together did not print its ready line) may never stop the others, and their open
 * pipes would keep its file running until the runner's file limit. test/helpers.ts stops what
 * is left after each file's tests.
 */
export const liveProcs = new Set<Proc>()

/**
 * How long a Proc waits by default for a line or for its exit: a node process's start on a
 * 2-core machine at load 20-30 (three test files and their agents) took 9-25 s; a CI machine is slower.
 */
const PROC_WAIT_MS = 60_000
/**
 * How long `exited` waits, past the exit, for the process's pipes to close. Node emits 'exit'
 * before it has read the last of a child's stdout: on a loaded host a CLI's answer was not yet
 * among `lines` when its exit was seen (cli-errors.test, 2026-11-30: "Unexpected end of JSON
 * input" for a `request` that printed its answer and exited 0). Bounded, since a grandchild that
 * inherited the pipes keeps them open past the exit.
 */
const PIPES_CLOSE_MS = 2_000

/** A child process whose stdout lines can be awaited. */
export class Proc {
  readonly child: ChildProcess
  readonly lines: string[] = []
  stderr = ''
  private readonly listeners = new Set<() => void>()
  /** Resolves on 'close': the process exited and its pipes are read to their end. */
  private readonly closed: Promise<void>

  /** `stdin: 'pipe'` for a process driven over its stdin (harness/fixtures/netns-agent.ts stops when its stdin closes). */
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
    this.closed = new Promise(resolve => { this.child.once('close', () => { resolve() }) })
    liveProcs.add(this)
    this.child.once('exit', () => { liveProcs.delete(this) })
    if (home !== undefined) this.child.once('exit', () => { rmSync(home, { recursive: true, force: true }) })
    createInterface({ input: this.child.stdout! }).on('line', (l) => { this.lines.push(l); for (const f of this.listeners) f() })
    this.child.stderr!.on('data', (d) => { this.stderr += String(d) })
  }

  /**
   * The first JSON line (already printed or still to come) that matches, within PROC_WAIT_MS unless the caller
   * says: the line most waited for is a node's "ready", and an agent process loads about 1,000
   * modules before it starts (1.2-1.5 s of CPU; the node's start() itself took 0.2 s), which a
   * loaded two-core host stretches: agent 0's restart in keyring.test took 9.2 s at load 29 and
   * over 15 s in CI, while it waited on nothing.
   */
  async json (match: (o: any) => boolean, what: string, timeoutMs = PROC_WAIT_MS): Promise<any> {
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

  /** Its exit code once it exited and what it printed is read (within PIPES_CLOSE_MS of the exit). */
  async exited (timeoutMs = PROC_WAIT_MS): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      await new Promise<void>((resolve, reject) => {
        // Which process, and what it said last: "did not exit" alone named nothing (clients.test, loaded).
        const t = setTimeout(() => { reject(new Error(`process did not exit within ${timeoutMs} ms: ${this.described()}`)) }, timeoutMs)
        this.child.once('exit', () => { clearTimeout(t); resolve() })
      })
    }
    let grace: ReturnType<typeof setTimeout> | undefined
    await Promise.race([this.closed, new Promise<void>(resolve => { grace = setTimeout(resolve, PIPES_CLOSE_MS) })])
    clearTimeout(grace)
    return this.child.exitCode
  }

  /** Its command (script and arguments, shortened) and the end of what it printed, for a failure's message. */
  described (): string {
    const args = this.child.spawnargs.slice(1).map(a => a.length > 60 ? `${a.slice(0, 57)}...` : a).join(' ')
    return `${args}; stdout: ${this.lines.slice(-5).join(' | ').slice(-1_000) || '(nothing)'}; stderr: ${this.stderr.slice(-2_000) || '(nothing)'}`
  }

  async stop (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    this.child.kill(signal)
    try { await this.exited(5_000) } catch { this.child.kill('SIGKILL'); await this.exited(5_000).catch(() => {}) }
  }
}

/**
 * The environment of a test's agent processes (harness/fixtures/task-agent.ts): fast failure
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
