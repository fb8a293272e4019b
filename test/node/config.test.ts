import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { loadConfig, parseConfig, ConfigError } from '../../surfaces/index.js'
import { maxMembersOf, presets } from '../../node/config.js'
import * as coordination from '../../protocols/coordination/constants.js'
import * as discovery from '../../protocols/discovery/constants.js'
import * as pubsub from '../../protocols/pubsub/constants.js'
import * as rpc from '../../protocols/rpc/constants.js'
import { CLI, DIST, Proc, withTempDir } from '../helpers.js'

test('defaults fill every key, nested groups included', { timeout: 3 * 60_000 }, () => {
  const c = parseConfig({})
  assert.equal(c.mesh, 'default')
  assert.equal(c.maxMessageBytes, 1024 * 1024)
  assert.equal(c.rpc.timeoutMs, 30_000)
  assert.equal(c.pubsub.batchWindowMs, 10)
  assert.equal(c.pubsub.batchMaxEnvelopes, 50)
  assert.equal(c.rpc.window, 100)
})

test('file < environment < flags, and arrays and numbers come from strings', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'c.json')
    await writeFile(file, JSON.stringify({ name: 'from-file', mesh: 'filemesh', pubsub: { batchWindowMs: 5, batchMaxEnvelopes: 20 } }))
    const c = await loadConfig({
      file,
      env: {
        AGENTMESH_MESH: 'envmesh',
        AGENTMESH_PUBSUB_BATCH_WINDOW_MS: '7',
        AGENTMESH_BOOTSTRAP: '/ip4/1.2.3.4/tcp/1,/ip4/1.2.3.5/tcp/2',
        AGENTMESH_MDNS: 'false'
      },
      flags: { mesh: 'flagmesh' }
    })
    assert.equal(c.name, 'from-file')
    assert.equal(c.mesh, 'flagmesh')
    assert.equal(c.pubsub.batchWindowMs, 7)
    assert.equal(c.pubsub.batchMaxEnvelopes, 20)
    assert.deepEqual(c.bootstrap, ['/ip4/1.2.3.4/tcp/1', '/ip4/1.2.3.5/tcp/2'])
    assert.equal(c.mdns, false)
  })
})

test('an unknown key in a file fails naming the key and the file', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const file = join(dir, 'c.json')
    await writeFile(file, JSON.stringify({ pubsub: { batchWindw: 5 } }))
    await assert.rejects(loadConfig({ file }),
      (e: any) => e instanceof ConfigError && e.code === 'CFG001' && /pubsub\.batchWindw: unknown key/.test(e.message) && e.message.includes(file))
  })
})

test('a bad value names the key and where it came from; unknown AGENTMESH_ variables fail', { timeout: 3 * 60_000 }, async () => {
  await assert.rejects(loadConfig({ env: { AGENTMESH_RPC_TIMEOUT_MS: 'soon' } }),
    (e: any) => /rpc\.timeoutMs: .*number.*environment AGENTMESH_RPC_TIMEOUT_MS/.test(e.message))
  await assert.rejects(loadConfig({ flags: { listen: ['localhost:7000'] } }), (e: any) => /listen\.0: expected a multiaddr.*flags/.test(e.message))
  await assert.rejects(loadConfig({ env: { AGENTMESH_NAEM: 'x' } }), (e: any) => /unknown environment variable AGENTMESH_NAEM: did you mean AGENTMESH_NAME\b/.test(e.message))
})

test('an unknown AGENTMESH_ variable gets the nearest names and where the list is, not all of them (issue 44: 4,258 characters)', { timeout: 3 * 60_000 }, async () => {
  const refusal = async (env: Record<string, string>): Promise<string> => {
    try {
      await loadConfig({ env })
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err))
      return err.message
    }
    assert.fail(`${Object.keys(env)[0]} was taken`)
  }
  const cases: Array<[string, string[]]> = [
    ['AGENTMESH_MESH_NAME', ['AGENTMESH_MESH']],
    ['AGENTMESH_RPC_TIMEOUT', ['AGENTMESH_RPC_TIMEOUT_MS']],
    ['AGENTMESH_REACH_WAIT_MS', ['AGENTMESH_PUBSUB_REACH_WAIT_MS']],
    ['AGENTMESH_BOOTSTARP', ['AGENTMESH_BOOTSTRAP']],
    ['AGENTMESH_QWERTY', []]
  ]
  for (const [name, meant] of cases) {
    const message = await refusal({ [name]: '1' })
    const guesses = /did you mean ([A-Z0-9_, ]+)\?/.exec(message)?.[1].split(', ') ?? []
    for (const m of meant) assert.ok(guesses.includes(m), `${name}: ${m} among the guesses: ${message}`)
    assert.ok(guesses.length <= 3, message)
    if (meant.length === 0) assert.deepEqual(guesses, [], `no guess for a name unlike all: ${message}`)
    assert.ok(message.length < 400, `${message.length} characters: ${message}`)
    assert.match(message, /README\.md "Configuration"/)
  }
})

test('the defaults are the constants files\' (one place for each), and the lan preset is the defaults', { timeout: 3 * 60_000 }, () => {
  const c = parseConfig({})
  assert.equal(c.preset, 'lan')
  assert.equal(c.rpc.timeoutMs, rpc.DEFAULT_REQUEST_TIMEOUT_MS)
  assert.equal(c.rpc.window, rpc.DEFAULT_WINDOW)
  assert.equal(c.pubsub.maxBatchesPerSec, pubsub.DEFAULT_MAX_BATCHES_PER_SEC)
  assert.equal(c.membership.suspicionMaxMs, discovery.DEFAULT_SUSPICION_MAX_MS)
  assert.equal(c.coordination.electionTimeoutMinMs, coordination.DEFAULT_ELECTION_TIMEOUT_MIN_MS)
  assert.equal(c.resources.storageGb, discovery.DEFAULT_STORAGE_GB)
  assert.throws(() => parseConfig({ resources: { cpuCores: discovery.RESOURCE_LIMITS.cpuCores + 1 } }), /resources\.cpuCores/)
  assert.deepEqual(pick(c, presets.lan), presets.lan)
})

test('the member cap follows the security mode unless set: 16,384 in a closed mesh (10,000 agents fit), 4,096 in an open one (anyone may make members up)', { timeout: 60_000 }, () => {
  assert.equal(maxMembersOf(parseConfig({})), discovery.DEFAULT_MAX_MEMBERS)
  assert.ok(discovery.DEFAULT_MAX_MEMBERS >= 10_000)
  assert.equal(maxMembersOf(parseConfig({ security: { mode: 'open' } })), discovery.DEFAULT_OPEN_MAX_MEMBERS)
  assert.equal(maxMembersOf(parseConfig({ preset: 'local' })), discovery.DEFAULT_OPEN_MAX_MEMBERS, 'the local preset is open')
  assert.equal(maxMembersOf(parseConfig({ security: { mode: 'open' }, membership: { maxMembers: 20_000 } })), 20_000)
})

/** The keys of `like` (a preset) taken from a parsed configuration. */
function pick (c: Record<string, any>, like: Record<string, object>): Record<string, object> {
  return Object.fromEntries(Object.entries(like).map(([g, v]) => [g, Object.fromEntries(Object.keys(v).map(k => [k, c[g][k]]))]))
}

test('a preset\'s timings apply: local is the fast one the tests use, wan the slow one', { timeout: 3 * 60_000 }, () => {
  const local = parseConfig({ preset: 'local' })
  assert.deepEqual(pick(local, presets.local), presets.local)
  assert.deepEqual(presets.local.membership,
    { heartbeatIntervalMs: 100, probeIntervalMs: 200, probeTimeoutMs: 300, silenceMs: 600, syncIntervalMs: 5_000, suspicionMinMs: 400, suspicionMaxMs: 1200 })
  assert.equal(local.coordination.heartbeatIntervalMs, 50)
  assert.equal(local.coordination.electionTimeoutMinMs, 300)
  assert.equal(local.coordination.electionTimeoutMaxMs, 600)
  const wan = parseConfig({ preset: 'wan' })
  assert.deepEqual(pick(wan, presets.wan), presets.wan)
  // The timings only: the security mode is no duration (closed in lan and wan, open in local).
  for (const [group, values] of Object.entries(presets.wan).filter(([g]) => g !== 'security')) {
    for (const [key, v] of Object.entries(values)) {
      const lan = (presets.lan as any)[group][key]
      assert.ok(v >= lan, `wan ${group}.${key} is no shorter than lan's`)
      assert.ok(lan >= (presets.local as any)[group][key], `lan ${group}.${key} is no shorter than local's`)
    }
  }
  assert.deepEqual([presets.local.security.mode, presets.lan.security.mode, presets.wan.security.mode], ['open', 'closed', 'closed'])
  assert.equal(parseConfig({}).security.mode, 'closed', 'closed by default')
  assert.equal(parseConfig({ preset: 'local', security: { mode: 'closed', credential: 'c.json' } }).security.mode, 'closed', 'an explicit mode wins over the preset')
  // Keys a preset does not set keep their defaults.
  assert.equal(local.coordination.bootstrapExpect, coordination.DEFAULT_BOOTSTRAP_EXPECT)
  assert.equal(wan.rpc.timeoutMs, rpc.DEFAULT_REQUEST_TIMEOUT_MS)
  // A parsed configuration parses to itself: the CLI parses, then createAgentNode parses again.
  assert.deepEqual(parseConfig(local), local)
  assert.throws(() => { (presets.local.membership as any).silenceMs = 1 }, TypeError)
})

test('explicit values win over the preset, from options, file, environment or flags', { timeout: 3 * 60_000 }, async () => {
  const c = parseConfig({ preset: 'local', membership: { silenceMs: 900 }, coordination: { electionTimeoutMaxMs: 700 } })
  assert.equal(c.membership.silenceMs, 900)
  assert.equal(c.membership.probeTimeoutMs, presets.local.membership.probeTimeoutMs, 'the other keys of the group still come from the preset')
  assert.equal(c.coordination.electionTimeoutMaxMs, 700)
  assert.equal(c.coordination.electionTimeoutMinMs, presets.local.coordination.electionTimeoutMinMs)
  await withTempDir(async (dir) => {
    const file = join(dir, 'c.json')
    await writeFile(file, JSON.stringify({ preset: 'wan', membership: { probeIntervalMs: 4_000 } }))
    const d = await loadConfig({
      file,
      env: { AGENTMESH_COORDINATION_HEARTBEAT_INTERVAL_MS: '400' },
      flags: { membership: { suspicionMaxMs: 40_000 } }
    })
    assert.equal(d.preset, 'wan')
    assert.equal(d.membership.probeIntervalMs, 4_000)
    assert.equal(d.coordination.heartbeatIntervalMs, 400)
    assert.equal(d.membership.suspicionMaxMs, 40_000)
    assert.equal(d.membership.heartbeatIntervalMs, presets.wan.membership.heartbeatIntervalMs)
    // The environment's preset overrides the file's, and the flag's the environment's.
    const e = await loadConfig({ file, env: { AGENTMESH_PRESET: 'local' }, flags: { preset: 'lan' } })
    assert.equal(e.preset, 'lan')
    assert.equal(e.membership.probeIntervalMs, 4_000)
    assert.equal(e.membership.heartbeatIntervalMs, presets.lan.membership.heartbeatIntervalMs)
  })
  // An explicit timing that contradicts the preset's others fails, naming where each came from.
  await assert.rejects(loadConfig({ env: { AGENTMESH_PRESET: 'local' }, flags: { coordination: { heartbeatIntervalMs: 400 } } }),
    (e: any) => e.code === 'CFG001' && /coordination\.electionTimeoutMinMs: expected heartbeatIntervalMs < .*\(from preset local\)/.test(e.message))
})

test('an unknown preset is CFG001, naming the key and its source; AGENTMESH_TEST_ variables are the suite\'s, not config', { timeout: 3 * 60_000 }, async () => {
  assert.throws(() => parseConfig({ preset: 'moon' }),
    (e: any) => e instanceof ConfigError && e.code === 'CFG001' && /preset: .*"local"\|"lan"\|"wan"/.test(e.message))
  await assert.rejects(loadConfig({ env: { AGENTMESH_PRESET: 'LAN' } }),
    (e: any) => e.code === 'CFG001' && /preset: .*\(from environment AGENTMESH_PRESET\)/.test(e.message))
  const c = await loadConfig({ env: { AGENTMESH_TEST_REQUIRE: 'all', AGENTMESH_PRESET: 'wan' } })
  assert.equal(c.preset, 'wan')
})

test('the README\'s table of presets is the presets\' values', { timeout: 3 * 60_000 }, async () => {
  const readme = await readFile(join(DIST, '..', 'README.md'), 'utf8')
  // Timings, and the security mode (`open` in local, `closed` in the others).
  const rows = new Map([...readme.matchAll(/^\| (\w+\.\w+) \| `?(\d+|open|closed)`? \| `?(\d+|open|closed)`? \| `?(\d+|open|closed)`? \|$/gm)].map(m => [m[1], m.slice(2)]))
  for (const [group, values] of Object.entries(presets.lan)) {
    for (const key of Object.keys(values)) {
      const v = (name: 'local' | 'lan' | 'wan'): string => String((presets[name] as any)[group][key])
      assert.deepEqual(rows.get(`${group}.${key}`), [v('local'), v('lan'), v('wan')], `README row for ${group}.${key}`)
    }
  }
  assert.equal(rows.size, Object.values(presets.lan).reduce((n, g) => n + Object.keys(g).length, 0), 'no row for a key presets do not set')
})

test('the CLI takes --preset, and an unknown one stops it with CFG001 naming the flag', { timeout: 3 * 60_000 }, async () => {
  const p = new Proc([CLI, 'start', '--preset', 'moon', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'])
  assert.equal(await p.exited(), 2, p.stderr)
  assert.match(p.stderr, /CFG001 .*preset: .*"local"\|"lan"\|"wan" \(from flags\)/s)
  const q = new Proc([CLI, 'start', '--preset', 'moon', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0'], { AGENTMESH_PRESET: 'local' })
  try {
    assert.equal(await q.exited(), 2, 'the flag wins over the environment')
  } finally {
    await q.stop()
  }
})
