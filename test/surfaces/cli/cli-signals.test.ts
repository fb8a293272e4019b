// SIGINT and SIGTERM while a long-running command starts (start, sub, mcp --http): it stops as
// after its start, exit 0, with nothing left listening and its data directory unlocked. The
// signal comes at a point the process reveals: its config file is a FIFO, which it opens while
// it starts (the open of its writing end returns then), and which says nothing until the
// signal was taken. Real processes on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, openSync, closeSync, constants } from 'node:fs'
import { open } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, Proc, freePort, listening, waitFor, withTempDir } from '../../helpers.js'

/**
 * Runs `args` with `-c <fifo>`, sends `signal` once the process opened the FIFO (it is starting
 * then, before any node exists), waits for it to say it took the signal, then lets it read `{}`.
 */
async function signalWhileStarting (dir: string, args: string[], signal: NodeJS.Signals): Promise<Proc> {
  const fifo = join(dir, 'config.json')
  execFileSync('mkfifo', [fifo])
  const proc = new Proc([CLI, ...args, '-c', fifo])
  // Opening the writing end returns once the process opened the reading end.
  const writer = open(fifo, 'w')
  try {
    const opened = await Promise.race([writer.then(() => true), proc.exited().then(() => false)])
    assert.ok(opened, `the process opened its config file: ${proc.described()}`)
    proc.child.kill(signal)
    await waitFor(() => proc.stderr.includes(`${signal} while starting`) || proc.child.exitCode !== null || proc.child.signalCode !== null,
      'the process to take the signal', 30_000)
    assert.ok(proc.stderr.includes(`${signal} while starting`),
      `the process took ${signal} while starting (exit ${proc.child.exitCode}, signal ${proc.child.signalCode}): ${proc.described()}`)
    const fh = await writer
    await fh.writeFile('{}')
    await fh.close()
    return proc
  } catch (err) {
    // A writer still waiting for a reader would keep this test's process alive: give it one.
    closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK))
    await writer.then(async fh => { await fh.close() }, () => {})
    await proc.stop('SIGKILL')
    throw err
  }
}

for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  test(`start: ${signal} before the node is up stops it, exit 0: no ready line, no port listening, its data directory unlocked`, { timeout: 2 * 60_000 }, async () => {
    await withTempDir(async (dir) => {
      const [port, debug, gateway] = [await freePort(), await freePort(), await freePort()]
      const data = join(dir, 'data')
      const proc = await signalWhileStarting(dir, ['start', '--json', '--open', '--no-mdns', '--preset', 'local', '--data-dir', data,
        '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--debug', `127.0.0.1:${debug}`, '--gateway', `127.0.0.1:${gateway}`], signal)
      try {
        assert.equal(await proc.exited(30_000), 0, proc.described())
        assert.equal(proc.lines.some(l => l.includes('"event":"ready"')), false, 'no ready line')
        for (const p of [port, debug, gateway]) assert.equal(await listening(p), false, `nothing listens on ${p}`)
        assert.equal(existsSync(join(data, 'LOCK')), false, 'the data directory is unlocked')
      } finally {
        await proc.stop('SIGKILL')
      }
    })
  })
}

test('sub and mcp --http: SIGTERM while they start stops them, exit 0, nothing listening', { timeout: 2 * 60_000 }, async () => {
  // Their bootstrap peer is a port nobody listens on: they would give up on it (COM002, exit 1) only after the stop.
  const nobody = `/ip4/127.0.0.1/tcp/${await freePort()}`
  for (const command of ['sub', 'mcp']) {
    await withTempDir(async (dir) => {
      const [port, http] = [await freePort(), await freePort()]
      const args = command === 'sub'
        ? ['sub', '--json', '--open', '--no-mdns', '--bootstrap', nobody, '--listen', `/ip4/127.0.0.1/tcp/${port}`, 'alerts']
        : ['mcp', '--json', '--open', '--no-mdns', '--bootstrap', nobody, '--listen', `/ip4/127.0.0.1/tcp/${port}`, '--http', `127.0.0.1:${http}`]
      const proc = await signalWhileStarting(dir, args, 'SIGTERM')
      try {
        assert.equal(await proc.exited(30_000), 0, `${command}: ${proc.described()}`)
        assert.equal(proc.lines.length, 0, `${command} printed nothing on stdout (no subscribed or ready line)`)
        for (const p of [port, http]) assert.equal(await listening(p), false, `${command}: nothing listens on ${p}`)
      } finally {
        await proc.stop('SIGKILL')
      }
    })
  }
})
