// The clients run in a running node's environment, as `docker exec <container> agentmesh ...`
// runs them: the image's AGENTMESH_DATA_DIR and AGENTMESH_IDENTITY (docker/Dockerfile), and its
// debug endpoint's address. Real processes on 127.0.0.1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { CLI, Proc, freePort, uniqueMesh, withTempDir } from '../../helpers.js'

/** The container's environment, with its ports made free ones on 127.0.0.1. */
async function imageEnv (dir: string, mesh: string, extra: Record<string, string> = {}): Promise<Record<string, string>> {
  const data = join(dir, 'data')
  return {
    AGENTMESH_DATA_DIR: data,
    AGENTMESH_IDENTITY: join(data, 'identity.json'),
    AGENTMESH_LISTEN: `/ip4/127.0.0.1/tcp/${await freePort()}`,
    AGENTMESH_DEBUG: `127.0.0.1:${await freePort()}`,
    AGENTMESH_MESH: mesh,
    ...extra
  }
}

async function run (args: string[], env: Record<string, string>): Promise<{ code: number | null, proc: Proc }> {
  const proc = new Proc([CLI, ...args], env)
  return { code: await proc.exited(60_000), proc }
}

test('in an open node\'s environment, request, sub and pub work beside it: in memory, each under an identity of its own, its directory untouched', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const env = await imageEnv(dir, uniqueMesh(), { AGENTMESH_SECURITY_MODE: 'open', AGENTMESH_PRESET: 'local' })
    const node = new Proc([CLI, 'start', '--json', '--no-mdns', '--name', 'bootstrap'], env)
    let sub: Proc | undefined
    try {
      const ready = await node.json(o => o.event === 'ready', 'the node to be ready')
      const data = env.AGENTMESH_DATA_DIR
      const before = readdirSync(data).sort()
      const via = ['--no-mdns', '--bootstrap', env.AGENTMESH_LISTEN]

      const asked = await run(['request', ...via, 'bootstrap', 'info'], env)
      assert.equal(asked.code, 0, asked.proc.described())
      assert.equal(JSON.parse(asked.proc.lines.join('\n')).peerId, ready.peerId, 'the node answered')

      // A sub and a pub beside the node and each other: one identity for two of them would lose the event.
      sub = new Proc([CLI, 'sub', '--json', '--count', '1', ...via, 'alerts'], env)
      const subscribed = await sub.json(o => o.event === 'subscribed', 'the sub to subscribe')
      assert.notEqual(subscribed.peerId, ready.peerId, 'the sub is not the node a second time')
      const pub = await run(['pub', ...via, '--wait', '20000', 'alerts', '{"level":"high"}'], env)
      assert.equal(pub.code, 0, pub.proc.described())
      const heard = await sub.json(o => o.event === 'message', 'the sub to hear the event')
      assert.deepEqual(heard.payload, { level: 'high' })
      assert.equal(await sub.exited(30_000), 0, sub.described())

      assert.deepEqual(readdirSync(data).sort(), before, 'nothing written in the node\'s directory')
      assert.equal(readFileSync(join(data, 'LOCK'), 'utf8').trim(), String(node.child.pid))
      const health: any = await (await fetch(`http://${env.AGENTMESH_DEBUG}/health`)).json()
      assert.equal(health.peerId, ready.peerId, 'the debug endpoint is still the node\'s')
    } finally {
      await sub?.stop('SIGKILL')
      await node.stop('SIGKILL')
    }
  })
})

test('in a closed node\'s environment, a client stops with what to pass (CFG001, exit 2), and runs beside it with an identity and credential of its own', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const f = (name: string): string => join(dir, name)
    const cli = async (args: string[]): Promise<void> => { const r = await run(args, {}); assert.equal(r.code, 0, r.proc.described()) }
    await cli(['mesh', 'init', '--mesh', mesh, '--out', f('owner.json')])
    const env = await imageEnv(dir, mesh, { AGENTMESH_SECURITY_CREDENTIAL: f('node.cred.json'), AGENTMESH_SECURITY_PSK: f('mesh.psk') })
    await cli(['id', '--identity', env.AGENTMESH_IDENTITY])
    await cli(['id', '--identity', f('me.json')])
    await cli(['credential', 'issue', '--owner', f('owner.json'), '--identity', env.AGENTMESH_IDENTITY, '--roles', 'agent', '--out', f('node.cred.json')])
    await cli(['credential', 'issue', '--owner', f('owner.json'), '--identity', f('me.json'), '--roles', 'agent', '--out', f('me.cred.json')])
    const node = new Proc([CLI, 'start', '--json', '--no-mdns', '--name', 'a1'], env)
    try {
      const ready = await node.json(o => o.event === 'ready', 'the node to be ready')
      const via = ['--no-mdns', '--bootstrap', env.AGENTMESH_LISTEN]

      const refused = await run(['request', ...via, 'a1', 'info'], env)
      assert.equal(refused.code, 2, refused.proc.described())
      assert.match(refused.proc.stderr, new RegExp(`CFG001 .*the data directory ${env.AGENTMESH_DATA_DIR} is held by the running node ` +
        `\\(process ${node.child.pid as number}, peer ${ready.peerId}\\), and so is the identity ${env.AGENTMESH_IDENTITY}`))
      assert.match(refused.proc.stderr, /--identity <file> --credential <file>/)

      const own = await run(['request', ...via, '--identity', f('me.json'), '--credential', f('me.cred.json'), 'a1', 'info'], env)
      assert.equal(own.code, 0, own.proc.described())
      assert.equal(JSON.parse(own.proc.lines.join('\n')).peerId, ready.peerId)
    } finally {
      await node.stop('SIGKILL')
    }
  })
})
