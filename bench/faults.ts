/**
 * npm run bench:faults [-- --faults 1000 --seed S --keep --env KEY=VALUE ...]: the seeded fault campaign of
 * harness/fault-campaign.ts at length (five agents in network namespaces; needs root and iproute2).
 * Prints the seed first, a line per round, then the counts of faults of each kind, rounds,
 * checks and findings. Exits 1 when an invariant broke (the seed repeats the run), 2 when no
 * lab can be made here. The lab's directory (data, and logs/ with every agent's lines and
 * stderr) is kept when there was a finding, or always with --keep; its path is printed.
 * `--env AGENTMESH_X=v` (repeated) gives every agent that setting too, e.g. the bounded graph:
 * `--env AGENTMESH_CONNECTIONS_GRAPH=views --env AGENTMESH_CONNECTIONS_ACTIVE_VIEW=2`.
 */
import { benchArgs } from './args.js'
import { runCampaign } from '../harness/fault-campaign.js'
import { netnsUnavailable } from '../harness/netns.js'

const { values } = benchArgs({ options: { faults: { type: 'string', default: '1000' }, seed: { type: 'string' }, 'per-round': { type: 'string', default: '4-8' }, keep: { type: 'boolean' }, env: { type: 'string', multiple: true } } })
const why = netnsUnavailable()
if (why !== undefined) {
  console.error(`bench:faults needs network namespaces: ${why} (run as root, with iproute2 installed)`)
  process.exit(2)
}
const [lo, hi] = (values['per-round'] ?? '4-8').split('-').map(Number)
const agentEnv: Record<string, string> = {}
for (const kv of values.env ?? []) {
  const at = kv.indexOf('=')
  if (!kv.startsWith('AGENTMESH_') || at < 0) {
    console.error(`--env takes AGENTMESH_NAME=value, not "${kv}"`)
    process.exit(2)
  }
  agentEnv[kv.slice(0, at)] = kv.slice(at + 1)
}
const report = await runCampaign({
  faults: Number(values.faults),
  ...(values.seed !== undefined ? { seed: Number(values.seed) } : {}),
  perRound: [lo, hi ?? lo],
  ...(values.keep !== undefined ? { keep: values.keep } : {}),
  agentEnv
})
const { seed, faults, rounds, checks, tasks, notes, findings } = report
console.log(JSON.stringify({ seed, faults, rounds, checks, tasks, notes, findings, seconds: report.ms / 1000 }))
process.exitCode = report.findings.length === 0 ? 0 : 1
