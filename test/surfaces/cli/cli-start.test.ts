// agentmesh start as a newcomer runs it: what it says about the coordinator, and how it ends
// when the npm process that started it is killed. Real processes on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { writePsk } from '../../../node/psk.js'
import { CLI, listening, Proc, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

async function startCli (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ proc: Proc, ready: any }> {
  const proc = new Proc([CLI, 'start', '--json', '--no-mdns', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0', ...args], env)
  try {
    return { proc, ready: await proc.json(o => o.event === 'ready', 'the ready line') }
  } catch (err) {
    // A node that never said it was ready must not outlive the test (the runner would wait for it for good).
    await proc.stop()
    throw err
  }
}

test('start prints one line when a coordinator takes office (two nodes with bootstrapExpect 2)', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const env = { AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '2' }
  const a = await startCli(['--name', 'c1', '--mesh', mesh, '--debug', '127.0.0.1:0'], env)
  let b: Awaited<ReturnType<typeof startCli>> | undefined
  try {
    b = await startCli(['--name', 'c2', '--mesh', mesh, '--bootstrap', a.ready.addresses[0]], env)
    const elected = (o: any): boolean => o.event === 'coordinator' && typeof o.leader === 'string'
    const seenByA = await a.proc.json(elected, 'c1 to print the coordinator', 30_000)
    const seenByB = await b.proc.json(elected, 'c2 to print the coordinator', 30_000)
    assert.equal(seenByA.leader, seenByB.leader)
    assert.ok([a.ready.peerId, b.ready.peerId].includes(seenByA.leader))
    assert.equal(seenByA.self, seenByA.leader === a.ready.peerId)
    assert.equal(seenByA.name, seenByA.leader === a.ready.peerId ? 'c1' : 'c2')
    assert.equal(typeof seenByA.term, 'number')
    assert.equal(seenByA.reason, null)
    // One line per change: the same coordinator is not printed twice.
    const lines = a.proc.lines.filter(l => l.includes('"event":"coordinator"')).map(l => JSON.parse(l))
    const keys = lines.map(o => JSON.stringify([o.leader, o.term, o.reason]))
    assert.equal(new Set(keys).size, keys.length, lines.map(l => JSON.stringify(l)).join('\n'))
    // status marks the same agent as the coordinator, in its column and its JSON. Its rows are
    // the watcher's map, which has an agent once that agent's first topology announcement came
    // (mesh-announcer.ts), possibly after the coordinator line: CI once ran status 1 s after the
    // election and got c1's row alone. So status is asked again until it lists both.
    let rows: any[] = []
    await waitFor(async () => {
      const st = new Proc([CLI, 'status', '--json', a.ready.debug])
      assert.equal(await st.exited(), 0, st.stderr)
      rows = JSON.parse(st.lines[0])
      return rows.length === 2
    }, 'status to list both agents (c1\'s map to hold c2\'s announcement)', 30_000).catch((err: Error) => {
      throw new Error(`${err.message}; rows last seen: ${JSON.stringify(rows)}`)
    })
    assert.deepEqual(rows.filter(r => r.coordinator).map(r => r.peerId), [seenByA.leader])
    const table = new Proc([CLI, 'status', a.ready.debug])
    assert.equal(await table.exited(), 0, table.stderr)
    assert.match(table.lines[0], new RegExp(`^as c1 sees it \\(first row\\); coordinator ${seenByA.name} \\(term \\d+\\)$`))
    assert.ok(table.lines.some(l => l.startsWith(`${seenByA.name} `) && /\byes\s+12D3Koo/.test(l)), table.lines.join('\n'))
  } finally {
    await a.proc.stop()
    await b?.proc.stop()
  }
})

test('a lone node says why it has no coordinator (with the reason of issue 18 in node.coordinator())', { timeout: 3 * 60_000 }, async () => {
  const a = await startCli(['--name', 'alone', '--mesh', uniqueMesh()])
  try {
    const why = await a.proc.json(o => o.event === 'coordinator' && o.leader === null && typeof o.reason === 'string', 'the reason', 10_000)
    assert.match(why.reason, /waiting for 3 eligible agents/)
  } finally {
    await a.proc.stop()
  }
})

test('the ready block names the mesh, the security mode and whether a mesh key is in use (human and --json)', { timeout: 3 * 60_000 }, async () => {
  // Issue 44: a node of another mesh, or one without the key, sees no one and says nothing; the
  // ready block is where a newcomer reads which of the three this node has.
  await withTempDir(async (dir) => {
    const psk = join(dir, 'mesh.psk')
    await writePsk(psk)
    const mesh = uniqueMesh()
    const keyed = await startCli(['--name', 'keyed', '--mesh', mesh, '--open', '--psk', psk, '--no-data-dir'])
    const text = new Proc([CLI, 'start', '--no-mdns', '--open', '--no-data-dir', '--listen', '/ip4/127.0.0.1/tcp/0', '--name', 'plain', '--mesh', `${mesh}-b`])
    try {
      assert.equal(keyed.ready.mesh, mesh)
      assert.equal(keyed.ready.security, 'open')
      assert.equal(keyed.ready.meshKey, true)
      await waitFor(() => text.lines.some(l => l.startsWith('  data ')) || text.child.exitCode !== null, 'the text ready block', 30_000)
      const block = text.lines.join('\n')
      assert.ok(text.lines.includes(`  mesh     ${mesh}-b`), block)
      assert.match(block, /^ {2}security OPEN/m)
      assert.match(block, /^ {2}mesh key none/m)
    } finally {
      await Promise.all([keyed.proc.stop(), text.stop()])
    }
  })
})

test('start through npm: when npm is killed (it does not pass the signal on), the node stops and frees its port', { timeout: 3 * 60_000 }, async () => {
  // The parent stands in for `npm exec`: it sets what npm sets and shares its stdout with the
  // node it starts, so this test reads the node's lines; SIGKILL lets it pass nothing on.
  const parent = new Proc(['-e', `
    const { spawn } = require('node:child_process')
    const child = spawn(process.execPath, process.argv.slice(1), { stdio: 'inherit', env: { ...process.env, npm_command: 'exec' } })
    console.log(JSON.stringify({ event: 'child', pid: child.pid }))
    setInterval(() => {}, 1000)
  `, CLI, 'start', '--open', '--json', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--mesh', uniqueMesh()])
  let pid: number | undefined
  try {
    pid = (await parent.json(o => o.event === 'child', 'the child pid')).pid as number
    const ready = await parent.json(o => o.event === 'ready', 'the node to be ready')
    const port = Number(/\/tcp\/(\d+)\//.exec(ready.addresses[0])?.[1])
    assert.ok(await listening(port), 'the node listens')
    parent.child.kill('SIGKILL')
    await parent.exited()
    await waitFor(() => !alive(pid as number), 'the node to exit once its parent is gone', 30_000)
    assert.equal(await listening(port), false, 'its port is free')
  } finally {
    await parent.stop()
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL')
  }
})

test('start through npm: npm killed while the node started (before its watch was set up) still stops it', { timeout: 3 * 60_000 }, async () => {
  // The node's start takes a second or more after its modules loaded; npm killed in between
  // re-parents it before the watch begins. The child stands in for the node: it loads the watch's
  // module, waits until npm's stand-in is gone, and only then sets the watch up, as a slow start would.
  const watch = new URL('../../../surfaces/cli/parent-watch.js', import.meta.url).href
  const node = `
    const { stopWithNpmParent } = await import(${JSON.stringify(watch)})
    const before = process.ppid
    console.log(JSON.stringify({ event: 'loaded', pid: process.pid }))
    const t = setInterval(() => {
      if (process.ppid === before) return
      clearInterval(t)
      stopWithNpmParent(() => { process.exit(0) }, { npm_command: 'exec' })
    }, 50)
    setInterval(() => {}, 1000)
  `
  const parent = new Proc(['-e', `
    const { spawn } = require('node:child_process')
    spawn(process.execPath, ['--input-type=module', '-e', ${JSON.stringify(node)}], { stdio: 'inherit' })
    setInterval(() => {}, 1000)
  `])
  let pid: number | undefined
  try {
    pid = (await parent.json(o => o.event === 'loaded', 'the stand-in node to load the watch')).pid as number
    parent.child.kill('SIGKILL')
    await parent.exited()
    await waitFor(() => !alive(pid as number), 'the stand-in node to stop, its npm gone before the watch began', 20_000)
  } finally {
    await parent.stop()
    if (pid !== undefined && alive(pid)) process.kill(pid, 'SIGKILL')
  }
})

/** Running (a zombie waiting for its new parent to reap it counts as gone). */
function alive (pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return false
  }
}

test('a stop that never finishes does not keep the process: it exits 1 after its grace, and says why', { timeout: 3 * 60_000 }, async () => {
  // The CLI's own signal handling (surfaces/cli/common.ts), given a stop that waits forever (a peer or
  // a disk that never answers) and a grace of half a second.
  const common = new URL('../../../surfaces/cli/common.js', import.meta.url).href
  const proc = new Proc(['--input-type=module', '-e', `
    import { onSignals } from ${JSON.stringify(common)}
    onSignals(500).stopWith(() => new Promise(() => {}))
    setInterval(() => {}, 1000)
    console.log(JSON.stringify({ event: 'ready' }))
  `])
  try {
    await proc.json(o => o.event === 'ready', 'the process to be ready')
    proc.child.kill('SIGTERM')
    assert.equal(await proc.exited(10_000), 1)
    assert.match(proc.stderr, /the stop did not finish in 500 ms: exiting without it/)
  } finally {
    await proc.stop('SIGKILL')
  }
})

test('the ready block gives a debug endpoint and a gateway bound to every interface at an address a person can open', { timeout: 2 * 60_000 }, async () => {
  const token = 'a-token-of-32-characters-at-last'
  const proc = new Proc([CLI, 'start', '--open', '--no-mdns', '--no-data-dir', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0',
    '--debug', '0.0.0.0:0', '--debug-token', token, '--gateway', '0.0.0.0:0', '--gateway-token', token])
  try {
    await waitFor(() => proc.lines.some(l => l.startsWith('  data ')) || proc.child.exitCode !== null, 'the ready block', 60_000)
    const debug = proc.lines.find(l => l.startsWith('  debug '))
    assert.match(debug ?? '', /^ {2}debug {4}http:\/\/127\.0\.0\.1:\d+ \(listening on every interface, 0\.0\.0\.0\)$/, proc.described())
    const gateway = proc.lines.find(l => l.startsWith('  gateway '))
    assert.match(gateway ?? '', /^ {2}gateway {2}http:\/\/127\.0\.0\.1:\d+\/v1 \(REST; WebSocket at ws:\/\/127\.0\.0\.1:\d+\/v1\/ws; listening on every interface, 0\.0\.0\.0\)$/)
    // Opened as printed, it answers.
    const url = (debug as string).split(/\s+/)[2]
    const health = await fetch(`${url}/health`, { headers: { authorization: `Bearer ${token}` } })
    assert.equal(health.status, 200)
  } finally {
    await proc.stop()
  }
})
