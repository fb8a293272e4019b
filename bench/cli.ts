/**
 * npm run bench:cli [-- --runs N]: what a CLI process costs to start, run from the bundle
 * (tools/bundle-cli.ts) and from the modules (AGENTMESH_CLI_MODULES=1), side by side in one
 * sitting, medians of N runs each (default 5), alternating so that load falls on both alike:
 * - `--version` and `id`: the whole process, wall and CPU;
 * - `start`: from spawn to its ready line, wall and CPU, and the peak resident memory then.
 * CPU comes from /proc (Linux): the children's times of this process, or the started node's own.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { CLI } from '../harness/process.js'
import { BUNDLE_DIR, PACKAGE_ROOT, checkBundle } from '../surfaces/cli/bundle-check.js'
import { procCpuMs } from './proc-cpu.js'

const TICKS_PER_S = 100
const runs = Number(process.argv[process.argv.indexOf('--runs') + 1] ?? 5) || 5

/** CPU used by this process's children that have been waited for (cutime + cstime), ms. */
function childrenCpuMs (): number {
  const stat = readFileSync('/proc/self/stat', 'utf8')
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(f[13]) + Number(f[14])) * 1000 / TICKS_PER_S
}

function peakRssMiB (pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
  return m !== null ? Number(m[1]) / 1024 : 0
}

const median = (xs: number[]): number => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }

type Mode = 'bundle' | 'modules'
const env = (mode: Mode, home: string): NodeJS.ProcessEnv => ({ ...process.env, HOME: home, AGENTMESH_CLI_MODULES: mode === 'modules' ? '1' : '0' })

function once (mode: Mode, home: string, args: string[]): { wall: number, cpu: number } {
  const cpu0 = childrenCpuMs()
  const t0 = performance.now()
  const r = spawnSync(process.execPath, [CLI, ...args], { env: env(mode, home), encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`agentmesh ${args.join(' ')} (${mode}) exited ${r.status}: ${r.stderr}`)
  return { wall: performance.now() - t0, cpu: childrenCpuMs() - cpu0 }
}

async function startToReady (mode: Mode, home: string, port: number): Promise<{ wall: number, cpu: number, rss: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [CLI, 'start', '--open', '--mesh', `bench-cli-${process.pid}`, '--no-mdns', '--json', '--log-level', 'warn',
    '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--data-dir', join(home, `d-${mode}-${port}`), '--identity', join(home, `id-${mode}.json`)],
  { env: env(mode, home), stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (d) => { stderr += String(d) })
  try {
    for await (const line of createInterface({ input: child.stdout })) {
      if (line.includes('"event":"ready"')) {
        const wall = performance.now() - t0
        return { wall, cpu: procCpuMs(child.pid ?? 0), rss: peakRssMiB(child.pid ?? 0) }
      }
    }
    throw new Error(`agentmesh start (${mode}) ended before its ready line: ${stderr}`)
  } finally {
    child.kill('SIGTERM')
    await new Promise(resolve => child.once('exit', resolve))
  }
}

const fresh = checkBundle(PACKAGE_ROOT, BUNDLE_DIR)
if (fresh.entry === undefined) {
  console.error(`the CLI bundle is not current (${fresh.stale ?? ''}): run npm run build first`)
  process.exit(1)
}
const home = mkdtempSync(join(tmpdir(), 'agentmesh-bench-cli-'))
try {
  const results: Record<string, Record<Mode, Array<{ wall: number, cpu: number, rss?: number }>>> = {
    '--version': { bundle: [], modules: [] },
    'id --json': { bundle: [], modules: [] },
    'start to ready': { bundle: [], modules: [] }
  }
  let port = 17800 + (process.pid % 100) * 4
  for (let i = 0; i < runs; i++) {
    for (const mode of (i % 2 === 0 ? ['bundle', 'modules'] : ['modules', 'bundle']) as Mode[]) {
      results['--version'][mode].push(once(mode, home, ['--version']))
      results['id --json'][mode].push(once(mode, home, ['id', '--identity', join(home, 'bench.json'), '--json']))
      results['start to ready'][mode].push(await startToReady(mode, home, port++))
    }
  }
  console.log(`agentmesh CLI, ${runs} runs each, medians (bundle / modules):`)
  console.log('| command | wall ms | CPU ms | peak RSS MiB |')
  console.log('|---|---|---|---|')
  for (const [name, r] of Object.entries(results)) {
    const col = (k: 'wall' | 'cpu' | 'rss'): string => r.bundle[0][k] === undefined ? '—' : `${median(r.bundle.map(x => x[k] ?? 0)).toFixed(0)} / ${median(r.modules.map(x => x[k] ?? 0)).toFixed(0)}`
    console.log(`| ${name} | ${col('wall')} | ${col('cpu')} | ${col('rss')} |`)
  }
} finally {
  rmSync(home, { recursive: true, force: true })
}
