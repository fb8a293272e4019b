/**
 * The mesh keyring (issue 13: pre-shared key rotation with overlap, after Consul's keyring).
 * The rules of the ring and the trial that finds an inbound dialer's key, then a whole rotation
 * through real processes started from the CLI: three closed agents on key A; B installed on all;
 * one agent uses B and, restarted from its data directory, still joins the others; B used
 * everywhere and A removed; an agent with only A and one with neither never get in.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { xsalsa20 } from '@noble/ciphers/salsa.js'
import { Keyring, keyId, loadKeyring, MAX_KEYS, KEYRING_FILE } from '../../node/keyring.js'
import { DIALER_HEADER, keyOfDialer, keyOfPskFile } from '../../node/mesh-key.js'
import { readPsk, writePsk } from '../../node/psk.js'
import { CLI, Proc, runCli, sleep, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const key = (n: number): Uint8Array => new Uint8Array(32).fill(n)

test('keyring: install, use and remove keep one primary, name keys by a hash, and refuse what would cut the node off', { timeout: 3 * 60_000 }, async () => {
  const ring = new Keyring([key(1)])
  const [a, b] = [keyId(key(1)), keyId(key(2))]
  assert.match(a, /^[0-9a-f]{16}$/)
  assert.ok(!Buffer.from(key(1)).toString('hex').includes(a), 'an id is no part of the key')
  assert.deepEqual(ring.install(key(2)), { id: b, changed: true, closed: 0 })
  assert.equal(ring.install(key(2)).changed, false, 'installed twice: nothing to do')
  assert.deepEqual(ring.list(), [{ id: a, primary: true }, { id: b, primary: false }])
  assert.throws(() => ring.remove(a), (e: any) => e.code === 'MSG001' && /primary/.test(e.message), 'the primary cannot be removed')
  assert.throws(() => ring.use('0123456789abcdef'), (e: any) => e.code === 'MSG001' && /install it first/.test(e.message))
  assert.equal(ring.use(b).changed, true)
  assert.equal(ring.primary().id, b)
  // A connection made under the old key closes when it is removed.
  let aborted = 0
  ring.track(a, { abort: () => { aborted++ } })
  assert.equal(ring.connections(a), 1)
  assert.deepEqual(ring.remove(a), { id: a, changed: true, closed: 1 })
  assert.equal(aborted, 1)
  assert.deepEqual(ring.list(), [{ id: b, primary: true }])
  for (let i = 3; ring.all().length < MAX_KEYS; i++) assert.equal(ring.install(key(i)).changed, true)
})

test('keyring: the full ring is refused; the trial finds the key that turns the dialer\'s first bytes into multistream-select\'s header, and none for a stranger', { timeout: 3 * 60_000 }, () => {
  const ring = new Keyring([key(1), key(2), key(3), key(4)])
  assert.throws(() => ring.install(key(5)), (e: any) => e.code === 'MSG001' && /remove one first/.test(e.message))
  const nonce = new Uint8Array(24).fill(5)
  const sent = xsalsa20(key(3), nonce, DIALER_HEADER)
  assert.equal(keyOfDialer(ring.all(), nonce, sent)?.id, keyId(key(3)))
  assert.equal(keyOfDialer(ring.all(), nonce, xsalsa20(key(9), nonce, DIALER_HEADER)), undefined, 'a key not in the ring')
  assert.equal(keyOfDialer(ring.all(), new Uint8Array(24), sent), undefined, 'the right key under another nonce')
  assert.equal(DIALER_HEADER.byteLength, 20)
  assert.equal(new TextDecoder().decode(DIALER_HEADER.subarray(1)), '/multistream/1.0.0\n')
})

test('keyring: a data directory\'s keyring file wins over security.psk and is written 0600; a damaged one is CFG001', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const [pa, pb] = [join(dir, 'a.psk'), join(dir, 'b.psk')]
    await writePsk(pa)
    await writePsk(pb)
    const [fa, fb] = [await readPsk(pa), await readPsk(pb)]
    assert.equal(await loadKeyring(undefined, undefined), undefined, 'no key at all: no protector')
    const first = await loadKeyring(dir, fa)
    assert.ok(first !== undefined && !first.saved && first.notice === undefined)
    first.install(keyOfPskFile(fb))
    first.use(keyId(keyOfPskFile(fb)))
    assert.equal(await first.save(), true)
    assert.equal((await stat(join(dir, KEYRING_FILE))).mode & 0o777, 0o600)
    const again = await loadKeyring(dir, fa)
    assert.deepEqual(again?.list(), first.list(), 'a restart keeps the ring, primary included')
    assert.equal(again?.saved, true)
    first.remove(keyId(keyOfPskFile(fa)))
    await first.save()
    const removed = await loadKeyring(dir, fa)
    assert.deepEqual(removed?.list().map(k => k.id), [keyId(keyOfPskFile(fb))], 'a removed key given again as --psk does not come back')
    assert.match(removed?.notice ?? '', /not in the keyring of the data directory/)
    await writeFile(join(dir, KEYRING_FILE), '{"version":1,"keys":["zz"]}')
    await assert.rejects(loadKeyring(dir, fa), (e: any) => e.code === 'CFG001' && /damaged/.test(e.message))
  })
})

async function get (base: string, path: string): Promise<any> {
  const res = await fetch(base + path)
  return path === '/metrics' ? await res.text() : await res.json()
}

/** connections_refused_total{reason="mesh_key"} of a node's /metrics (0 before the first). */
async function refusedForKey (debug: string): Promise<number> {
  const m = /connections_refused_total\{reason="mesh_key"\} (\d+)/.exec(await get(debug, '/metrics'))
  return m === null ? 0 : Number(m[1])
}

test('keyring: a rotation through running agents (install B everywhere, use B, remove A): the mesh holds throughout; A alone, or neither key, gets in nowhere after', { timeout: 9 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const f = (name: string): string => join(dir, name)
    const cli = async (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> => await runCli(args)
    assert.equal((await cli(['mesh', 'init', '--mesh', mesh, '--out', f('owner.json'), '--psk', f('A.psk')])).code, 0)
    await writePsk(f('B.psk'))
    await writePsk(f('C.psk'))
    const [A, B] = [keyId(keyOfPskFile(await readPsk(f('A.psk')))), keyId(keyOfPskFile(await readPsk(f('B.psk'))))]
    // Agents 0-2; 3 the operator's client; 4 an admitted agent that is no operator; 5 and 6 latecomers.
    const roles = ['agent,coordinator', 'agent,coordinator', 'agent,coordinator', 'operator', 'agent', 'agent', 'agent']
    // Made at once: each is a CLI process of its own (the test's time is mostly these processes).
    await Promise.all([...roles.entries()].map(async ([i, r]) => {
      assert.equal((await cli(['id', '--identity', f(`id${i}.json`)])).code, 0)
      const issued = await cli(['credential', 'issue', '--owner', f('owner.json'), '--identity', f(`id${i}.json`), '--roles', r, '--ttl', '1d', '--out', f(`cred${i}.json`)])
      assert.equal(issued.code, 0, issued.stderr)
    }))
    const env = { AGENTMESH_PRESET: 'local', AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '2', AGENTMESH_LOG_LEVEL: 'warn' }
    const start = (i: number, psk: string, extra: string[] = []): Proc => new Proc([CLI, 'start', '--json', '--mesh', mesh, '--name', `a${i}`,
      '--identity', f(`id${i}.json`), '--credential', f(`cred${i}.json`), '--psk', f(psk), '--data-dir', f(`data${i}`), '--no-mdns',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--debug', '127.0.0.1:0', ...extra], env)
    const procs: Proc[] = []
    try {
      procs.push(start(0, 'A.psk'))
      const first = await procs[0].json(o => o.event === 'ready', 'agent 0 ready')
      for (const i of [1, 2]) procs.push(start(i, 'A.psk', ['--bootstrap', first.addresses[0]]))
      const ready = [first, ...await Promise.all(procs.slice(1).map(async (p, i) => await p.json(o => o.event === 'ready', `agent ${i + 1} ready`)))]
      const debug = ready.map(r => r.debug as string)
      const meshHolds = async (what: string): Promise<void> => {
        await waitFor(async () => (await Promise.all(debug.map(async d => (await get(d, '/peers')).length))).every(n => n === 2), what, 45_000)
      }
      await meshHolds('the three agents on key A to admit each other')
      const keyring = async (op: string[], to: number, psk = 'A.psk', who = 3): Promise<any> => {
        const r = await cli(['keyring', ...op, '--mesh', mesh, '--identity', f(`id${who}.json`), '--credential', f(`cred${who}.json`),
          '--psk', f(psk), '--bootstrap', ready[to].addresses[0], '--no-mdns', '--to', `a${to}`, '--json'])
        return r.code === 0 ? JSON.parse(r.stdout) : r
      }

      const listed = await keyring(['list'], 0)
      assert.deepEqual(listed.keys.map((k: any) => [k.id, k.primary]), [[A, true]])
      assert.equal(listed.persisted, false, 'nothing written before the first change')
      // Only an operator may: an admitted agent without the role is refused before the handler.
      const forbidden = await keyring(['install', f('B.psk')], 0, 'A.psk', 4)
      assert.equal(forbidden.code, 1)
      assert.match(forbidden.stderr, /SEC002/)

      await Promise.all([0, 1, 2].map(async i => {
        const installed = await keyring(['install', f('B.psk')], i)
        assert.deepEqual([installed.id, installed.changed, installed.persisted, installed.keys.length], [B, true, true, 2], `B installed on a${i}`)
      }))
      const unknown = await keyring(['use', 'ffffffffffffffff'], 0)
      assert.equal(unknown.code, 1)
      assert.match(unknown.stderr, /MSG001 .*install it first/)
      assert.ok((await get(debug[0], '/audit?kind=keyring.refused')).some((e: any) => e.code === 'MSG001'), 'the refusal audited')

      // Agent 0 uses B, and is restarted from its data directory (still given --psk A): it dials the others under B, and they take it.
      assert.equal((await keyring(['use', f('B.psk')], 0)).keys[0].id, B)
      await procs[0].stop()
      procs[0] = start(0, 'A.psk', ['--bootstrap', ready[1].addresses[0]])
      ready[0] = await procs[0].json(o => o.event === 'ready', 'agent 0 ready again')
      debug[0] = ready[0].debug
      await meshHolds('agent 0, on B, to be admitted by agents 1 and 2, still on A')
      const onB = await keyring(['list'], 0)
      assert.deepEqual(onB.keys.map((k: any) => [k.id, k.primary]), [[B, true], [A, false]], 'the restart kept the ring, primary B')
      const at1 = await keyring(['list'], 1)
      assert.ok(at1.keys.find((k: any) => k.id === B).connections >= 1, 'agent 1 holds a connection under B (agent 0\'s dial)')

      await Promise.all([1, 2].map(async i => { assert.equal((await keyring(['use', B], i)).changed, true) }))
      // Removing A closes the connections made under it, this client's own if it used A: it asks under B.
      await Promise.all([0, 1, 2].map(async i => {
        const removed = await keyring(['remove', f('A.psk')], i, 'B.psk')
        assert.deepEqual(removed.keys.map((k: any) => k.id), [B], `only B left on a${i}`)
      }))
      await meshHolds('the three agents to hold together on B alone')
      assert.ok((await get(debug[1], '/audit?kind=keyring.changed')).filter((e: any) => e.detail.op !== undefined).length >= 3, 'install, use, remove audited')

      // Latecomers: one with only A, one with neither key. Neither completes a handshake.
      const before = await Promise.all([1, 2].map(async i => await refusedForKey(debug[i])))
      const late = [start(5, 'A.psk', ['--bootstrap', ready[1].addresses[0], '--bootstrap', ready[2].addresses[0]]),
        start(6, 'C.psk', ['--bootstrap', ready[1].addresses[0], '--bootstrap', ready[2].addresses[0]])]
      procs.push(...late)
      const lateDebug = await Promise.all(late.map(async (p, i) => (await p.json(o => o.event === 'ready', `latecomer ${i} ready`)).debug as string))
      await waitFor(async () => (await Promise.all([1, 2].map(async i => await refusedForKey(debug[i])))).every((n, j) => n >= before[j] + 2),
        'agents 1 and 2 to refuse both latecomers\' handshakes', 30_000)
      for (let i = 0; i < 5; i++) {
        await sleep(300)
        for (const d of lateDebug) assert.equal((await get(d, '/peers')).length, 0, 'a latecomer admits no one and is admitted by none')
        for (const d of debug) assert.equal((await get(d, '/peers')).length, 2, 'the three agents still hold')
      }
    } finally {
      await Promise.all(procs.map(async p => { await p.stop() }))
    }
  })
})
