/**
 * Python scripts run as real processes by the interop tests (interop/python, examples/): each
 * prints one JSON object on its last line of stdout, which the test reads. The script gets no
 * AGENTMESH_ variables but those the test gives, and a HOME of its own (the MCP server it may
 * spawn keeps its data under ~/.agentmesh); it is killed at its deadline.
 */
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DIST } from '../helpers.js'

/** The repository's root (dist/.. ). */
export const ROOT = join(DIST, '..')

export interface PythonRun { code: number | null, stdout: string, stderr: string, json: any }

/** `python script args...` to its end (or its deadline): its exit code, output, and last line parsed as JSON (undefined if it is not). */
export async function runPython (python: string, script: string, args: string[], options: { timeoutMs: number, env?: NodeJS.ProcessEnv }): Promise<PythonRun> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  const home = await mkdtemp(join(tmpdir(), 'agentmesh-py-home-'))
  try {
    return await new Promise(resolve => {
      execFile(python, [join(ROOT, script), ...args], { env: { ...clean, HOME: home, ...options.env }, cwd: ROOT, timeout: options.timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
        const last = stdout.trim().split('\n').at(-1) ?? ''
        let json: any
        try { json = JSON.parse(last) } catch {}
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null
        resolve({ code, stdout, stderr, json })
      })
    })
  } finally {
    await rm(home, { recursive: true, force: true })
  }
}

/** What to say when a run did not give its JSON: how it ended and the end of its stderr. */
export function account (r: PythonRun): string {
  return `exit ${String(r.code)}; stdout: ${r.stdout.slice(-2_000)}; stderr: ${r.stderr.slice(-4_000)}`
}
