/**
 * node dist/bench/task-table.js [--records 100000]: what the task table's per-task look-ups and a
 * takeover's read cost with many finished records retained (they stay FINISHED_RETENTION_MS,
 * ten minutes: 600,000 at 1,000 tasks a second), and a few hundred open ones. No network.
 */
import { benchArgs } from './args.js'
import { TaskTable, finishPatch } from '../protocols/task/table.js'
import { TaskSpec } from '../protocols/task/schemas.js'

const { values } = benchArgs({ options: { records: { type: 'string', default: '100000' }, open: { type: 'string', default: '400' } } })
const n = Number(values.records)
const open = Number(values.open)
const t = new TaskTable()
const now = Date.now()
const specs = Array.from({ length: n + open }, (_, i) => TaskSpec.parse({ type: 'work', task_id: `task-${String(i).padStart(8, '0')}` }))
t.submit(specs, 'submitter', now)
for (let i = 0; i < n; i++) {
  const r = t.get(specs[i].task_id)
  if (r === undefined) continue
  t.apply(r, { status: 'assigned', agent: `w${i % 10}`, attempt: 1 }, now)
  t.apply(r, finishPatch('completed', {}), now)
}
const time = (what: string, times: number, fn: () => unknown): void => {
  const t0 = performance.now()
  for (let i = 0; i < times; i++) fn()
  const ms = performance.now() - t0
  console.log(`${what.padEnd(44)} ${(1000 * ms / times).toFixed(1).padStart(10)} µs each (${times} times)`)
}
console.log(`task table: ${n} finished records, ${open} queued`)
time('queue() (each schedule)', 200, () => t.queue())
time('load() (each placement)', 200, () => t.load())
time('nextDeadline() (each submit and end)', 200, () => t.nextDeadline())
time('prune() with nothing due (every second)', 200, () => t.prune(now))
const t0 = performance.now()
let after: string | undefined
let pages = 0
for (;;) {
  const p = t.page(after, 200)
  pages++
  if (!p.more || p.records.length === 0) break
  after = p.records[p.records.length - 1].spec.task_id
}
console.log(`a takeover's read of the table, ${pages} pages of 200: ${(performance.now() - t0).toFixed(0)} ms`)
