/**
 * node dist/bench/seed-join.js [--joins 100] [--batch 25] [--preset lan] [--profile DIR]
 *
 * What one newcomer costs the seed it joins through, apart from everything else a join wave
 * does (docs/benchmarks.md, "The 200-agent join, looked at over time": at 200 agents the seeds
 * took newcomers in at 2-5 a second on their share of two cores). One seed in a process of its
 * own; newcomers started one at a time in a second process, each bootstrapping from the seed, the
 * next once the seed sees the last one alive. So the machine is never overloaded and each join
 * is timed alone, while the seed's state and connections grow as in a wave.
 *
 * Per batch of joins: wall time per join (start to the seed seeing it alive), the seed's CPU per
 * join and the newcomers' process's per join (over the batch: what the joins cost, and what the
 * agents already there cost meanwhile), and after the batch the seed's CPU at rest (ms a second,
 * over 2 s) to tell the two apart. `--profile DIR`: CPU profiles of the seed's process and the
 * newcomers' over the whole run, in DIR/seed and DIR/newcomers (bench/profile-summary.js reads them).
 */
import { benchArgs } from './args.js'
import { fileURLToPath } from 'node:url'
import { ForkedWorker } from './forked-worker.js'

const { values } = benchArgs({
  options: {
    joins: { type: 'string', default: '100' },
    batch: { type: 'string', default: '25' },
    preset: { type: 'string', default: 'lan' },
    profile: { type: 'string' }
  }
})
const WORKER = fileURLToPath(new URL('./scale-worker.js', import.meta.url))
const joins = Number(values.joins)
const batch = Number(values.batch)
const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }

const profile = (dir: string): string[] => values.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', `${values.profile}/${dir}`] : []
const seedWorker = new ForkedWorker(WORKER, [], profile('seed'))
const joiners = new ForkedWorker(WORKER, [], profile('newcomers'))
const cpu = async (w: ForkedWorker): Promise<number> => (await w.call('progress') as { cpuMs: number }).cpuMs
const seen = async (): Promise<number> => (await seedWorker.call('status') as Array<{ alive: number }>)[0].alive
try {
  const mesh = `seedjoin${process.pid}`
  const [seed] = await seedWorker.call('start', { mesh, preset: values.preset, first: 0, count: 1, seeds: [] }) as Array<{ addr: string }>
  await sleep(2_000)
  const rows: Array<Record<string, number>> = []
  for (let done = 0; done < joins;) {
    const s0 = await cpu(seedWorker)
    const j0 = await cpu(joiners)
    const t0 = performance.now()
    const n = Math.min(batch, joins - done)
    for (let i = 0; i < n; i++, done++) {
      await joiners.call('start', { mesh, preset: values.preset, first: done + 1, count: 1, seeds: [seed.addr], gapMs: 0 })
      for (const until = performance.now() + 30_000; await seen() < done + 1 && performance.now() < until;) await sleep(50)
    }
    const wall = performance.now() - t0
    const s1 = await cpu(seedWorker)
    const j1 = await cpu(joiners)
    await sleep(2_000)
    const s2 = await cpu(seedWorker)
    rows.push({
      members: done + 1,
      wallMsPerJoin: Math.round(wall / n),
      seedCpuMsPerJoin: Math.round((s1 - s0) / n * 10) / 10,
      newcomersCpuMsPerJoin: Math.round((j1 - j0) / n * 10) / 10,
      seedAtRestMsPerS: Math.round((s2 - s1) / 2)
    })
  }
  console.log(JSON.stringify(rows))
  console.table(rows)
} finally {
  for (const w of [joiners, seedWorker]) { await w.call('stop', {}, 30_000).catch(() => {}); await w.kill() }
}
