/**
 * Loaded by the suite into every test file's process (`node --test --import`; the runner passes
 * it on to the process it starts per file): when that process exits, one JSON line with the CPU
 * it used, and the CPU of the processes it started and saw end (agent processes, the CLI,
 * Chromium), to AGENTMESH_TEST_CPU_OUT. The suite sums them per file, so that its summary names
 * where a run's minutes of both cores go, not only which files take long to wait.
 *
 * A process still running when the file's process exits (one killed after it, with its group)
 * is not counted: the figures are lower bounds. Linux only (/proc); elsewhere nothing is written.
 */
import { appendFileSync, readFileSync } from 'node:fs'

/** A test file's line. `ms`: the file's own process; `childrenMs`: the processes it started and reaped. */
export interface CpuLine { kind: 'cpu', file: string, ms: number, childrenMs: number }

const OUT = process.env.AGENTMESH_TEST_CPU_OUT
// The runner loads this too, and a file's process may fork with its flags: only a test file's own process writes.
const file = process.env.NODE_TEST_CONTEXT !== undefined && /\.test\.[cm]?js$/.test(process.argv[1] ?? '') ? process.argv[1] : undefined
// Not passed on: a process a test starts is counted in its file's line, not in a line of its own.
delete process.env.AGENTMESH_TEST_CPU_OUT

/** utime, stime, cutime and cstime of /proc/self/stat in ms (clock ticks of 10 ms: Linux's USER_HZ is 100 on every architecture Node runs on). */
function ticks (): { ms: number, childrenMs: number } | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8')
    // Fields after the command's closing parenthesis; utime is the 14th field of the whole line, the 12th after it.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number)
    return { ms: (f[11] + f[12]) * 10, childrenMs: (f[13] + f[14]) * 10 }
  } catch {
    return undefined
  }
}

if (OUT !== undefined && OUT !== '' && file !== undefined) {
  process.on('exit', () => {
    const t = ticks()
    if (t === undefined) return
    const line: CpuLine = { kind: 'cpu', file, ...t }
    try { appendFileSync(OUT, JSON.stringify(line) + '\n') } catch {}
  })
}
