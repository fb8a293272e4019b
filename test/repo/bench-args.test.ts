/**
 * The benches' command lines (bench/args.ts): `--help` lists the options a bench takes, and a
 * wrong option is answered by that list and exit code 2, not by a stack trace out of node's
 * internals (as `npm run bench -- --help` was).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { DIST } from '../helpers.js'

const bench = (file: string, args: string[]): { status: number | null, stdout: string, stderr: string } =>
  spawnSync(process.execPath, [join(DIST, 'bench', file), ...args], { encoding: 'utf8', timeout: 30_000 })

test('benches: --help lists the options; an unknown option or a missing value is refused with that list and exit code 2', { timeout: 60_000 }, () => {
  const help = bench('run.js', ['--help'])
  assert.equal(help.status, 0, help.stderr)
  assert.match(help.stdout, /usage: node dist\/bench\/run\.js/)
  for (const option of ['--quick', '--only VALUE', '--scenario VALUE']) assert.ok(help.stdout.includes(option), `${option} in:\n${help.stdout}`)
  const unknown = bench('inprocess.js', ['--bogus'])
  assert.equal(unknown.status, 2)
  assert.match(unknown.stderr, /Unknown option '--bogus'/)
  assert.match(unknown.stderr, /--runs VALUE \(default 3\)/)
  assert.doesNotMatch(unknown.stderr, /at .*node:internal/, 'no stack trace')
  const missing = bench('inprocess.js', ['--runs'])
  assert.equal(missing.status, 2)
  assert.match(missing.stderr, /--runs/)
  assert.doesNotMatch(missing.stderr, /at .*node:internal/)
})
