/**
 * npm run bench:scale [-- --traffic 10,30,50]
 */
import { parseArgs } from 'node:util'
import { measureTraffic } from './scale-traffic.js'

const { values } = parseArgs({
  options: {
    traffic: { type: 'string' },
    preset: { type: 'string', default: 'lan' },
    window: { type: 'string', default: '15' },
    settle: { type: 'string', default: '5' }
  }
})

if (values.traffic !== undefined) {
  const rows = []
  for (const n of values.traffic.split(',').map(Number)) {
    const row = await measureTraffic(n, { preset: values.preset as 'lan', settleMs: Number(values.settle) * 1000, windowMs: Number(values.window) * 1000, convergeMs: 120_000 })
    console.log(JSON.stringify(row))
    rows.push(row)
  }
  console.table(rows)
}
