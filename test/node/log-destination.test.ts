/**
 * node/log-destination.ts, the writer of a node's JSON log lines: lines queued by many writers in
 * one process (a program running a dozen nodes) hold one process 'exit' listener between them,
 * not one each (past ten, Node warns on the host's stderr), and none once written; each writer's
 * lines arrive whole and in order.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { StderrDestination } from '../../node/log-destination.js'
import { withTempDir } from '../helpers.js'

test('a dozen writers with lines queued hold one exit listener between them, none once written; the lines arrive in order', { timeout: 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const before = process.listenerCount('exit')
    const warnings: string[] = []
    const onWarning = (w: Error): void => { warnings.push(w.name) }
    process.on('warning', onWarning)
    const files = Array.from({ length: 12 }, (_, i) => join(dir, `w${i}.log`))
    const fds = files.map(f => openSync(f, 'w'))
    try {
      const writers = fds.map(fd => new StderrDestination(fd))
      writers.forEach((w, i) => { for (let n = 0; n < 200; n++) w.write(`${JSON.stringify({ w: i, n })}\n`) })
      assert.equal(process.listenerCount('exit'), before + 1, 'one listener while lines are queued')
      await Promise.all(writers.map(async w => { await w.close() }))
      assert.equal(process.listenerCount('exit'), before, 'none once written')
      files.forEach((f, i) => {
        const lines = readFileSync(f, 'utf8').trim().split('\n').map(l => JSON.parse(l))
        assert.deepEqual(lines, Array.from({ length: 200 }, (_, n) => ({ w: i, n })), `writer ${i}`)
      })
      await new Promise(resolve => setImmediate(resolve))
      assert.deepEqual(warnings, [])
    } finally {
      process.off('warning', onWarning)
      for (const fd of fds) closeSync(fd)
    }
  })
})
