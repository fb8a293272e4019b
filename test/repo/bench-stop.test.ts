/**
 * The bench stopped by a signal sent to it alone (a supervisor's SIGTERM, `kill PID`) leaves no
 * nats-server behind: the server it started for the run is not in the signal's way, and stayed
 * running, holding its port, until this was handled (bench/nats.ts).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DIST, waitFor } from '../helpers.js'
import { skipWithout } from '../requirements.js'

/** The pids of `parent`'s children named `name` (from /proc: no pgrep needed). */
function children (parent: number, name: string): number[] {
  const out: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // pid (comm) state ppid ...: comm may hold spaces, so read after its closing parenthesis.
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      if (ppid === parent && comm === name) out.push(Number(entry))
    } catch { /* gone meanwhile */ }
  }
  return out
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

test('bench: SIGTERM to the bench alone stops the nats-server it started', { timeout: 120_000 }, async (t) => {
  if (skipWithout(t, 'nats-server')) return
  const bench = spawn(process.execPath, [join(DIST, 'bench', 'run.js'), '--quick', '--only', 'nats', '--n', '5', '--scenario', 'flat'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  bench.stdout.on('data', (b: Buffer) => { output += b.toString() })
  bench.stderr.on('data', (b: Buffer) => { output += b.toString() })
  const exited = new Promise<number | null>(resolve => { bench.once('exit', (code) => { resolve(code) }) })
  try {
    let server: number | undefined
    await waitFor(() => { server = children(bench.pid as number, 'nats-server')[0]; return server !== undefined }, 'the bench to start its nats-server', 60_000)
    // Once its workers are running, as in a run stopped halfway.
    await waitFor(() => output.includes('nats, 5 nodes'), 'the bench to begin measuring', 60_000)
    bench.kill('SIGTERM')
    assert.equal(await exited, 143, `the bench exits as a SIGTERM asks: ${output.slice(-500)}`)
    await waitFor(() => !alive(server as number), 'its nats-server to be gone', 10_000)
  } finally {
    if (bench.exitCode === null) bench.kill('SIGKILL')
  }
})
