/**
 * The seeded fault campaign (harness/fault-campaign.ts) in the suite: FAULTS faults (kill -9
 * and restart, partitions, cut links, SIGSTOP) on five agents in network namespaces, each with
 * its data directory, a workload of tasks and at-least-once notes running through them, and the
 * invariants checked after every round. The seed is printed first; AGENTMESH_TEST_FAULT_SEED
 * repeats a run. Skipped with the reason where no namespace can be made (test/requirements.ts).
 * `npm run bench:faults -- --faults 1000` runs a longer one.
 *
 * FAULTS is 200 in the suite, issue 14's figure: about 3 minutes on this 2-core machine (a
 * killed agent restarts while the next faults go on), run beside the first group of files
 * (test/suite.ts BESIDE). AGENTMESH_TEST_FAULTS sets another count.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runCampaign, summary } from '../../harness/fault-campaign.js'
import { skipWithout } from '../requirements.js'

const FAULTS = Number(process.env.AGENTMESH_TEST_FAULTS ?? 200)

test(`fault campaign: ${FAULTS} seeded faults on five hosts; one coordinator per term, no acknowledged task lost or its end changed, ` +
  'every at-least-once note delivered or dead-lettered', { timeout: 20 * 60_000 }, async (t) => {
  if (skipWithout(t, 'netns')) return
  const report = await runCampaign({ faults: FAULTS, perRound: [6, 10], log: (l) => { t.diagnostic(l); console.log(l) } })
  const faults = Object.values(report.faults).reduce((a, b) => a + b, 0)
  assert.ok(faults >= FAULTS, `only ${faults} faults applied`)
  for (const [kind, n] of Object.entries(report.faults)) assert.ok(n > 0, `no fault of kind ${kind}`)
  // The checks ran on something: a campaign with nothing to check proves nothing.
  assert.ok(report.tasks.acknowledged > 0 && report.checks.taskStatuses > 0, summary(report))
  assert.ok(report.checks.notes > 0 && report.checks.leaders > 0, summary(report))
  assert.deepEqual(report.findings, [], `seed ${report.seed} (AGENTMESH_TEST_FAULT_SEED=${report.seed} repeats it):\n${summary(report)}`)
})
