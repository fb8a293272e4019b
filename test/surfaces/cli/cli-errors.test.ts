// What a newcomer meets when something is wrong: exit codes (2 = fix the command, 1 = it
// failed), the cause said first, and no stack traces. Real processes against real nodes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, Proc, startMesh, stopAll, withTempDir, freePort } from '../../helpers.js'

const STACK = /\n\s+at /

test('usage errors exit 2: unknown flag, missing argument, bad JSON payload, nothing to join; --help and --version exit 0', { timeout: 3 * 60_000 }, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['start', '--bogus'], /unknown option '--bogus'/],
    [['request', '--no-mdns', '--bootstrap', '/ip4/127.0.0.1/tcp/1'], /missing required argument/],
    [['pub', '--no-mdns', '--bootstrap', '/ip4/127.0.0.1/tcp/1', 'topic', '{oops'], /payload is not valid JSON/],
    [['sub', '--no-mdns', 'topic'], /nothing to join/],
    // The docs' placeholder pasted as it is (issue 44: it gave a multibase decoder's error).
    [['request', '--open', '--no-mdns', '--bootstrap', '/ip4/127.0.0.1/tcp/7001/p2p/<id>', 'a2', 'echo'], /bootstrap\.0: replace the <\.\.\.> placeholder/],
    [['status'], /missing required argument/],
    [['status', 'not a url'], /expected a debug endpoint/],
    [['frobnicate'], /unknown command/],
    [[], /Usage: agentmesh/]
  ]
  // Each case is its own process, and none depends on another: they run at once (a CLI process
  // spends most of its life loading modules, which the two cores share).
  const usage = cases.map(([args, stderr]) => ({ args, stderr, p: new Proc([CLI, ...args]) }))
  const ok = [['--help'], ['request', '--help'], ['--version']].map(args => ({ args, p: new Proc([CLI, ...args]) }))
  for (const { args, stderr, p } of usage) {
    assert.equal(await p.exited(60_000), 2, `agentmesh ${args.join(' ')}: ${p.stderr}`)
    assert.match(p.stderr, stderr)
  }
  for (const { args, p } of ok) assert.equal(await p.exited(60_000), 0, `agentmesh ${args.join(' ')}`)
  const text = ok[1].p.lines.join('\n')
  assert.match(text, /-v, --verbose/)
  assert.match(text, /default warn/)
  assert.match(text, /Exit codes:[\s\S]*1 {2}failed at run time[\s\S]*2 {2}usage or configuration/)
})

test('a bootstrap address where nothing listens: the connection error is said, exit 1, not "no agent named"', { timeout: 3 * 60_000 }, async () => {
  const port = await freePort()
  const p = new Proc([CLI, 'request', '--open', '--no-mdns', '--bootstrap', `/ip4/127.0.0.1/tcp/${port}`, 'a2', 'echo', '1'])
  assert.equal(await p.exited(), 1, p.stderr)
  const said = p.stderr.split('\n').filter(l => l.startsWith('agentmesh:'))
  assert.equal(said.length, 1, p.stderr)
  assert.match(said[0], /^agentmesh: COM002 ConnectionError: cannot reach the mesh: .*ECONNREFUSED/)
  assert.ok(said[0].includes(`/ip4/127.0.0.1/tcp/${port}`), 'the message names the address')
  assert.doesNotMatch(p.stderr, /no agent named/)
  assert.doesNotMatch(p.stderr, STACK)

  // pub and sub say the same instead of waiting (each its own process, run at once)
  const others = [['pub', 'topic', '1'], ['sub', 'topic']].map(args => ({ args, q: new Proc([CLI, args[0], '--open', '--no-mdns', '--bootstrap', `/ip4/127.0.0.1/tcp/${port}`, ...args.slice(1)]) }))
  for (const { args, q } of others) {
    assert.equal(await q.exited(30_000), 1, `${args[0]}: ${q.stderr}`)
    assert.match(q.stderr, /agentmesh: COM002 ConnectionError: cannot reach the mesh: .*ECONNREFUSED/)
  }
})

test('a bootstrap address with the wrong peer id: the identity mismatch is said, exit 1', { timeout: 3 * 60_000 }, async () => {
  const [a, other] = await startMesh(2)
  try {
    const addr = a.addresses()[0].replace(a.peerId, other.peerId)
    const p = new Proc([CLI, 'request', '--open', '--no-mdns', '--mesh', a.health().mesh, '--bootstrap', addr, a.peerId, 'echo', '1'])
    assert.equal(await p.exited(), 1, p.stderr)
    assert.match(p.stderr, /agentmesh: COM002 ConnectionError: cannot reach the mesh: .*does not match/)
    assert.doesNotMatch(p.stderr, STACK)
  } finally {
    await stopAll([a, other])
  }
})

test('an unknown agent name lists the agents seen, and the close ones as a guess, exit 1', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2)
  try {
    const p = new Proc([CLI, 'request', '--open', '--no-mdns', '--mesh', nodes[0].health().mesh, '--bootstrap', nodes[0].addresses()[0], 'a9', 'echo', '1'])
    assert.equal(await p.exited(20_000), 1, p.stderr)
    assert.match(p.stderr, /^agentmesh: no agent named "a9"; agents seen: n0, n1$/m)
    assert.equal(p.lines.length, 0, 'nothing on stdout')
    // A typo: the name it is one edit from, said as soon as the agents seen stop changing.
    const typo = new Proc([CLI, 'request', '--open', '--no-mdns', '--mesh', nodes[0].health().mesh, '--bootstrap', nodes[0].addresses()[0], 'n2', 'echo', '1'])
    assert.equal(await typo.exited(20_000), 1, typo.stderr)
    assert.match(typo.stderr, /^agentmesh: no agent named "n2" \(did you mean "n0" or "n1"\?\); agents seen: n0, n1$/m)
  } finally {
    await stopAll(nodes)
  }
})

test('request, pub and status print no logs by default; -v, --log-level, AGENTMESH_LOG_LEVEL and the config file bring them back', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(1, () => ({ debug: '127.0.0.1:0' }))
  const [a] = nodes
  a.handle('echo', (req) => req)
  const via = ['--open', '--no-mdns', '--mesh', a.health().mesh, '--bootstrap', a.addresses()[0]]
  const logs = (p: Proc): string[] => p.stderr.split('\n').filter(l => l.startsWith('{') && l.includes('"msg":"node started"'))
  const procs: Proc[] = []
  const run = (args: string[], env: NodeJS.ProcessEnv = {}): Proc => { const p = new Proc([CLI, ...args], env); procs.push(p); return p }
  try {
    // Every process below is its own client of the one agent, and none depends on another: they run at once.
    const quiet = run(['request', ...via, a.peerId, 'echo', '{"hi":1}'])
    const pub = run(['pub', ...via, '--wait', '500', 'nobody', '1'])
    const status = run(['status', a.debugUrl as string])
    await withTempDir(async (dir) => {
      const file = join(dir, 'client.json')
      await writeFile(file, JSON.stringify({ logLevel: 'info' }))
      const loud: Array<[string[], NodeJS.ProcessEnv]> = [
        [['-v'], {}],
        [['--log-level', 'info'], {}],
        [[], { AGENTMESH_LOG_LEVEL: 'info' }],
        [['--config', file], {}]
      ]
      const louder = loud.map(([flags, env]) => ({ flags, env, p: run(['request', ...via, ...flags, a.peerId, 'echo', '{"hi":1}'], env) }))
      // A flag beats the file: --log-level warn silences a file that says info.
      const beaten = run(['request', ...via, '--config', file, '--log-level', 'warn', a.peerId, 'echo', '{"hi":1}'])

      assert.equal(await quiet.exited(60_000), 0, quiet.stderr)
      assert.equal(quiet.stderr, '', 'request writes nothing on stderr')
      assert.deepEqual(JSON.parse(quiet.lines.join('\n')), { hi: 1 }, 'stdout holds the answer and nothing else')

      assert.equal(await pub.exited(60_000), 0, pub.stderr)
      assert.equal(pub.stderr, '')

      assert.equal(await status.exited(60_000), 0, status.stderr)
      assert.equal(status.stderr, '')

      for (const { flags, env, p } of louder) {
        assert.equal(await p.exited(60_000), 0, p.stderr)
        assert.equal(logs(p).length, 1, `${flags.join(' ')} ${JSON.stringify(env)} logs at info: ${p.stderr}`)
      }
      assert.equal(await beaten.exited(60_000), 0, beaten.stderr)
      assert.equal(beaten.stderr, '')
    })
  } finally {
    await Promise.all(procs.map(async p => { await p.stop('SIGKILL') }))
    await stopAll(nodes)
  }
})

test('a listen address already in use: CFG001 naming the address, exit 2, no stack trace (with the node.start() change of issue 18)', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(1)
  try {
    const taken = nodes[0].addresses()[0].replace(/\/p2p\/.*$/, '')
    const p = new Proc([CLI, 'start', '--open', '--no-mdns', '--listen', taken])
    assert.equal(await p.exited(), 2, p.stderr)
    assert.ok(p.stderr.startsWith('agentmesh: CFG001'), p.stderr)
    assert.ok(p.stderr.includes(taken), 'the message names the address')
    assert.doesNotMatch(p.stderr, STACK)
  } finally {
    await stopAll(nodes)
  }
})

test('a request from another mesh name says so and names the flag (issue 44: it said "agents seen: none" after 11 s); the agent lists the peer of the other mesh', { timeout: 90_000 }, async () => {
  const nodes = await startMesh(1, () => ({ name: 'a2' }))
  try {
    const [agent] = nodes
    const mesh = agent.config.mesh
    const address = agent.addresses()[0]
    const p = new Proc([CLI, 'request', '--open', '--no-mdns', '--mesh', 'some-other-mesh', '--bootstrap', address, 'a2', 'echo', '1'])
    assert.equal(await p.exited(60_000), 1, p.stderr)
    // The bootstrap peer told its mesh in its card: given up on at once, not after the search.
    assert.equal(p.stderr, `agentmesh: COM002 ConnectionError: cannot reach the mesh: no bootstrap peer answered (${address}: the peer at ${address} is in mesh "${mesh}", not "some-other-mesh" (pass --mesh ${mesh}))\n`)
    assert.doesNotMatch(p.stderr, STACK)
    assert.deepEqual(agent.foreignPeers().map(f => f.mesh), ['some-other-mesh'], 'the agent kept the peer of the other mesh')
  } finally {
    await stopAll(nodes)
  }
})

test('credential issue over a file holding another mesh\'s or another peer\'s credential says what it replaced; a renewal says nothing more (issue 44: the README\'s Security section replaced the quick start\'s)', { timeout: 90_000 }, async () => {
  await withTempDir(async (dir) => {
    const run = async (args: string[]): Promise<Proc> => {
      const p = new Proc([CLI, ...args], { HOME: dir }, dir)
      assert.equal(await p.exited(), 0, `agentmesh ${args.join(' ')}: ${p.stderr}`)
      return p
    }
    await run(['mesh', 'init', '--mesh', 'try', '--no-psk'])
    await run(['mesh', 'init', '--mesh', 'prod', '--out', 'prod-owner.json', '--no-psk'])
    await run(['id', '--identity', 'a1.json'])
    await run(['id', '--identity', 'a2.json'])
    const issue = async (owner: string, identity: string): Promise<Proc> => await run(['credential', 'issue', '--owner', owner, '--identity', identity, '--out', 'a1.cred.json'])
    assert.equal((await issue('mesh-owner.json', 'a1.json')).stderr, '', 'a new file')
    assert.equal((await issue('mesh-owner.json', 'a1.json')).stderr, '', 'a renewal of the same peer in the same mesh')
    assert.match((await issue('prod-owner.json', 'a1.json')).stderr, /a1\.cred\.json held a credential of the same peer in mesh "try", which it no longer holds/)
    assert.match((await issue('prod-owner.json', 'a2.json')).stderr, /a1\.cred\.json held a credential of 12D3KooW\w+ in mesh "prod"/)
  })
})

test('a closed start whose --identity file does not exist says so and names the credential\'s peer, rather than asking for a credential for a key no file holds', { timeout: 90_000 }, async () => {
  await withTempDir(async (dir) => {
    const at = (f: string): string => join(dir, f)
    const run = async (args: string[]): Promise<Proc> => { const p = new Proc([CLI, ...args]); await p.exited(60_000); return p }
    assert.equal((await run(['mesh', 'init', '--mesh', 'm1', '--out', at('owner.json'), '--no-psk'])).child.exitCode, 0)
    const id = await run(['id', '--identity', at('a1.json'), '--json'])
    const peerId = JSON.parse(id.lines[0]).peerId as string
    assert.equal((await run(['credential', 'issue', '--owner', at('owner.json'), '--identity', at('a1.json'), '--out', at('a1.cred.json')])).child.exitCode, 0)
    // a1.jsn: a typo of the file the credential was issued for.
    const p = await run(['start', '--mesh', 'm1', '--no-mdns', '--no-data-dir', '--listen', '/ip4/127.0.0.1/tcp/0', '--identity', at('a1.jsn'), '--credential', at('a1.cred.json')])
    assert.equal(p.child.exitCode, 2, p.stderr)
    assert.match(p.stderr, /CFG001 ConfigError: identity file \S*a1\.jsn does not exist, and credential \S*a1\.cred\.json is for peer (\S+): give --identity the file of \1/)
    assert.ok(p.stderr.includes(`is for peer ${peerId}:`), p.stderr)
    // Not the advice that fits a credential of another peer: a credential for the key this start made and never wrote.
    assert.doesNotMatch(p.stderr, /--peer 12D3Koo/)
    assert.doesNotMatch(p.stderr, STACK)
  })
})

test('credential issue with an identity file as --owner says it is an identity file, in one line, not the schema\'s issues as JSON', { timeout: 90_000 }, async () => {
  await withTempDir(async (dir) => {
    const at = (f: string): string => join(dir, f)
    const run = async (args: string[]): Promise<Proc> => { const p = new Proc([CLI, ...args]); await p.exited(60_000); return p }
    const id = await run(['id', '--identity', at('a1.json'), '--json'])
    const peerId = JSON.parse(id.lines[0]).peerId as string
    const p = await run(['credential', 'issue', '--owner', at('a1.json'), '--identity', at('a1.json')])
    assert.equal(p.child.exitCode, 2, p.stderr)
    const said = p.stderr.trim().split('\n')
    assert.equal(said.length, 1, p.stderr)
    assert.match(said[0]!, /^agentmesh: CFG001 ConfigError: \S*a1\.json is not a mesh owner key file \(agentmesh mesh init makes one\): it is an agent's identity file \(peer (\S+)\); --owner takes the owner key file/)
    assert.ok(said[0]!.includes(`(peer ${peerId})`), p.stderr)
    // Another file that is not one: the schema's issues, on the same line.
    await writeFile(at('other.json'), '{"type":"x"}')
    const other = await run(['credential', 'issue', '--owner', at('other.json'), '--identity', at('a1.json')])
    assert.equal(other.child.exitCode, 2, other.stderr)
    assert.equal(other.stderr.trim().split('\n').length, 1, other.stderr)
    assert.match(other.stderr, /is not a mesh owner key file \(agentmesh mesh init makes one\): .*type/)
  })
})
