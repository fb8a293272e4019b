/**
 * The suite (compiled: `node dist/test/suite.js [--slow | --all | --list] [file.test.js ...]`):
 * `npm test` runs every file but the slow ones (SLOW), `npm run test:slow` those, CI both (the
 * slow ones once).
 *
 * Three files at a time first: most of a test's time is spent waiting (on sockets, timers, child
 * processes starting), so three files share the two cores of a CI machine well (measured on the
 * 2-core machine, quiet: 5 min 19 s for the first group against 6 min 5 s two at a time), and the tests
 * already wait for conditions with deadlines sized for a loaded host. Then, one at a time, the
 * files that need the machine to themselves: their assertions are about rates, floods and
 * timing windows that another file's CPU would eat into. A new file runs in the first group
 * unless it is named in SERIAL.
 *
 * The fault campaign runs beside the first group of its tier (BESIDE): minutes of wall time spent
 * mostly waiting (timed faults, the mesh healing between them), with deadlines sized for a loaded
 * host. Its output is kept in a file and printed once the first group is done, so the two reports
 * do not interleave.
 *
 * Any group failing fails the run (exit 1), after all have run; a group that hangs is killed
 * after GROUP_LIMIT_MS, naming its unfinished files. A summary closes the run. Given files, only those run
 * (each in its group). AGENTMESH_TEST_CONCURRENCY=1 runs everything one file at a time, the
 * campaign too (in the last group).
 */
import { spawn } from 'node:child_process'
import { appendFileSync, closeSync, existsSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type { FailureLine, FileLine, SkipLine } from './summary-reporter.js'
import type { CpuLine } from './cpu-account.js'
import { BUNDLE_DIR, PACKAGE_ROOT, checkBundle } from '../surfaces/cli/bundle-check.js'
import { bundleTests } from '../tools/bundle-tests.js'

/**
 * The slow files, each with why: `npm test` leaves them out, `npm run test:slow` runs them, and
 * CI runs them once (not in both of its Node passes). They are the runs that take minutes of a
 * 2-core machine by design (a fault campaign, a 50-agent mesh, an image built twice) or drive a
 * peer or client built outside npm (Go, Python, the MCP conformance suite, network namespaces).
 * Everything else runs in `npm test`.
 */
const SLOW: Record<string, string> = {
  'fault-campaign.test.js': '200 timed faults on five hosts in network namespaces: 3-4 minutes by design',
  'live-page-scale.test.js': '50 agents in five processes and Chromium',
  'views-scale.test.js': '50 agents in five processes joining on the bounded graph (views): a minute or more of both cores',
  'netns.test.js': 'five hosts in network namespaces (root): kill -9, partitions and SIGSTOP past a lease',
  'power-cut.test.js': 'a data directory on a loop device (root) whose page cache is lost, with an agent process electing on short timeouts',
  'docker-image.test.js': 'the image\'s build replayed: two installs of the whole dependency tree and a compile',
  'go-peer.test.js': 'the Go peer built with go-libp2p and run against a closed mesh of agent processes',
  'python-a2a.test.js': 'the A2A Python SDK\'s client against the gateway',
  'python-mcp.test.js': 'the MCP Python SDK\'s client against `agentmesh mcp`',
  'schemathesis.test.js': 'schemathesis drives the gateway\'s OpenAPI document with generated requests',
  'mcp-conformance.test.js': 'the MCP conformance suite against `agentmesh mcp --http`',
  // 57 s alone beside a running suite (2026-11-28); the ports are the README's own, not free ones.
  'readme-walkthrough.test.js': 'the README top to bottom: the demo\'s five agents, the quick start closed then open, the CLI\'s clients, a gateway and a closed node, on the README\'s fixed ports 7001-7003, 8001 and 8080'
}

/** Files run alone, each with why. */
const SERIAL: Record<string, string> = {
  'netns.test.js': 'five hosts in network namespaces, kill -9, partitions and SIGSTOP past a lease',
  'limits.test.js': 'floods a peer and counts what a rate limit let through per second',
  'negotiation.test.js': 'proposals and awards inside deadline windows of a few hundred ms',
  'examples.test.js': 'the auction\'s bids in time and the pipeline\'s three workers (both failed even alone on a host at load 20)',
  'pnet.test.js': '16 MiB flat out over one connection, and the cipher against @libp2p/pnet',
  'data-dir.test.js': 'kill -9 of a node process and its restart on the same data directory',
  'power-cut.test.js': 'an agent process, the only voter, on short election timeouts, restarted on a disk cut under it',
  // Was beside the first group: at load 25-35 its 49 agents took 160-200 s to join through three
  // seeds (one seed's worker process too slow to finish handshakes), and in CI it missed 240 s.
  'live-page-scale.test.js': '50 agents in five worker processes and Chromium: joining through three seeds takes minutes on a loaded host',
  'views-scale.test.js': '50 agents in five worker processes: their join saturates both cores, and beside other files it would take the machine from them',
  // Failed in two local .ci/run Node 22 passes in a row (a non-voter counted one election message
  // more in a one-second window of a steady voter set): nine agents on the local preset's
  // 300-600 ms election timeouts, in one process, beside two other files on two cores (issue 45).
  'election-scale.test.js': 'nine agents on the local preset\'s 300-600 ms election timeouts, counting that non-voters hear no election message for a second',
  'go-peer.test.js': 'a closed mesh of agent processes and the Go peer built and joined, then go test against a node: 80-100 s of processes alone, 150-180 s at load 20',
  'docker-image.test.js': 'the image replayed: two installs of the whole dependency tree and a compile, kept from the first group\'s npm and CPU (readme.test\'s npm install failed once beside it)'
}

/**
 * Files run as tsc wrote them, not from the bundle of the test files (tools/bundle-tests.ts),
 * each with why. The SLOW files too.
 */
const UNBUNDLED: Record<string, string> = {
  'adaptations.test.js': 'hashes the source text of the upstream functions each adaptation was measured on, which a bundle rewrites',
  'peer-dialer.test.js': 'tells the dialer\'s dials from others by the file its stack names (protocols/discovery/dialer.js), a chunk in a bundle'
}

/** Files run beside the first group, each with why it may. */
const BESIDE: Record<string, string> = {
  // Not little CPU: 176 s of it in 159 s alone (2026-11-27), mostly agents restarted after kill -9.
  'fault-campaign.test.js': 'five agent processes in network namespaces through 200 timed faults: minutes, mostly waiting for the mesh to heal'
}

/**
 * The first group's longest files (a full local run, 2026-11-27: 45-90 s each against a median
 * of a few), started first: in name order one of them could start last and run on alone while
 * the other two slots sat idle. A file not listed keeps its name order after them.
 */
const LONG_FIRST = [
  'election-sim.test.js', 'cli.test.js', 'clients.test.js', 'keyring.test.js', 'attack-membership.test.js',
  'hand-off.test.js', 'coordination.test.js', 'cli-errors.test.js', 'gateway.test.js', 'readme.test.js', 'mcp.test.js'
]
const rank = (f: string): number => { const i = LONG_FIRST.indexOf(basename(f)); return i < 0 ? LONG_FIRST.length : i }

const here = dirname(fileURLToPath(import.meta.url))
const started = Date.now()
/**
 * `--slow` runs the SLOW files only (`npm run test:slow`), `--all` every file; neither, the rest
 * (`npm test`). Files named on the command line run whatever their tier. `--list` prints the
 * groups the run would have and exits.
 */
const flags = process.argv.slice(2).filter(a => a.startsWith('--'))
for (const f of flags) if (!['--slow', '--all', '--list'].includes(f)) throw new Error(`test/suite.js: unknown option ${f} (--slow: the slow files only; --all: every file; --list: the groups, without running them)`)
const tier: 'fast' | 'slow' | 'all' = flags.includes('--all') ? 'all' : flags.includes('--slow') ? 'slow' : 'fast'
const given = process.argv.slice(2).filter(a => !a.startsWith('--'))
/**
 * Every test file under dist/test, in the folders that mirror the sources (test/protocols/<name>,
 * test/node, test/surfaces/<name>, test/mesh, test/repo), in name order by file name as when they
 * sat in one folder. SERIAL, BESIDE and LONG_FIRST name files by their base name, so two test
 * files may not share one.
 */
function testFiles (): string[] {
  const found = (readdirSync(here, { recursive: true }) as string[]).filter(f => f.endsWith('.test.js')).map(f => join(here, f))
  const byName = new Map<string, string>()
  for (const f of found) {
    const other = byName.get(basename(f))
    if (other !== undefined) throw new Error(`two test files named ${basename(f)} (${other}, ${f}): the suite's tables name files by their base name`)
    byName.set(basename(f), f)
  }
  return [...byName.keys()].sort().map(name => byName.get(name)!)
}
const found = given.length > 0 ? given.map(f => resolve(f)) : testFiles()
// A name in a table that matches no file (a typo, a file renamed) would quietly move that file to another tier or group.
if (given.length === 0) {
  const names = new Set(found.map(f => basename(f)))
  for (const name of [...Object.keys(SLOW), ...Object.keys(SERIAL), ...Object.keys(BESIDE), ...Object.keys(UNBUNDLED), ...LONG_FIRST]) {
    if (!names.has(name)) throw new Error(`test/suite.ts names ${name}, which is no test file under ${here}`)
  }
}
const isSlow = (f: string): boolean => SLOW[basename(f)] !== undefined
const inTier = (f: string): boolean => given.length > 0 || tier === 'all' || (tier === 'slow') === isSlow(f)
const files = found.filter(inTier)
/** The files of the other tier, named in the summary so that nobody takes `npm test` for all of it. */
const leftOut = found.filter(f => !inTier(f))
const concurrency = process.env.AGENTMESH_TEST_CONCURRENCY ?? '3'
const besideOn = concurrency !== '1'
const isBeside = (f: string): boolean => besideOn && BESIDE[basename(f)] !== undefined
const alone = files.filter(f => !isBeside(f) && (SERIAL[basename(f)] !== undefined || BESIDE[basename(f)] !== undefined))
const shared = files.filter(f => SERIAL[basename(f)] === undefined && BESIDE[basename(f)] === undefined).sort((a, b) => rank(a) - rank(b))
const beside = files.filter(isBeside)

/**
 * Each run reports twice: as `node --test` would by itself (spec on a terminal, TAP otherwise),
 * and through test/summary-reporter.js into a file the suite reads back for its closing summary.
 */
const work = mkdtempSync(join(tmpdir(), 'agentmesh-suite-'))
/**
 * Node 22's on-disk cache of compiled modules (NODE_COMPILE_CACHE; Node 20 ignores it), for the
 * run's test files and every process they start: each loads the same ~1,000 modules, or the
 * CLI's bundle. Measured on Node 22.23: `--version` from the bundle 0.29-0.33 s of CPU against
 * 0.38-0.43 s uncached, from the modules 0.81 s against 0.97. The run's own, removed with it.
 */
const COMPILE_CACHE = process.env.NODE_COMPILE_CACHE ?? join(work, 'compile-cache')
/** Each test file's CPU, and its processes' (test/cpu-account.ts), for the summary. */
const CPU_OUT = join(work, 'cpu.jsonl')
const CPU_ACCOUNT = pathToFileURL(join(here, 'cpu-account.js')).href
let runs = 0
function reporters (): { args: string[], summary: string } {
  const summary = join(work, `summary-${runs++}.jsonl`)
  // The report to the run's standard output, whatever that is (the suite's, or the file of the group beside).
  // The summary reporter appends to `summary` itself (AGENTMESH_TEST_SUMMARY_OUT, set per run in
  // run()), so that nothing is lost when the runner exits; its own destination stays empty.
  const args = [
    `--test-reporter=${process.stdout.isTTY ? 'spec' : 'tap'}`, '--test-reporter-destination=stdout',
    `--test-reporter=${join(here, 'summary-reporter.js')}`, `--test-reporter-destination=${summary}.rest`
  ]
  return { args, summary }
}

interface Group { name: string, code: number, ms: number, summary: string, hung?: string[] }
const groups: Group[] = []

/**
 * A group still running after this long has hung (a file whose test left a server or a timer
 * open never ends): the files still running are killed and named, then the group with every
 * process it started. A whole healthy group takes 3-9 minutes on a 2-core machine. 0 turns the
 * watchdog off; past 24 days (a timer's limit) it is off too.
 */
const limitMin = Number(process.env.AGENTMESH_TEST_GROUP_LIMIT_MIN ?? 30)
if (!Number.isFinite(limitMin) || limitMin < 0 || process.env.AGENTMESH_TEST_GROUP_LIMIT_MIN === '') {
  throw new Error(`AGENTMESH_TEST_GROUP_LIMIT_MIN must be minutes (0: no limit), not ${JSON.stringify(process.env.AGENTMESH_TEST_GROUP_LIMIT_MIN)}`)
}
const GROUP_LIMIT_MS = limitMin * 60_000 > 2 ** 31 - 1 ? 0 : limitMin * 60_000

/**
 * node --test's --test-timeout: it bounds each test without a limit of its own and also each
 * file as a whole (the runner's own test per file), so it is a file's limit, above the longest
 * file (the fault campaign, about 6 minutes loaded) and below the group's watchdog: a file that
 * hangs fails by name after this long, and the files queued behind it run. Tests set their own,
 * shorter limits (`test(title, { timeout }, ...)`).
 */
const TEST_LIMIT_MS = 20 * 60_000

/** The processes of process group `pgid` that run a test file, with the file (Linux's /proc; none elsewhere). */
function filesRunningIn (pgid: number): Array<{ pid: number, file: string }> {
  const found: Array<{ pid: number, file: string }> = []
  let pids: string[] = []
  try { pids = readdirSync('/proc').filter(p => /^\d+$/.test(p)) } catch { return [] }
  for (const pid of pids) {
    // The runner itself names every file of the group: only the processes it started for a file count.
    if (Number(pid) === pgid) continue
    try {
      // The process group is the 5th field of stat, counted after the command's parenthesis.
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]) !== pgid) continue
      const file = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').find(arg => /\.test\.[cm]?js$/.test(arg))
      if (file !== undefined) found.push({ pid: Number(pid), file: basename(file) })
    } catch {}
  }
  return found
}

/** SIGKILL to a process or, negative, a process group; gone already is fine. */
const kill = (pid: number): void => { try { process.kill(pid, 'SIGKILL') } catch {} }

/**
 * The process groups of the runs under way. They no longer share the suite's group, so a
 * signal to the suite is passed on to them, and whatever is left of them when it exits is killed.
 */
const running = new Set<number>()
const SIGNALS = { SIGHUP: 1, SIGINT: 2, SIGTERM: 15 } as const
for (const [signal, n] of Object.entries(SIGNALS)) {
  process.on(signal, () => {
    for (const pgid of running) { try { process.kill(-pgid, signal as NodeJS.Signals) } catch {} }
    process.exit(128 + n)
  })
}
process.on('exit', () => {
  for (const pgid of running) kill(-pgid)
  if (bundleDir !== undefined) rmSync(bundleDir, { recursive: true, force: true })
})

/**
 * The test files run from a bundle of each (tools/bundle-tests.ts), made for this run inside
 * dist/ (the packages they leave out are found from there) and removed after it:
 * AGENTMESH_TEST_BUNDLE=0 runs them as tsc wrote them.
 */
const bundling = process.env.AGENTMESH_TEST_BUNDLE !== '0'
let bundleDir: string | undefined
/** The file each test file runs from. */
let runFile = (f: string): string => f

/**
 * One `node --test` run, in a process group of its own: its report to standard output, or to
 * `file` (the group run beside another, read back and printed once that one is done).
 */
async function run (name: string, list: string[], n: string, file?: string): Promise<{ code: number, report: string }> {
  if (list.length === 0) return { code: 0, report: '' }
  const fd = file !== undefined ? openSync(file, 'w') : undefined
  const { args, summary } = reporters()
  const t0 = Date.now()
  // --test-force-exit: a file whose test failed half-way, leaving a node or a server open, ends
  // with its tests instead of at the file limit (its failure is what the report names); the
  // processes it started are killed by test/helpers.ts after its tests, and by the group's end.
  const child = spawn(process.execPath, ['--test', '--test-force-exit', `--test-concurrency=${n}`, `--test-timeout=${TEST_LIMIT_MS}`, `--import=${CPU_ACCOUNT}`, ...args, ...list.map(runFile)],
    { stdio: fd !== undefined ? ['ignore', fd, fd] : 'inherit', detached: true, env: { ...process.env, AGENTMESH_TEST_SUMMARY_OUT: summary, AGENTMESH_TEST_CPU_OUT: CPU_OUT, NODE_COMPILE_CACHE: COMPILE_CACHE } })
  if (fd !== undefined) closeSync(fd)
  const pgid = child.pid!
  running.add(pgid)
  const group: Group = { name, code: 1, ms: 0, summary }
  const exited = new Promise<number>(resolve => child.on('exit', (c) => { resolve(c ?? 1) }))
  // The hung files are killed first, so that the runner reports them as failed, and the files
  // queued behind them run and report; the group goes if it is still there 60 s later.
  let last: ReturnType<typeof setTimeout> | undefined
  const watchdog = GROUP_LIMIT_MS === 0
    ? undefined
    : setTimeout(() => {
      const hung = filesRunningIn(pgid)
      group.hung = hung.map(h => h.file)
      for (const h of hung) kill(h.pid)
      last = setTimeout(() => { kill(-pgid) }, 60_000)
    }, GROUP_LIMIT_MS)
  const code = await exited
  clearTimeout(watchdog)
  clearTimeout(last)
  // What a file started and left running when its runner ended (an agent process a test did not stop) goes with the group.
  kill(-pgid)
  running.delete(pgid)
  Object.assign(group, { code, ms: Date.now() - t0 })
  groups.push(group)
  return { code, report: file !== undefined ? readFileSync(file, 'utf8') : '' }
}

/**
 * The closing summary: each group's time and exit code, the slowest files, the counts, every
 * skip with its reason (one line per reason, with the files it skipped), every failure, what
 * this run left to the other tier, and the run's whole time.
 */
function summarize (): void {
  type Line = FailureLine | FileLine | SkipLine
  const read = (g: Group): Line[] => existsSync(g.summary)
    ? readFileSync(g.summary, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as Line)
    : []
  const out = ['', '# agentmesh suite summary']
  const fails: FailureLine[] = []
  const skips: SkipLine[] = []
  const timed: FileLine[] = []
  for (const g of groups) {
    const lines = read(g)
    const own = lines.filter((l): l is FailureLine => l.kind === 'fail')
    fails.push(...own)
    skips.push(...lines.filter((l): l is SkipLine => l.kind === 'skip'))
    // A file's line is written again after each of its tests: the last one holds its whole run.
    const last = new Map<string, FileLine>()
    for (const l of lines) if (l.kind === 'file') last.set(l.file, l)
    timed.push(...last.values())
    out.push(`#   ${g.name}: ${(g.ms / 1000).toFixed(0)} s, exit ${g.code}`)
    if (g.hung !== undefined) out.push(`#     HUNG: after ${GROUP_LIMIT_MS / 60_000} min (AGENTMESH_TEST_GROUP_LIMIT_MIN) these files were still running and were killed: ${g.hung.join(', ') || '(no test file found in /proc)'}`)
    // Failed with no failed test: a file that would not load, or the runner killed by a signal.
    if (g.code !== 0 && own.length === 0 && g.hung === undefined) out.push('#     no failed test was reported: see the group\'s report above')
  }
  // The CPU of each file's process and of the processes it started (lower bounds: test/cpu-account.ts).
  const cpu = new Map<string, CpuLine>()
  const cpuLines = existsSync(CPU_OUT) ? readFileSync(CPU_OUT, 'utf8').split('\n').filter(l => l !== '').map(l => JSON.parse(l) as CpuLine) : []
  for (const c of cpuLines) cpu.set(basename(c.file), c)
  const cpuS = (c: CpuLine): number => (c.ms + c.childrenMs) / 1000
  // Every file's time, CPU and counts, for sizing the tiers and groups (AGENTMESH_TEST_TIMES=<file>: JSON lines).
  if (process.env.AGENTMESH_TEST_TIMES !== undefined && process.env.AGENTMESH_TEST_TIMES !== '') {
    writeFileSync(process.env.AGENTMESH_TEST_TIMES, timed.map(f => {
      const c = cpu.get(basename(f.file))
      return JSON.stringify({ ...f, file: basename(f.file), cpuMs: c?.ms, childrenCpuMs: c?.childrenMs })
    }).join('\n') + '\n')
  }
  const slow = [...timed].sort((a, b) => b.ms - a.ms).slice(0, 8)
  out.push(`#   ${cliRunsFrom}`)
  out.push(`#   ${testsRunFrom}`)
  out.push(`#   slowest files: ${slow.map(f => `${basename(f.file)} ${(f.ms / 1000).toFixed(0)} s`).join(', ')}`)
  if (cpu.size > 0) {
    const all = [...cpu.values()]
    const own = all.reduce((s, c) => s + c.ms, 0) / 1000
    const started = all.reduce((s, c) => s + c.childrenMs, 0) / 1000
    out.push(`#   CPU counted: ${(own + started).toFixed(0)} s (${cpu.size} files' processes ${own.toFixed(0)} s, the processes they started and saw end ${started.toFixed(0)} s)`)
    out.push(`#   most CPU: ${all.sort((a, b) => cpuS(b) - cpuS(a)).slice(0, 10).map(c => `${basename(c.file)} ${cpuS(c).toFixed(0)} s`).join(', ')}`)
  }
  const sum = (k: 'passed' | 'failed' | 'skipped'): number => timed.reduce((n, f) => n + f[k], 0)
  out.push(`#   ${timed.length} files: ${sum('passed')} tests passed, ${sum('failed')} failed, ${sum('skipped')} skipped`)
  const byReason = new Map<string, string[]>()
  for (const k of skips) byReason.set(k.reason, [...(byReason.get(k.reason) ?? []), `${basename(k.file)}: ${k.name}`])
  for (const [reason, tests] of byReason) {
    out.push(`#   skipped ${tests.length}, ${reason}`)
    for (const t of tests) out.push(`#     - ${t}`)
  }
  out.push(`#   failed tests: ${fails.length}`)
  for (const f of fails) {
    out.push(`#   - ${basename(f.file)}: ${f.name}`)
    for (const l of f.error.split('\n')) out.push(`#       ${l}`)
  }
  if (leftOut.length > 0) {
    const other = tier === 'fast' ? '`npm run test:slow` (CI runs them once)' : '`npm test`'
    const names = leftOut.length <= 12 ? `: ${leftOut.map(f => basename(f)).join(', ')}` : ''
    out.push(`#   not run here: ${leftOut.length} files of the other tier, run by ${other}${names}`)
  }
  const ms = Date.now() - started
  out.push(`#   the run took ${Math.floor(ms / 60_000)} min ${Math.round((ms % 60_000) / 1000)} s (${given.length > 0 ? 'the files given' : tier === 'fast' ? 'npm test' : tier === 'slow' ? 'npm run test:slow' : 'every file'})`)
  process.stdout.write(out.join('\n') + '\n')
  // Kept for a reader of a long log's tail (.ci/run prints every run's summary again at its end).
  if (process.env.AGENTMESH_TEST_SUMMARY_FILE !== undefined && process.env.AGENTMESH_TEST_SUMMARY_FILE !== '') {
    appendFileSync(process.env.AGENTMESH_TEST_SUMMARY_FILE, out.join('\n') + '\n')
  }
}

if (flags.includes('--list')) {
  const name = (f: string): string => basename(f)
  process.stdout.write([
    `beside the first (one at a time): ${beside.map(name).join(', ') || '(none)'}`,
    `first (${concurrency} at a time): ${shared.map(name).join(', ') || '(none)'}`,
    `alone (one at a time): ${alone.map(name).join(', ') || '(none)'}`,
    `not run (the other tier): ${leftOut.map(name).join(', ') || '(none)'}`
  ].join('\n') + '\n')
  rmSync(work, { recursive: true, force: true })
  process.exit(0)
}

// Which CLI the tests' processes run (surfaces/cli/main.ts): the bundle, after npm test's build, takes about a third of the modules' CPU to start.
const bundle = checkBundle(PACKAGE_ROOT, BUNDLE_DIR)
const cliRunsFrom = bundle.entry !== undefined
  ? 'CLI processes ran from the bundle (dist/surfaces/cli/bundle)'
  : `CLI processes ran from the modules, slower to start (${bundle.stale ?? ''}; npm run build makes the bundle)`
process.stdout.write(`# ${cliRunsFrom.replace('ran', 'run')}\n`)

let testsRunFrom = `test files ran as tsc wrote them (${bundling ? 'the slow tier\'s and UNBUNDLED run so' : 'AGENTMESH_TEST_BUNDLE=0'})`
if (bundling && files.some(f => UNBUNDLED[basename(f)] === undefined && !isSlow(f))) {
  const t0 = Date.now()
  // A run killed outright (SIGKILL, out of memory) left its bundle: removed once its process is gone.
  for (const left of readdirSync(dirname(here))) {
    const pid = /^\.test-bundle-(\d+)-/.exec(left)?.[1]
    if (pid === undefined) continue
    try { process.kill(Number(pid), 0) } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(dirname(here), left), { recursive: true, force: true })
    }
  }
  bundleDir = mkdtempSync(join(dirname(here), `.test-bundle-${process.pid}-`))
  // The slow files run minutes each (a second of loading is nothing to them) and drive outside
  // parts from their own paths: as tsc wrote them.
  const made = await bundleTests(files.filter(f => UNBUNDLED[basename(f)] === undefined && !isSlow(f)), bundleDir)
  runFile = (f: string): string => made.files.get(f) ?? f
  testsRunFrom = `test files ran from a bundle of each (tools/bundle-tests.ts: ${made.outputs} files, ${(made.bytes / 1024 / 1024).toFixed(0)} MiB, made in ${((Date.now() - t0) / 1000).toFixed(1)} s; AGENTMESH_TEST_BUNDLE=0 runs them as tsc wrote them)`
  process.stdout.write(`# ${testsRunFrom.replace('ran', 'run')}\n`)
}

// Beside the first group, the files that may share the machine with it; their report once it is done.
const background = run('beside the first', beside, '1', join(work, 'beside.txt'))
const first = await run('first (three files at a time)', shared, concurrency)
const besides = await background
process.stdout.write(besides.report)
const second = await run('alone (one file at a time)', alone, '1')
summarize()
rmSync(work, { recursive: true, force: true })
process.exitCode = first.code === 0 && besides.code === 0 && second.code === 0 ? 0 : 1
