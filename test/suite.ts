/**
 * The suite as `npm test` runs it (compiled: `node dist/test/suite.js [file.test.js ...]`).
 *
 * Two files at a time first: most of a test's time is spent waiting (on sockets, timers, child
 * processes starting), so two files share the two cores of a CI machine well, and the tests
 * already wait for conditions with deadlines sized for a loaded host. Then, one at a time, the
 * files that need the machine to themselves: their assertions are about rates, floods and
 * timing windows that another file's CPU would eat into. A new file runs in the first group
 * unless it is named in SERIAL.
 *
 * Either group failing fails the run (exit 1), after both have run. Given files, only those run
 * (each in its group). AGENTMESH_TEST_CONCURRENCY=1 runs everything one file at a time.
 */
import { spawnSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** Files run alone, each with why. */
const SERIAL: Record<string, string> = {
  'netns.test.js': 'five hosts in network namespaces, kill -9, partitions and SIGSTOP past a lease',
  'fault-campaign.test.js': 'five agent processes in network namespaces through 200 faults (kill -9, partitions, SIGSTOP) on the local timings, minutes long',
  'limits.test.js': 'floods a peer and counts what a rate limit let through per second',
  'negotiation.test.js': 'proposals and awards inside deadline windows of a few hundred ms',
  'examples.test.js': 'the auction\'s bids in time and the pipeline\'s three workers (both failed even alone on a host at load 20)',
  'pnet.test.js': '16 MiB flat out over one connection, and the cipher against @libp2p/pnet',
  'docker.test.js': 'the StatefulSet\'s three pods as processes on 127.0.0.1-3, electing in a closed mesh',
  'task-durable.test.js': 'five agent processes killed together and restarted, elections on the local preset\'s short timeouts',
  'data-dir.test.js': 'kill -9 of a node process and its restart on the same data directory'
}

const here = dirname(fileURLToPath(import.meta.url))
const given = process.argv.slice(2)
const files = given.length > 0 ? given : readdirSync(here).filter(f => f.endsWith('.test.js')).sort().map(f => join(here, f))
const alone = files.filter(f => SERIAL[basename(f)] !== undefined)
const shared = files.filter(f => SERIAL[basename(f)] === undefined)
const concurrency = process.env.AGENTMESH_TEST_CONCURRENCY ?? '2'

/** One `node --test` run; its exit code. */
function run (list: string[], n: string): number {
  if (list.length === 0) return 0
  const r = spawnSync(process.execPath, ['--test', `--test-concurrency=${n}`, ...list], { stdio: 'inherit' })
  return r.status ?? 1
}

const first = run(shared, concurrency)
const second = run(alone, '1')
process.exitCode = first === 0 && second === 0 ? 0 : 1
