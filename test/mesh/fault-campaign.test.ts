/**
 * The seeded fault campaign (harness/fault-campaign.ts) in the suite: FAULTS faults (kill -9
 * and restart, partitions, cut links, SIGSTOP) on five agents in network namespaces, each with
 * its data directory, a workload of tasks and at-least-once notes running through them, and the
 * invariants checked after every round. Skipped with the reason where no namespace can be made
 * (test/requirements.ts).
 *
 * The seed is fixed (SEED, printed first), so that a red run here is a change in the code or
 * the machine, never a new draw: every run of the suite applies the same faults in the same
 * order. New seeds are explored by `npm run campaign -- --faults 1000` (a fresh seed, printed
 * first; `--seed S` replays one), and a seed that finds something is fixed and may join here.
 * AGENTMESH_TEST_FAULT_SEED runs another seed in the suite, AGENTMESH_TEST_FAULTS another count.
 *
 * FAULTS is 200, issue 14's figure: about 3 minutes on this 2-core machine (a killed agent
 * restarts while the next faults go on). It is a slow file (test/suite.ts SLOW): `npm run
 * test:slow`, which CI runs once, runs it beside the other slow files.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCampaign, summary } from '../../harness/fault-campaign.js'
import { skipWithout } from '../requirements.js'

const FAULTS = Number(process.env.AGENTMESH_TEST_FAULTS ?? 200)
/** The suite's seed: it ran clean at 200 faults beside the suite in a local .ci/run of commit 61a71ee (2026-11-27). */
const SEED = Number(process.env.AGENTMESH_TEST_FAULT_SEED ?? 1638342378)

test(`fault campaign: ${FAULTS} faults of seed ${SEED} on five hosts; one coordinator per term, no acknowledged task lost or its end changed, ` +
  'every at-least-once note delivered or dead-lettered', { timeout: 20 * 60_000 }, async (t) => {
  if (FAULTS === 0) { t.skip('AGENTMESH_TEST_FAULTS=0: the campaign is not run here'); return }
  if (skipWithout(t, 'netns')) return
  const report = await runCampaign({ faults: FAULTS, seed: SEED, perRound: [6, 10], log: (l) => { t.diagnostic(l); console.log(l) } })
  const faults = Object.values(report.faults).reduce((a, b) => a + b, 0)
  assert.ok(faults >= FAULTS, `only ${faults} faults applied`)
  for (const [kind, n] of Object.entries(report.faults)) assert.ok(n > 0, `no fault of kind ${kind}`)
  // The checks ran on something: a campaign with nothing to check proves nothing.
  assert.ok(report.tasks.acknowledged > 0 && report.checks.taskStatuses > 0, summary(report))
  assert.ok(report.checks.notes > 0 && report.checks.leaders > 0, summary(report))
  assert.deepEqual(report.findings, [], `seed ${report.seed} (npm run campaign -- --seed ${report.seed} --faults ${FAULTS} repeats it):\n${summary(report)}`)
})
