/**
 * The node's lifecycle through its ordered list of services: every service's start() and stop()
 * are safe to call twice (and stop() before start()), and a node whose services were walked so
 * stops cleanly, leaving no timer behind, nor a process listener in the process that embeds it.
 * Also waitForAgent, which waits on joins.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { CLOSE_WAIT_MS } from '../../node/log-destination.js'
import { AbortError, ConnectionError, createAgentNode, TimeoutError, type AgentNode } from '../../surfaces/index.js'
import { freePort, listening, nodeOptions, Proc, startMesh, stopAll, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const LISTENER_HOST = fileURLToPath(new URL('../fixtures/listener-host.js', import.meta.url))

/** Timers and intervals still armed in this process (unref'd ones included). */
function timers (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'Timeout').length
}

test('every service of a started node survives start() twice and stop() twice; the node stops cleanly after', { timeout: 3 * 60_000 }, async () => {
  const before = timers()
  const [a, b] = await startMesh(2, (i) => i === 0 ? { debug: '127.0.0.1:0' } : {})
  try {
    const services = a.services
    // the audit log, dead letters, libp2p, rpc, pubsub, admission (and the pubsub flush), membership, member view, the hang-up
    // of agents held offline, the reconnect to them, coordination, the links between voters,
    // resources, negotiation, monitoring, learning, tasks, dialer, bootstrap, the hand-offs, mesh announcer, the watcher's
    // dials of agents off its map, the topic links, delivery, debug feed, the live page's rate rings, event stream, debug server.
    assert.equal(services.length, 29)
    b.handle('echo', (req) => req)
    for (const s of services) {
      await s.start()
      await s.start()
    }
    assert.deepEqual(await a.request(b.peerId, 'echo', { n: 1 }), { n: 1 }, 'the node still answers after every service was started again')
    const health: any = await (await fetch(`${a.debugUrl as string}/health`)).json()
    assert.equal(health.status, 'ok')
    for (const s of [...services].reverse()) {
      await s.stop()
      await s.stop()
    }
    await a.stop()
    await a.stop()
    assert.equal(a.health().status, 'stopped')
  } finally {
    await stopAll([a, b])
  }
  await waitFor(() => timers() <= before, `no timer left once the nodes stopped (had ${before}, now ${timers()})`, 5_000)
})

// In a process of its own: this file's other nodes (and the runner) would have put their own
// listeners in the count before it began.
test('stopped nodes leave their host process\'s listeners as they found them: JSON and pretty logs, a node never started; a line logged after stop is written', { timeout: 2 * 60_000 }, async () => {
  const host = new Proc([LISTENER_HOST])
  try {
    await host.json(o => o.event === 'done', 'the host process to run its nodes', 60_000)
    assert.equal(await host.exited(30_000), 0, host.described())
    const steps = host.lines.map(l => JSON.parse(l)).filter(o => o.step !== undefined)
    const before = steps[0].listeners
    // pino's destination held a process 'exit' listener for good (to write out its buffer at exit);
    // ours holds one only while lines are queued (node/log-destination.ts), so once a node stopped
    // the count must be the one before any node (while it runs, its start's lines may be queued).
    for (const s of steps.slice(1).filter(s => s.step !== 'json started')) assert.deepEqual(s.listeners, before, `${s.step as string}: as before any node`)
    assert.match(host.stderr, /"msg":"node stopped"/, 'the stopped node\'s last line was written out')
    assert.match(host.stderr, /"msg":"a line logged after stop"/)
  } finally {
    await host.stop()
  }
})

test('a node whose host\'s stderr is a pipe nobody reads still stops: its logger\'s close waits a while, not for good', { timeout: 2 * 60_000 }, async () => {
  // Not Proc: it reads stderr. Here stderr is piped and never read, so the pipe fills.
  const child = spawn(process.execPath, [LISTENER_HOST, 'stderr-unread'], { stdio: ['ignore', 'pipe', 'pipe'] })
  child.stderr.pause()
  try {
    let out = ''
    child.stdout.on('data', (b: Buffer) => { out += b.toString() })
    await waitFor(() => out.includes('"step":"stopped"'), 'stop() to return with stderr full', 60_000)
    const { ms } = JSON.parse(out.split('\n').find(l => l.includes('"step":"stopped"')) as string)
    assert.ok(ms >= CLOSE_WAIT_MS - 100, `stop() waited for the log lines a while (${ms as number} ms): what makes this test one`)
  } finally {
    child.kill('SIGKILL')
  }
})

test('every service of a node never started may be stopped, twice; the node then stops', { timeout: 3 * 60_000 }, async () => {
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { debug: '127.0.0.1:0' }))
  for (const s of [...node.services].reverse()) {
    await s.stop()
    await s.stop()
  }
  await node.stop()
  assert.equal(node.started, false)
})

test('a start given up (its signal aborted, or stop() called meanwhile) stops what had started: the port is free, the data directory unlocked', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const nodes: AgentNode[] = []
    const make = async (name: string, port?: number): Promise<AgentNode> => {
      const node = await createAgentNode(nodeOptions(uniqueMesh(), { ...(port !== undefined ? { listen: [`/ip4/127.0.0.1/tcp/${port}`] } : {}), dataDir: join(dir, name) }))
      nodes.push(node)
      return node
    }
    let release = (): void => {}
    try {
      // Its signal aborted once libp2p listens (an attached part starts after every service).
      const port = await freePort()
      const node = await make('a', port)
      const controller = new AbortController()
      const reason = new AbortError('SIGTERM: stopping')
      let wasListening = false
      node.attach({ start: async () => { wasListening = await listening(port); controller.abort(reason) }, stop: () => {} })
      await assert.rejects(node.start({ signal: controller.signal }), (err) => err === reason)
      assert.ok(wasListening, 'the node listened before its start was given up')
      assert.equal(await listening(port), false, 'nothing listens once the start gave up')
      assert.equal(existsSync(join(dir, 'a', 'LOCK')), false, 'the data directory is unlocked')
      assert.equal(node.health().status, 'stopped')

      // stop() while a part is still starting: it waits for the start to give up, which rejects with COM002.
      const port2 = await freePort()
      const other = await make('b', port2)
      let reached = (): void => {}
      const atPart = new Promise<void>(resolve => { reached = resolve })
      let laterStarted = false
      other.attach({ start: async () => { reached(); await new Promise<void>(resolve => { release = resolve }) }, stop: () => {} })
      other.attach({ start: () => { laterStarted = true }, stop: () => {} })
      const starting = other.start()
      await atPart
      const stopping = other.stop()
      release()
      await assert.rejects(starting, (err: Error) => err instanceof ConnectionError)
      await stopping
      assert.equal(laterStarted, false, 'the part after the stop was not started')
      assert.equal(await listening(port2), false)
      assert.equal(existsSync(join(dir, 'b', 'LOCK')), false)

      // A node never started: its stop() closes the store it opened, so the directory opens again.
      const idle = await make('c')
      await idle.stop()
      assert.equal(existsSync(join(dir, 'c', 'LOCK')), false)
      await (await make('c')).stop()
    } finally {
      release()
      await Promise.all(nodes.map(async n => { await n.stop() }))
    }
  })
})

test('a second start() while the first is under way settles with it: resolved once the node has started, rejected with the first\'s error', { timeout: 3 * 60_000 }, async () => {
  const nodes: AgentNode[] = []
  let release = (): void => {}
  try {
    const node = await createAgentNode(nodeOptions(uniqueMesh()))
    nodes.push(node)
    let reached = (): void => {}
    const atPart = new Promise<void>(resolve => { reached = resolve })
    node.attach({ start: async () => { reached(); await new Promise<void>(resolve => { release = resolve }) }, stop: () => {} })
    const first = node.start()
    await atPart
    let secondDone = false
    const second = node.start().then(() => { secondDone = true })
    await new Promise(resolve => setTimeout(resolve, 200))
    assert.equal(secondDone, false, 'the second start() waits while a part is still starting')
    release()
    await Promise.all([first, second])
    assert.equal(node.started, true)

    // The first fails (a part throws): the second rejects with the same error.
    const failing = await createAgentNode(nodeOptions(uniqueMesh()))
    nodes.push(failing)
    const boom = new Error('the part could not start')
    let fail = (): void => {}
    let failReached = (): void => {}
    const atFailing = new Promise<void>(resolve => { failReached = resolve })
    failing.attach({ start: async () => { failReached(); await new Promise<void>(resolve => { fail = resolve }); throw boom }, stop: () => {} })
    const a = failing.start()
    await atFailing
    const b = failing.start()
    fail()
    await assert.rejects(a, (err) => err === boom)
    await assert.rejects(b, (err) => err === boom)
    assert.equal(failing.started, false)
  } finally {
    release()
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
})

test('waitForAgent: resolves with an agent already known, with one that joins later, and rejects with the signal\'s reason', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = await startMesh(2, (i) => ({ capabilities: i === 1 ? ['translate'] : [], roles: i === 1 ? ['worker'] : [] }))
  let late
  try {
    assert.equal((await a.waitForAgent({ capability: 'translate' })).peerId, b.peerId)
    assert.equal((await a.waitForAgent({ role: 'worker', name: 'n1' })).peerId, b.peerId)
    const waiting = a.waitForAgent({ capability: 'summarise' })
    late = await createAgentNode(nodeOptions(a.config.mesh, { name: 'late', capabilities: ['summarise'], bootstrap: [a.addresses()[0]] }))
    await late.start()
    const found = await waiting
    assert.equal(found.peerId, late.peerId)
    assert.deepEqual(found.capabilities, ['summarise'])
    const reason = new Error('gave up')
    const controller = new AbortController()
    const never = a.waitForAgent({ name: 'nobody' }, { signal: controller.signal })
    controller.abort(reason)
    // As everywhere in the node's API: the reason, as a typed AbortError carrying its message.
    const aborted = (e: Error): boolean => e instanceof AbortError && e.message === 'gave up'
    await assert.rejects(never, aborted)
    await assert.rejects(a.waitForAgent({ name: 'nobody' }, { signal: AbortSignal.abort(reason) }), aborted)
    await assert.rejects(a.waitForAgent({ name: 'nobody' }, { signal: AbortSignal.timeout(50) }), (e: Error) => e instanceof TimeoutError)
  } finally {
    await stopAll([a, b, late])
  }
})

test('stop() ends the waits on the mesh: joined, waitForAgent, waitForSubscribers and coordinatorElected reject with COM002, then and after', { timeout: 3 * 60_000 }, async () => {
  // Alone and not eligible: no peer joins, no subscriber comes, no coordinator is elected.
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'alone', coordination: { eligible: false } }))
  await node.start()
  const stopped = (e: Error): boolean => e instanceof ConnectionError && e.code === 'COM002' && e.message === 'the node stopped'
  try {
    // With and without a signal of the caller's: a long timeout of its own does not hold the wait past the stop.
    const waits = [
      node.joined(),
      node.waitForAgent({ capability: 'nothing' }, { signal: AbortSignal.timeout(600_000) }),
      node.waitForSubscribers('nobody-reads'),
      node.coordinatorElected()
    ]
    const settled = Promise.allSettled(waits)
    await node.stop()
    for (const r of await settled) {
      assert.equal(r.status, 'rejected')
      assert.ok(stopped((r as PromiseRejectedResult).reason), String((r as PromiseRejectedResult).reason))
    }
    // Begun on a stopped node: rejected at once, not left pending.
    await assert.rejects(node.waitForAgent({ capability: 'nothing' }), stopped)
    await assert.rejects(node.coordinatorElected(), stopped)
    // What is already true still answers.
    await assert.doesNotReject(node.joined({ min: 0 }))
  } finally {
    await node.stop()
  }
})
