/**
 * Closed by default (issue 13): a node with neither a credential nor `--open` refuses to start and
 * says how to get one, from the library and from every CLI command that runs a node; an open node
 * says it is open, in a warning at start, in its ready line and in /health; the local preset is
 * open and an explicit mode wins over it; `mesh init` writes the mesh key beside the owner key.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { stat } from 'node:fs/promises'
import { join } from 'node:path'
import { createAgentNode, parseConfig } from '../../surfaces/index.js'
import { CLI, Proc, uniqueMesh, withTempDir } from '../helpers.js'

/** What the refusal must say: the commands that make a credential, and the way out. */
const HOW = [/agentmesh mesh init --mesh \S+/, /agentmesh id --identity/, /agentmesh credential issue --owner mesh-owner\.json/, /--credential/, /--open/]

test('a node given no mode and no credential refuses to start (CFG001), saying how to get one and that --open exists', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  await assert.rejects(createAgentNode({ mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' }), (e: any) => {
    assert.equal(e.code, 'CFG001')
    for (const re of HOW) assert.match(e.message, re)
    assert.ok(e.message.includes(`--mesh ${mesh}`), 'the commands name this mesh')
    return true
  })
  // The CLI: exit 2 with the same message, for an agent and for each client.
  for (const args of [['start'], ['request', 'a1', 'echo'], ['pub', 'topic', '1'], ['sub', 'topic']]) {
    const p = new Proc([CLI, ...args, '--mesh', mesh, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', '/ip4/127.0.0.1/tcp/1'])
    assert.equal(await p.exited(), 2, `${args[0]}: ${p.stderr}`)
    assert.ok(p.stderr.startsWith('agentmesh: CFG001'), p.stderr)
    for (const re of HOW) assert.match(p.stderr, re, args[0])
  }
  // Open and a credential at once is a mistake said, not guessed at.
  const both = new Proc([CLI, 'start', '--open', '--credential', 'c.json', '--no-mdns'])
  assert.equal(await both.exited(), 2)
  assert.match(both.stderr, /--open and --credential contradict/)
})

test('presets: local is open, lan and wan closed; an explicit mode wins over the preset', { timeout: 3 * 60_000 }, () => {
  assert.equal(parseConfig({}).security.mode, 'closed')
  assert.equal(parseConfig({ preset: 'lan' }).security.mode, 'closed')
  assert.equal(parseConfig({ preset: 'wan' }).security.mode, 'closed')
  assert.equal(parseConfig({ preset: 'local' }).security.mode, 'open')
  assert.equal(parseConfig({ preset: 'wan', security: { mode: 'open' } }).security.mode, 'open')
  assert.equal(parseConfig({ preset: 'local', security: { mode: 'closed' } }).security.mode, 'closed')
})

test('open mode says so: a warning at start, the ready line, and /health warnings; --preset local is open too', { timeout: 3 * 60_000 }, async () => {
  for (const flag of ['--open', '--preset local']) {
    const p = new Proc([CLI, 'start', ...flag.split(' '), '--json', '--mesh', uniqueMesh(), '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--debug', '127.0.0.1:0'])
    try {
      const ready = await p.json(o => o.event === 'ready', `the ready line (${flag})`)
      assert.equal(ready.security, 'open')
      assert.match(ready.warnings[0], /^open mode: any peer that knows the mesh name is admitted/)
      const warned = p.stderr.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).find(l => /^open mode/.test(l.msg))
      assert.equal(warned?.level, 40, `a warning (pino level 40) at start: ${p.stderr}`)
      const health: any = await (await fetch(`${ready.debug as string}/health`)).json()
      assert.equal(health.security.mode, 'open')
      assert.deepEqual(health.warnings, [ready.warnings[0]])
    } finally {
      await p.stop()
    }
  }
})

test('mesh init writes the mesh key (0600) beside the owner key and says so; --no-psk writes none; neither is overwritten', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const run = async (args: string[]): Promise<Proc> => { const p = new Proc([CLI, 'mesh', 'init', ...args]); await p.exited(); return p }
    const made = await run(['--mesh', 'm1', '--out', join(dir, 'owner.json')])
    assert.equal(made.child.exitCode, 0, made.stderr)
    assert.match(made.lines.join('\n'), new RegExp(`created ${join(dir, 'mesh.psk')}: the mesh's pre-shared key`))
    assert.equal((await stat(join(dir, 'mesh.psk'))).mode & 0o777, 0o600)
    assert.equal((await stat(join(dir, 'owner.json'))).mode & 0o777, 0o600)
    // Another owner in the same folder: the mesh key there is never replaced, and no owner file is left behind.
    const again = await run(['--mesh', 'm2', '--out', join(dir, 'owner2.json')])
    assert.equal(again.child.exitCode, 2)
    assert.match(again.stderr, /mesh\.psk exists: a mesh pre-shared key is never overwritten \(give another --psk\)/)
    await assert.rejects(stat(join(dir, 'owner2.json')))
    // It says what to type instead (issue 44), and that works.
    const typed = /: agentmesh mesh init (.*)$/m.exec(again.stderr)?.[1]
    assert.equal(typed, `--mesh m2 --out ${join(dir, 'owner2.json')} --psk ${join(dir, 'm2.psk')}`, again.stderr)
    const other = await run((typed ?? '').split(' '))
    assert.equal(other.child.exitCode, 0, other.stderr)
    await stat(join(dir, 'm2.psk'))
    const bare = await run(['--mesh', 'm3', '--out', join(dir, 'owner3.json'), '--no-psk', '--json'])
    assert.equal(bare.child.exitCode, 0, bare.stderr)
    assert.equal(JSON.parse(bare.lines[0]).psk, undefined)
  })
})
