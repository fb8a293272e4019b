// Dead letters (issue 14) through real nodes: letters added through a node's DeadLetters (the
// delivery service, built apart, adds them the same way), read over /dead-letters and with the
// `agentmesh dead-letters` process, replayed over a real rpc stream to a second node under the
// original envelope id, purged, bounded with evictions counted, and kept across a restart.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { join } from 'node:path'
import { createAgentNode, encodeEnvelope, errorFromWire, makeEnvelope, type AgentNode } from '../../../surfaces/index.js'
import type { DeadLetter, DeadLetterReason } from '../../../protocols/delivery/types.js'
import { DeadLetters } from '../../../protocols/delivery/dead-letters.js'
import { MemoryStore } from '../../../protocols/core/store.js'
import { CLI, nodeOptions, startMesh, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'
import { skipWithout } from '../../requirements.js'
import pino from 'pino'

/** A letter as delivery would hand it over: an envelope from `from` to `to` that died for `reason`. */
function letterOf (from: AgentNode, to: string, reason: DeadLetterReason, subject = 'echo', payload: unknown = { n: 1 }): Omit<DeadLetter, 'id' | 'deadAt'> {
  const envelope = makeEnvelope({ source: from.peerId, destination: { peer: to }, type: 'COMMAND', subject, payload, headers: { 'am-delivery': 'at-least-once' } })
  const now = Date.now()
  return { side: 'sender', envelope, peer: to, reason, error: { code: 'COM002', name: 'ConnectionError', message: 'peer unreachable' }, attempts: 4, firstAttemptAt: now - 1000, lastAttemptAt: now }
}

/** Re-sends the envelope as it is (its id too) on the node's rpc stream to the letter's peer, as the delivery service's resend does. */
function resendOver (node: AgentNode): (letter: DeadLetter) => Promise<void> {
  return async (letter) => {
    const rpc = (node as any).s.rpc
    const signal = AbortSignal.timeout(5_000)
    const channel = await rpc.channel(letter.peer, signal)
    const reply = await channel.request(letter.envelope, encodeEnvelope(letter.envelope), signal)
    if (reply.error !== undefined) throw errorFromWire(reply.error)
  }
}

/** `agentmesh dead-letters ...` as a process, to its exit (not spawnSync: the endpoint it calls is in this process). */
async function cli (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [CLI, 'dead-letters', ...args], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

async function api (node: AgentNode, path: string, body?: unknown): Promise<{ status: number, json: any }> {
  const res = await fetch(`${node.debugUrl as string}${path}`, body === undefined
    ? {}
    : { method: 'POST', headers: { 'content-type': 'application/json' }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

test('dead letters: listed over /dead-letters and by the CLI, shown, replayed to a real node under the original id, purged; metrics', { timeout: 3 * 60_000 }, async (t) => {
  await withTempDir(async (dir) => {
    const [a, b] = await startMesh(2, (i) => i === 0 ? { debug: '127.0.0.1:0', dataDir: join(dir, 'a') } : {})
    try {
      const debug = (a.debugUrl as string).replace(/^http:\/\//, '')
      const seen: string[] = []
      b.handle('echo', (x, ctx) => { seen.push(ctx.envelope.id); return x })
      const first = await a.deadLetters.add(letterOf(a, b.peerId, 'retries_exhausted')) as DeadLetter
      const second = await a.deadLetters.add(letterOf(a, b.peerId, 'expired', 'missing')) as DeadLetter
      const third = await a.deadLetters.add(letterOf(a, 'some-other-peer', 'refused')) as DeadLetter
      assert.ok(first.id < second.id && second.id < third.id, 'ids sort by time of death')

      // Over HTTP: oldest first, filters, pages, one letter, bad input and unknown ids.
      const all = await api(a, '/dead-letters')
      assert.equal(all.status, 200)
      assert.deepEqual(all.json.letters.map((l: DeadLetter) => l.id), [first.id, second.id, third.id])
      assert.equal(all.json.total, 3)
      assert.deepEqual((await api(a, '/dead-letters?reason=expired')).json.letters.map((l: DeadLetter) => l.id), [second.id])
      assert.deepEqual((await api(a, `/dead-letters?peer=${b.peerId}`)).json.letters.map((l: DeadLetter) => l.id), [first.id, second.id])
      const page1 = (await api(a, '/dead-letters?limit=2')).json
      assert.equal(page1.next, second.id)
      assert.deepEqual((await api(a, `/dead-letters?limit=2&after=${page1.next as string}`)).json.letters.map((l: DeadLetter) => l.id), [third.id])
      assert.deepEqual((await api(a, '/dead-letters?newest=1&limit=1')).json.letters.map((l: DeadLetter) => l.id), [third.id])
      const one = await api(a, `/dead-letters/${first.id}`)
      assert.equal(one.json.envelope.id, first.envelope.id)
      assert.equal((await api(a, '/dead-letters/0000-nope')).status, 404)
      const badReason = await api(a, '/dead-letters?reason=bored')
      assert.equal(badReason.status, 400)
      assert.equal(badReason.json.error.code, 'MSG001')
      assert.equal((await api(a, '/dead-letters?limit=-1')).status, 400)
      assert.equal((await api(a, '/dead-letters/replay', 'not json')).status, 400)
      assert.equal((await api(a, '/dead-letters/replay', { ids: [] })).status, 400)
      assert.equal((await api(a, '/dead-letters/purge', '')).status, 400, 'an empty body purges nothing')
      const plain = await fetch(`${a.debugUrl as string}/dead-letters/purge`, { method: 'POST', body: '{}' })
      assert.equal(plain.status, 415, 'a POST a browser could make without asking (text/plain) is refused')
      assert.equal(a.deadLetters.count, 3)

      // The CLI: a table, then JSON; show.
      const table = await cli(['list', '--debug', debug])
      assert.equal(table.code, 0, table.stderr)
      assert.match(table.stdout, /3 of 3 dead letters held/)
      for (const l of [first, second, third]) assert.ok(table.stdout.includes(l.id), table.stdout)
      const listed = await cli(['list', '--debug', debug, '--json', '--reason', 'retries_exhausted'])
      assert.deepEqual(JSON.parse(listed.stdout).letters.map((l: DeadLetter) => l.id), [first.id])
      const shown = await cli(['show', first.id, '--debug', debug])
      assert.equal(shown.code, 0, shown.stderr)
      assert.ok(shown.stdout.includes(first.envelope.id))
      assert.match(shown.stdout, /retries_exhausted/)
      assert.equal((await cli(['show', 'nope', '--debug', debug])).code, 1)

      // Replay over rpc to b, under the original id (the node's own wiring, delivery.resend, is test/delivery-e2e's).
      a.deadLetters.resendWith(resendOver(a))
      const replayed = await cli(['replay', first.id, '--debug', debug, '--json'])
      assert.equal(replayed.code, 0, replayed.stderr + replayed.stdout)
      assert.deepEqual(JSON.parse(replayed.stdout), [{ id: first.id, status: 'resent' }])
      assert.deepEqual(seen, [first.envelope.id], 'the receiver got the original envelope id')
      assert.equal(a.deadLetters.get(first.id), undefined, 'a letter resent leaves the list')
      // b has no handler for "missing": the replay fails (CMD001), the letter stays, its replays counted.
      const failed = await cli(['replay', second.id, 'no-such-id', '--debug', debug, '--json'])
      assert.equal(failed.code, 1)
      const results = JSON.parse(failed.stdout)
      assert.equal(results[0].status, 'failed')
      assert.equal(results[0].error.code, 'CMD001')
      assert.deepEqual(results[1], { id: 'no-such-id', status: 'unknown' })
      assert.equal(a.deadLetters.get(second.id)?.replays, 1)

      // Metrics, these families checked by promtool where it is installed (libp2p's ping histogram,
      // present once the connection monitor has pinged, fails its lint on its own: test/node/metrics.test.ts).
      const text = await (await fetch(`${a.debugUrl as string}/metrics`)).text()
      assert.match(text, /^dead_letters_total\{reason="retries_exhausted",kept="true"\} 1$/m)
      assert.match(text, /^dead_letters_held 2$/m)
      await t.test('promtool check metrics accepts the exposition', (st) => {
        if (skipWithout(st, 'promtool')) return
        const ours = text.split('\n').filter(l => /^(# (HELP|TYPE) )?dead_letters/.test(l)).join('\n') + '\n'
        const r = spawnSync('promtool', ['check', 'metrics'], { input: ours, encoding: 'utf8' })
        assert.equal(r.status, 0, `${r.stdout}${r.stderr}`)
      })

      // Purge: named ids, then usage errors, then --all.
      assert.equal((await cli(['purge', '--debug', debug])).code, 2, 'purge with neither ids nor --all is a usage error')
      const purged = await cli(['purge', second.id, '--debug', debug])
      assert.equal(purged.code, 0, purged.stderr)
      assert.match(purged.stdout, /1 purged/)
      await a.deadLetters.add(letterOf(a, b.peerId, 'handler_failed'))
      assert.equal(a.deadLetters.count, 2)
      assert.equal((await cli(['purge', '--all', '--debug', debug])).code, 0)
      assert.equal(a.deadLetters.count, 0)
    } finally {
      await stopAll([a, b])
    }
  })
})

test('dead letters: bounded by count and age, evictions counted; kept across a restart with the same data directory', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const options = nodeOptions(mesh, { dataDir: dir, debug: '127.0.0.1:0', deadLetters: { maxEntries: 3, maxAgeMs: 60_000 } })
    const a = await createAgentNode(options)
    let kept: string[]
    try {
      await a.start()
      const added = []
      for (let i = 0; i < 5; i++) added.push(await a.deadLetters.add(letterOf(a, 'peer-x', 'retries_exhausted', 'echo', { i })) as DeadLetter)
      kept = added.slice(2).map(l => l.id)
      assert.deepEqual(a.deadLetters.list().letters.map(l => l.id), kept, 'the two oldest were evicted')
      assert.equal(a.stats.get('dead_letters_evicted_total', { bound: 'entries' }), 2)
      const page = await (await fetch(`${a.debugUrl as string}/dead-letters`)).json() as any
      assert.equal(page.evicted, 2)
    } finally {
      await a.stop()
    }
    // Same directory, a short age bound: the letters are back, then aged out by the sweep, counted.
    const b = await createAgentNode({ ...options, deadLetters: { maxEntries: 3, maxAgeMs: 1_000 } })
    try {
      assert.deepEqual(b.deadLetters.list().letters.map(l => l.id), kept, 'the letters survived the restart')
      assert.equal(b.deadLetters.get(kept[0])?.envelope.payload && (b.deadLetters.get(kept[0])?.envelope.payload as any).i, 2)
      await b.start()
      // The store shows the removal a moment before the sweep's write resolves and counts it
      // (lmdb commits, then calls back): wait for the count, then check the letters are gone.
      await waitFor(() => b.stats.get('dead_letters_evicted_total', { bound: 'age' }) === 3, 'the age sweep counted', 10_000)
      assert.equal(b.deadLetters.count, 0)
    } finally {
      await b.stop()
    }
  })
})

test('dead letters: switched off, a message given up on is counted and logged, not kept', { timeout: 3 * 60_000 }, async () => {
  const a = await createAgentNode(nodeOptions(uniqueMesh(), { deadLetters: { enabled: false } }))
  try {
    await a.start()
    assert.equal(await a.deadLetters.add(letterOf(a, 'peer-x', 'expired')), undefined)
    assert.equal(a.deadLetters.count, 0)
    assert.equal(a.stats.get('dead_letters_total', { reason: 'expired', kept: 'false' }), 1)
  } finally {
    await a.stop()
  }
})

test('dead letters: one replay at a time per letter; start and stop twice are safe', { timeout: 3 * 60_000 }, async () => {
  const space = new MemoryStore().space<DeadLetter>('dead-letters')
  let release: () => void = () => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const sent: string[] = []
  const dead = new DeadLetters({ space, log: pino({ level: 'silent' }), resend: async (l) => { sent.push(l.id); await gate } })
  dead.start()
  dead.start()
  const now = Date.now()
  const envelope = makeEnvelope({ source: 'me', destination: { peer: 'you' }, type: 'COMMAND', subject: 's', payload: null, headers: {} })
  const l = await dead.add({ side: 'receiver', envelope, peer: 'you', reason: 'handler_failed', error: { code: 'CMD002', name: 'HandlerError', message: 'x' }, attempts: 1, firstAttemptAt: now, lastAttemptAt: now }) as DeadLetter
  const one = dead.replay([l.id])
  assert.deepEqual(await dead.replay([l.id]), [{ id: l.id, status: 'busy' }])
  release()
  assert.deepEqual(await one, [{ id: l.id, status: 'resent' }])
  assert.deepEqual(sent, [l.id])
  assert.equal(dead.count, 0)
  await dead.stop()
  await dead.stop()
})

test('dead letters on the live page: the count and the last reasons, updated live from /events', { timeout: 3 * 60_000 }, async (t) => {
  if (skipWithout(t, 'chromium')) return
  const { chromium } = await import('playwright-core')
  const { CHROMIUM } = await import('../../requirements.js')
  const a = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'dl', debug: '127.0.0.1:0' }))
  await a.start()
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] })
  try {
    await a.deadLetters.add(letterOf(a, 'peer-x', 'expired'))
    const page = await browser.newPage()
    const errors: string[] = []
    page.on('pageerror', (e) => { errors.push(e.message) })
    await page.goto(`${a.debugUrl as string}/`)
    await page.waitForFunction(() => document.querySelector('#dead-count')?.textContent?.startsWith('1 held') === true, undefined, { timeout: 15_000 })
    // The next one reaches the page (from /events, or its poll), and /events carries it.
    const feed = await fetch(`${a.debugUrl as string}/events`)
    const reader = (feed.body as ReadableStream<Uint8Array>).getReader()
    await a.deadLetters.add(letterOf(a, 'peer-x', 'conflict'))
    let text = ''
    await waitFor(async () => { text += Buffer.from((await reader.read()).value ?? []).toString(); return /event: dead-letter\ndata: .*"reason":"conflict"/.test(text) }, '/events to tell the dead letter')
    await reader.cancel()
    await page.waitForFunction(() => document.querySelector('#dead-count')?.textContent?.startsWith('2 held') === true, undefined, { timeout: 15_000 })
    const reasons = await page.$$eval('#dead td.reason', tds => tds.map(td => td.textContent))
    assert.deepEqual(reasons, ['conflict', 'expired'], 'newest first')
    assert.deepEqual(errors, [])
  } finally {
    await browser.close()
    await a.stop()
  }
})
