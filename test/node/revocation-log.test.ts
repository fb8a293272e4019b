/**
 * What a node says of the revocation lists it takes (node/admission.ts): the mesh's, learnt as it
 * joins holding none, at info, so that a client of a closed mesh that has one prints its answer
 * and no warning; a newer one than it held, a revocation made while it runs, as a warning. Real
 * processes on 127.0.0.1.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, Proc, runCli, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

test('a client of a closed mesh with a revocation list warns of nothing; the agent that held one logs a newer one as a warning', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const f = (name: string): string => join(dir, name)
    const ok = async (args: string[]): Promise<string> => { const r = await runCli(args); assert.equal(r.code, 0, r.stderr); return r.stdout }
    await ok(['mesh', 'init', '--mesh', mesh, '--out', f('owner.json'), '--no-psk'])
    for (const [name, roles] of [['a1', 'agent,coordinator'], ['me', 'agent,operator'], ['x', 'agent'], ['y', 'agent']]) {
      await ok(['id', '--identity', f(`${name}.json`)])
      await ok(['credential', 'issue', '--owner', f('owner.json'), '--identity', f(`${name}.json`), '--roles', roles, '--ttl', '1d', '--out', f(`${name}.cred.json`)])
    }
    const peer = async (name: string): Promise<string> => JSON.parse(await ok(['id', '--identity', f(`${name}.json`), '--json'])).peerId
    await ok(['credential', 'revoke', '--owner', f('owner.json'), '--peer', await peer('x'), '--list', f('first.json')])
    // Not the same list: it extends the first, and is signed after it.
    await ok(['credential', 'revoke', '--owner', f('owner.json'), '--peer', await peer('y'), '--list', f('first.json')])
    const agent = new Proc([CLI, 'start', '--json', '--mesh', mesh, '--name', 'a1', '--identity', f('a1.json'), '--credential', f('a1.cred.json'),
      '--revocations', f('first.json'), '--no-data-dir', '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--log-format', 'json'], { AGENTMESH_LOG_LEVEL: 'info' })
    try {
      const ready = await agent.json(o => o.event === 'ready', 'the agent to be ready')
      const logged = (msg: string): any[] => agent.stderr.split('\n').filter(l => l.includes(`"msg":"${msg}"`)).map(l => JSON.parse(l))

      const client = ['--mesh', mesh, '--identity', f('me.json'), '--credential', f('me.cred.json'), '--no-mdns', '--bootstrap', ready.addresses[0]]
      const asked = await runCli(['request', ...client, 'a1', 'echo', '"hi"'])
      assert.equal(asked.code, 0, asked.stderr)
      assert.equal(JSON.parse(asked.stdout), 'hi')
      assert.equal(asked.stderr, '', 'the client took the mesh\'s list and said nothing of it')

      // The owner revokes another peer while the agent runs: that is worth a warning.
      await copyFile(f('first.json'), f('newer.json'))
      await ok(['id', '--identity', f('z.json')])
      await ok(['credential', 'revoke', '--owner', f('owner.json'), '--peer', await peer('z'), '--list', f('newer.json')])
      const published = await runCli(['revocation', 'publish', f('newer.json'), ...client, '--to', 'a1'])
      assert.equal(published.code, 0, published.stderr)
      await waitFor(() => logged('newer revocation list taken').length > 0, 'the agent to log the newer list', 30_000)
      assert.deepEqual(logged('newer revocation list taken').map(l => l.level), [40])
    } finally {
      await agent.stop()
    }
  })
})
