// agentmesh id: an identity file made or shown, and the identity of a data directory, read while
// its node runs without writing anything there. Real processes on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, Proc, withTempDir } from '../../helpers.js'

async function id (args: string[]): Promise<{ code: number | null, out: any, stderr: string }> {
  const proc = new Proc([CLI, 'id', '--json', ...args])
  const code = await proc.exited(60_000)
  return { code, out: proc.lines.length > 0 ? JSON.parse(proc.lines[0]) : undefined, stderr: proc.stderr }
}

test('id --data-dir of a running node\'s directory shows the identity it belongs to, writes nothing there and takes no lock; of a new one, creates identity.key', { timeout: 2 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    // The container's layout: the key in the directory under another name (AGENTMESH_IDENTITY=/data/identity.json).
    const data = join(dir, 'data')
    const node = new Proc([CLI, 'start', '--json', '--open', '--no-mdns', '--preset', 'local', '--listen', '/ip4/127.0.0.1/tcp/0',
      '--data-dir', data, '--identity', join(data, 'identity.json')])
    try {
      const ready = await node.json(o => o.event === 'ready', 'the node to be ready')
      const before = readdirSync(data).sort()
      const shown = await id(['--data-dir', data])
      assert.equal(shown.code, 0, shown.stderr)
      assert.equal(shown.out.peerId, ready.peerId, 'the running node\'s peer id')
      assert.equal(shown.out.file, join(data, 'identity.json'))
      assert.equal(shown.out.created, false)
      assert.equal(existsSync(join(data, 'identity.key')), false, 'no second identity written beside the node\'s')
      assert.deepEqual(readdirSync(data).sort(), before)
      assert.equal(readFileSync(join(data, 'LOCK'), 'utf8').trim(), String(node.child.pid), 'the node still holds its lock')

      // A stray key left there (as `id --data-dir` wrote before) is said, and not shown as the directory's.
      assert.equal((await id(['--identity', join(data, 'identity.key')])).code, 0)
      const stray = await id(['--data-dir', data])
      assert.equal(stray.out.peerId, ready.peerId)
      assert.match(stray.stderr, /identity\.key holds another identity \(12D3Koo\w+\), not the one .* belongs to/)

      node.child.kill('SIGTERM')
      assert.equal(await node.exited(30_000), 0, node.described())
      assert.equal((await id(['--data-dir', data])).out.peerId, ready.peerId, 'the same once the node stopped')
    } finally {
      await node.stop('SIGKILL')
    }

    // A directory no node used yet: its identity.key, created once, then read.
    const fresh = join(dir, 'fresh')
    const made = await id(['--data-dir', fresh])
    assert.equal(made.code, 0, made.stderr)
    assert.equal(made.out.created, true)
    assert.equal(made.out.file, join(fresh, 'identity.key'))
    const again = await id(['--data-dir', fresh])
    assert.deepEqual([again.out.peerId, again.out.created], [made.out.peerId, false])
  })
})
