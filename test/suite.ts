/**
 * The suite as `npm test` runs it (compiled: `node dist/test/suite.js [file.test.js ...]`).
 *
 * Three files at a time first: most of a test's time is spent waiting (on sockets, timers, child
 * processes starting), so three files share the two cores of a CI machine well (measured on the
 * 2-core machine, quiet: 5 min 19 s for the first group against 6 min 5 s two at a time), and the tests
 * already wait for conditions with deadlines sized for a loaded host. Then, one at a time, the
 * files that need the machine to themselves: their assertions are about rates, floods and
 * timing windows that another file's CPU would eat into. A new file runs in the first group
 * unless it is named in SERIAL.
 *
 * The fault campaign, then the 50-agent live page, run beside the first group (BESIDE): minutes of
 * wall time spent mostly waiting (timed faults, agents idle between them; gossip reaching 50
 * agents), with deadlines sized for a loaded host. Their output is kept in a file and printed once
 * the first group is done, so the two reports do not interleave.
 *
 * Any group failing fails the run (exit 1), after all have run. Given files, only those run
 * (each in its group). AGENTMESH_TEST_CONCURRENCY=1 runs everything one file at a time, the
 * campaign too (in the last group).
 */
import { spawn, spawnSync } from 'node:child_process'
import { closeSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Files run alone, each with why. */
const SERIAL: Record<string, string> = {
  'netns.test.js': 'five hosts in network namespaces, kill -9, partitions and SIGSTOP past a lease',
  'limits.test.js': 'floods a peer and counts what a rate limit let through per second',
  'negotiation.test.js': 'proposals and awards inside deadline windows of a few hundred ms',
  'examples.test.js': 'the auction\'s bids in time and the pipeline\'s three workers (both failed even alone on a host at load 20)',
  'pnet.test.js': '16 MiB flat out over one connection, and the cipher against @libp2p/pnet',
  'docker.test.js': 'the StatefulSet\'s three pods as processes on 127.0.0.1-3, electing in a closed mesh',
  'task-durable.test.js': 'five agent processes killed together and restarted, elections on the local preset\'s short timeouts',
  'data-dir.test.js': 'kill -9 of a node process and its restart on the same data directory'
}

/** Files run beside the first group, each with why it may. */
const BESIDE: Record<string, string> = {
  'fault-campaign.test.js': 'five agent processes in network namespaces through 200 timed faults: minutes of waiting, little CPU',
  // After the campaign (the files beside run one at a time): its minute of 50 agents overlaps the
  // first group's last minutes, not the serial files' timing windows. Its deadlines are a loaded host's.
  'live-page-scale.test.js': '50 agents in five processes and Chromium: a minute, mostly waiting for gossip to reach everyone'
}

const here = dirname(fileURLToPath(import.meta.url))
const given = process.argv.slice(2)
const files = given.length > 0 ? given : readdirSync(here).filter(f => f.endsWith('.test.js')).sort().map(f => join(here, f))
const concurrency = process.env.AGENTMESH_TEST_CONCURRENCY ?? '3'
const besideOn = concurrency !== '1'
const isBeside = (f: string): boolean => besideOn && BESIDE[basename(f)] !== undefined
const alone = files.filter(f => !isBeside(f) && (SERIAL[basename(f)] !== undefined || BESIDE[basename(f)] !== undefined))
const shared = files.filter(f => SERIAL[basename(f)] === undefined && BESIDE[basename(f)] === undefined)
const beside = files.filter(isBeside)

/** One `node --test` run; its exit code. */
function run (list: string[], n: string): number {
  if (list.length === 0) return 0
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${n}`, ...list], { stdio: 'inherit' })
  return r.status ?? 1
}

/** A `node --test` run in the background, its report to a file (no pipe to drain while spawnSync blocks); its exit code and report. */
function start (list: string[]): Promise<{ code: number, report: string }> {
  if (list.length === 0) return Promise.resolve({ code: 0, report: '' })
  const dir = mkdtempSync(join(tmpdir(), 'agentmesh-suite-'))
  const path = join(dir, 'report.txt')
  const fd = openSync(path, 'w')
  const child = spawn(process.execPath, ['--test', '--test-concurrency=1', ...list], { stdio: ['ignore', fd, fd] })
  closeSync(fd)
  return new Promise(resolve => {
    child.on('exit', (code) => {
      const report = readFileSync(path, 'utf8')
      rmSync(dir, { recursive: true, force: true })
      resolve({ code: code ?? 1, report })
    })
  })
}

const background = start(beside)
const first = run(shared, concurrency)
const besides = await background
process.stdout.write(besides.report)
const second = run(alone, '1')
process.exitCode = first === 0 && besides.code === 0 && second === 0 ? 0 : 1
