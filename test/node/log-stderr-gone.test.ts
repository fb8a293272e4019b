/**
 * A node's JSON logs go to stderr through node/log-destination.ts, which writes out what is queued
 * when the process exits. With pino's SonicBoom destination there (sonic-boom 4.2.1, pino 10's),
 * that synchronous flush retried every failed write every 100 ms, not only EAGAIN: with stderr's
 * reader gone (EPIPE, `agentmesh start 2>&1 | head -2`) the exit never finished, and the process,
 * its ports still bound, no longer ran a signal handler: only SIGKILL ended it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'

const FIXTURE = fileURLToPath(new URL('../fixtures/stderr-gone-exit.js', import.meta.url))

test('a process exits with log lines buffered for a stderr whose reader went (EPIPE), rather than hang in its exit', { timeout: 30_000 }, async () => {
  const child = spawn(process.execPath, [FIXTURE], { stdio: ['pipe', 'pipe', 'pipe'] })
  try {
    await once(child.stdout, 'data')
    // Nobody reads stderr any more: the child's writes to it fail with EPIPE.
    child.stderr.destroy()
    const exited = once(child, 'exit')
    child.stdin.write('go\n')
    const outcome = await Promise.race([exited.then(([code]) => ({ code })), new Promise<undefined>(resolve => setTimeout(resolve, 10_000))])
    assert.ok(outcome !== undefined, 'the process did not exit within 10 s of process.exit(0): its exit handler loops on the broken stderr')
    assert.equal(outcome.code, 0)
  } finally {
    child.kill('SIGKILL')
  }
})
