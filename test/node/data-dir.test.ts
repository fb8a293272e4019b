/** `agentmesh start` and its data directory, through real processes: what survives a kill -9, what is refused, and never deleted. */
import test from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { LmdbStore } from '../../node/store.js'
import { CLI, Proc, uniqueMesh, withTempDir } from '../helpers.js'

/** A start command's flags; HOME is the test's, so the default data directory is never the user's. */
const start = (home: string, args: string[], env: Record<string, string> = {}): Proc =>
  new Proc([CLI, 'start', '--open', '--json', '--no-mdns', '--preset', 'local', '--log-level', 'warn', '--listen', '/ip4/127.0.0.1/tcp/0', '--mesh', uniqueMesh(), ...args],
    { HOME: home, ...env })

const sha = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex')

/** The process exits non-zero with STO001, the store's path and what to do; the store file is byte for byte as it was. */
async function refusedAtStart (home: string, dataDir: string, match: RegExp): Promise<void> {
  const file = join(dataDir, 'store', 'data.mdb')
  const before = await sha(file)
  const p = start(home, ['--data-dir', dataDir])
  try {
    const code = await p.exited(30_000)
    assert.equal(code, 1, 'exits 1: failed at run time (a damaged store is no usage error)')
    assert.equal(p.child.signalCode, null, `no crash: ${p.stderr}`)
    assert.match(p.stderr, /STO001/)
    assert.ok(p.stderr.includes(join(dataDir, 'store')), p.stderr)
    assert.match(p.stderr, match)
    assert.match(p.stderr, /move it away to start empty/)
    assert.ok(!p.lines.some(l => l.includes('"ready"')), 'never ready')
  } finally {
    await p.stop('SIGKILL')
  }
  assert.equal(await sha(file), before, 'the store file is unchanged')
}

test('a garbage data.mdb and a truncated one stop `start --data-dir` with STO001 and the path; the file is left as it was', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (home) => {
    const dataDir = join(home, 'agent')
    const store = LmdbStore.open(dataDir)
    const s = store.space<string>('outbox')
    await s.batch(Array.from({ length: 2000 }, (_, i) => ({ key: `k${i}`, value: 'x'.repeat(400) })))
    await store.space('dedup').put('a', 1)
    await store.close()
    const file = join(dataDir, 'store', 'data.mdb')
    const sound = await readFile(file)
    await writeFile(file, sound.subarray(0, sound.length >> 1))
    await refusedAtStart(home, dataDir, /truncated/)
    await writeFile(file, Buffer.alloc(16384, 0xab))
    await refusedAtStart(home, dataDir, /no LMDB magic number/)
  })
})

test('a node restarted on its data directory after kill -9 keeps its peer id and its election term; a second node on it is refused naming the pid', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (home) => {
    const dataDir = join(home, 'solo')
    // One voter is enough to elect: the term moves at the first start.
    const env = { AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '1' }
    const first = start(home, ['--name', 'solo', '--data-dir', dataDir], env)
    let peerId: string
    let term: number
    try {
      const ready = await first.json(o => o.event === 'ready', 'the first start to be ready', 30_000)
      peerId = ready.peerId
      assert.equal(ready.dataDir, dataDir)
      term = (await first.json(o => o.event === 'coordinator' && o.self === true, 'the node to lead', 30_000)).term
      assert.equal((await stat(join(dataDir, 'identity.key'))).mode & 0o777, 0o600, 'the identity is the owner\'s only')
      assert.ok((await stat(join(dataDir, 'coordination.json'))).isFile(), 'the election state is in the data directory')

      const second = start(home, ['--name', 'solo', '--data-dir', dataDir], env)
      try {
        // Exits 2, as for a port in use: the command names a directory another node holds.
        assert.equal(await second.exited(30_000), 2, second.described())
        assert.match(second.stderr, new RegExp(`STO001 .*in use by process ${first.child.pid as number}\\b`))
      } finally {
        await second.stop('SIGKILL')
      }
    } finally {
      await first.stop('SIGKILL')
    }

    const again = start(home, ['--name', 'solo', '--data-dir', dataDir], env)
    try {
      const ready = await again.json(o => o.event === 'ready', 'the restart to be ready', 30_000)
      assert.equal(ready.peerId, peerId, 'the same peer id')
      const led = await again.json(o => o.event === 'coordinator' && o.self === true, 'the restarted node to lead', 30_000)
      // A node that forgot its term would start again at 1 and could vote twice in a term it already voted in.
      assert.ok(led.term > term, `term ${led.term as number} after the restart, ${term} before`)
    } finally {
      await again.stop()
    }
  })
})

test('the CLI\'s data directory: ~/.agentmesh/<name> by default, none with --no-data-dir, and another identity on a bound directory is refused', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (home) => {
    const named = start(home, ['--name', 'a1'])
    let peerId: string
    try {
      const ready = await named.json(o => o.event === 'ready', 'a1 to be ready', 30_000)
      peerId = ready.peerId
      assert.equal(ready.dataDir, join(home, '.agentmesh', 'a1'))
    } finally {
      await named.stop()
    }
    assert.ok((await stat(join(home, '.agentmesh', 'a1', 'store', 'data.mdb'))).isFile())

    const memory = start(home, ['--no-data-dir'])
    try {
      const ready = await memory.json(o => o.event === 'ready', 'the in-memory node to be ready', 30_000)
      assert.equal(ready.dataDir, null)
    } finally {
      await memory.stop()
    }
    await assert.rejects(stat(join(home, '.agentmesh', 'default')), { code: 'ENOENT' }, '--no-data-dir writes nothing')

    // a1's directory holds a1's term and vote: a node with another key must not take them over.
    await mkdir(join(home, 'keys'))
    const other = start(home, ['--name', 'a1', '--identity', join(home, 'keys', 'other.json')])
    try {
      assert.equal(await other.exited(30_000), 2, other.described())
      assert.match(other.stderr, new RegExp(`STO001 .*belongs to peer ${peerId}`))
    } finally {
      await other.stop('SIGKILL')
    }
    await assert.rejects(stat(join(home, 'keys', 'other.json')), { code: 'ENOENT' }, 'the refused start wrote no identity file')
  })
})

test('the README in order: a directory made with --identity refuses a start without it, writes no key, and says what to type; both ways it says work', { timeout: 3 * 60_000 }, async () => {
  // Issue 44: the open variant of the quick start (`start --open --name a1`) after the closed one
  // (`--identity a1.json`) found ~/.agentmesh/a1 taken, and wrote identity.key into it all the same.
  await withTempDir(async (home) => {
    const a1json = join(home, 'a1.json')
    const dir = join(home, '.agentmesh', 'a1')
    const first = start(home, ['--name', 'a1', '--identity', a1json])
    let owner: string
    try {
      owner = (await first.json(o => o.event === 'ready', 'a1 to be ready', 30_000)).peerId
    } finally {
      await first.stop()
    }
    const refused = start(home, ['--name', 'a1'])
    let flags: string[][]
    try {
      assert.notEqual(await refused.exited(30_000), 0)
      assert.match(refused.stderr, new RegExp(`STO001 .*belongs to peer ${owner} \\(${a1json}\\)`))
      await assert.rejects(stat(join(dir, 'identity.key')), { code: 'ENOENT' }, `the refused start wrote no key: ${refused.stderr}`)
      assert.match(refused.stderr, /Nothing was changed/)
      // What the message says to type, taken from it as it is printed.
      flags = [...refused.stderr.matchAll(/ with (--identity|--data-dir) ([^\s;]+)/g)].map(m => [m[1], m[2]])
      assert.deepEqual(flags, [['--identity', a1json], ['--data-dir', `${dir}-2`]], refused.stderr)
    } finally {
      await refused.stop('SIGKILL')
    }
    for (const [flag, value] of flags) {
      const p = start(home, ['--name', 'a1', flag, value])
      try {
        const ready = await p.json(o => o.event === 'ready', `a1 started with ${flag} ${value}`, 30_000)
        if (flag === '--identity') assert.equal(ready.peerId, owner)
        else assert.equal(ready.dataDir, value)
      } finally {
        await p.stop()
      }
    }
  })
})
