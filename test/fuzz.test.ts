/**
 * Property-based fuzzing of every decoder and schema entry point (test/fuzz-targets.ts): a short
 * run with a fixed seed. AGENTMESH_TEST_FUZZ_SEED and AGENTMESH_TEST_FUZZ_RUNS change them; the
 * long run is `npm run fuzz -- --runs N --seed S` (bench/fuzz.ts). A failure prints the seed and
 * the smallest counterexample fast-check found.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { CALL_LIMIT_MS, makeTargets, once } from './fuzz-targets.js'
import { samples } from './fuzz-samples.js'
import { withTempDir } from './helpers.js'

const SEED = Number(process.env.AGENTMESH_TEST_FUZZ_SEED ?? 13)
const RUNS = Number(process.env.AGENTMESH_TEST_FUZZ_RUNS ?? 40)

test('fuzz: every valid sample parses, so mutating it reaches past the first check', () => {
  const id = '12D3KooWLTDZ8mNdoC2YAkgd4emA2M6w6ZVNQ7Ew5yFmyrCWF2kC'
  for (const s of samples(id, id)) {
    const r = s.schema.safeParse(s.valid)
    assert.ok(r.success, `${s.name}: ${JSON.stringify(r.error?.issues)}`)
  }
})

test('fuzz: decoders and schemas return a valid value or a typed error, in time, leaving prototypes alone', async (t) => {
  t.diagnostic(`seed ${SEED}, ${RUNS} runs per target`)
  await withTempDir(async (dir) => {
    for (const target of await makeTargets(dir)) {
      await fc.assert(fc.asyncProperty(target.input, async (x) => { await once(target, x) }), {
        seed: SEED,
        numRuns: RUNS,
        // A shrink of a slow counterexample could take long: the first failure is enough here.
        endOnFailure: true,
        includeErrorInReport: true,
        timeout: 5 * CALL_LIMIT_MS
      })
    }
  })
})
