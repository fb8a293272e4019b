/**
 * npm run fuzz -- [--runs N] [--seed S] [--only TEXT]: the long run of the fuzz properties of
 * harness/fuzz-targets.ts (the suite runs 40 per target with a fixed seed). Prints the seed first,
 * so a failure can be replayed with `--seed S --only <target>`, and for a failure the smallest
 * counterexample fast-check found and the error. Exits 1 when any target fails.
 */
import { benchArgs } from './args.js'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { CALL_LIMIT_MS, makeTargets, once } from '../harness/fuzz-targets.js'

const { values } = benchArgs({
  options: { runs: { type: 'string', default: '2000' }, seed: { type: 'string' }, only: { type: 'string' } }
})
const runs = Number(values.runs)
const seed = values.seed !== undefined ? Number(values.seed) : Math.floor(Math.random() * 2 ** 31)
if (!Number.isSafeInteger(runs) || runs < 1 || !Number.isSafeInteger(seed)) {
  console.error('usage: npm run fuzz -- [--runs N] [--seed S] [--only TEXT]')
  process.exit(2)
}
console.log(`fuzz: seed ${seed}, ${runs} runs per target (replay: npm run fuzz -- --seed ${seed} --runs ${runs})`)

const dir = await mkdtemp(join(tmpdir(), 'agentmesh-fuzz-'))
let failed = 0
try {
  const targets = (await makeTargets(dir)).filter(t => values.only === undefined || t.name.includes(values.only))
  for (const target of targets) {
    const started = performance.now()
    const details = await fc.check(fc.asyncProperty(target.input, async (x) => { await once(target, x) }), {
      seed, numRuns: runs, timeout: 5 * CALL_LIMIT_MS, includeErrorInReport: true
    })
    const took = ((performance.now() - started) / 1000).toFixed(1)
    if (!details.failed) {
      console.log(`ok    ${target.name} (${details.numRuns} runs, ${took} s)`)
      continue
    }
    failed++
    console.log(`FAIL  ${target.name} (${took} s)`)
    console.log(fc.defaultReportMessage(details)?.slice(0, 20_000))
  }
} finally {
  await rm(dir, { recursive: true, force: true })
}
console.log(failed === 0 ? 'fuzz: every target held' : `fuzz: ${failed} target(s) failed; seed ${seed}`)
process.exitCode = failed === 0 ? 0 : 1
