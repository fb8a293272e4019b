/**
 * "Survives a power cut" (docs/durability.md, "What an acknowledgement means"), tested with the
 * page cache lost for real: the data directory on an ext4 disk of its own (test/loop-disk.ts), a
 * writer process acknowledging store puts and an election vote, then the disk as the power cut
 * leaves it (its image, without what the page cache still held), the writer killed, the disk
 * checked and mounted again. Every acknowledged put and the vote must be there.
 *
 * The controls show the test really drops the page cache, so that it can fail: the same store
 * written without fsync (lmdb's noSync) loses its put, and a plain file written without fsync
 * loses its bytes, while each was readable before the cut.
 *
 * Then a real agent process on such a disk: the tasks it accepted and its term and vote survive
 * the cut, and it runs the tasks to their end when started again on the disk as the cut left it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createAgentNode, type AgentNode } from '../../surfaces/index.js'
import { LmdbStore } from '../../node/store.js'
import { ElectionStateFile } from '../../protocols/coordination/election-state-file.js'
import { agentTimings, freePort, nodeOptions, Proc, uniqueMesh, waitFor, withTempDir } from '../helpers.js'
import { LoopDisk } from '../loop-disk.js'
import { skipWithout } from '../requirements.js'

const STORE_JS = new URL('../../node/store.js', import.meta.url).href
const STATE_JS = new URL('../../protocols/coordination/election-state-file.js', import.meta.url).href
const STORE_PATH = fileURLToPath(STORE_JS)
const AGENT = fileURLToPath(new URL('../../harness/fixtures/task-agent.js', import.meta.url))

const PEER = '12D3KooWGzh7Fw9BDXGXFZqzBkUrLQ3kKr8S2iW1Wv9iL5ou8oXM'
const PLAIN = 'written without fsync: lost with the page cache'.repeat(100)

/**
 * The writer. Set-up made durable by a sync of the whole filesystem (the store, an older vote,
 * the control store holding `base`); then what is measured: puts acknowledged each after its
 * `await put()` (one by one, then 100 at once), a new vote saved, and the two controls written
 * without fsync. It prints `ready` and waits for its end.
 */
const WRITER = `
  const { LmdbStore } = await import(${JSON.stringify(STORE_JS)})
  const { ElectionStateFile } = await import(${JSON.stringify(STATE_JS)})
  const { createRequire } = await import('node:module')
  const { spawnSync } = await import('node:child_process')
  const { writeFileSync } = await import('node:fs')
  const [dataDir, controlDir, plainFile, peer, plain] = process.argv.slice(1)
  const say = (o) => { writeFileSync(1, JSON.stringify(o) + '\\n') }
  const store = LmdbStore.open(dataDir)
  const acks = store.space('acks')
  const election = new ElectionStateFile(dataDir + '/coordination.json')
  election.save({ term: 1 })
  const lmdb = createRequire(${JSON.stringify(STORE_PATH)})('lmdb')
  const controlRoot = lmdb.open({ path: controlDir + '/store', maxDbs: 32, compression: false, noSync: true })
  const control = controlRoot.openDB({ name: 'control', compression: false })
  await control.put('base', 'synced before the cut')
  const synced = spawnSync('sync', ['-f', dataDir])
  if (synced.status !== 0) throw new Error('sync -f failed: ' + synced.stderr)
  for (let i = 0; i < 100; i++) { await acks.put('k' + i, i); say({ acked: i }) }
  await Promise.all(Array.from({ length: 100 }, async (_, j) => { const i = 100 + j; await acks.put('k' + i, i); say({ acked: i }) }))
  election.save({ term: 7, votedFor: peer })
  say({ voted: 7 })
  await control.put('k', 'never synced')
  writeFileSync(plainFile, plain)
  say({ ready: true })
  setInterval(() => {}, 60_000)
`

test('a power cut (the page cache lost, not only the process) keeps every acknowledged store put and the vote; writes never synced are lost', { timeout: 5 * 60_000 }, async (t) => {
  if (skipWithout(t, 'loop')) return
  const disk = LoopDisk.create()
  let writer: Proc | undefined
  try {
    const dataDir = join(disk.mount, 'data')
    const controlDir = join(disk.mount, 'control')
    const plainFile = join(disk.mount, 'plain.txt')
    writer = new Proc(['--input-type=module', '-e', WRITER, dataDir, controlDir, plainFile, PEER, PLAIN])
    await writer.json(o => o.ready === true, 'the writer to acknowledge its writes and write the controls', 120_000)
    // Before the cut, every write is readable: the controls are in the page cache.
    assert.equal(readFileSync(plainFile, 'utf8'), PLAIN)
    const contents = disk.powerCut()
    await writer.stop('SIGKILL')
    const acked = writer.lines.map(l => JSON.parse(l).acked).filter((a): a is number => typeof a === 'number')
    assert.equal(acked.length, 200, 'the writer acknowledged 200 puts')
    t.diagnostic(`e2fsck after the cut: ${disk.restore(contents).trim().split('\n').slice(-2).join(' | ')}`)

    const store = LmdbStore.open(dataDir)
    try {
      const acks = store.space<number>('acks')
      const missing = acked.filter(i => acks.get(`k${i}`) !== i)
      assert.deepEqual(missing, [], 'every acknowledged put is on the disk after the cut')
    } finally {
      await store.close()
    }
    assert.deepEqual(new ElectionStateFile(join(dataDir, 'coordination.json')).load(), { term: 7, votedFor: PEER }, 'the vote saved before the cut')

    // The controls: what was never synced is gone, while the same store's synced write is there.
    const controlStore = LmdbStore.open(controlDir)
    try {
      const control = controlStore.space<string>('control')
      assert.equal(control.get('base'), 'synced before the cut')
      assert.equal(control.get('k'), undefined, 'a put without fsync is lost in the cut: the test drops the page cache')
    } finally {
      await controlStore.close()
    }
    const plainAfter = existsSync(plainFile) ? readFileSync(plainFile, 'utf8') : undefined
    assert.notEqual(plainAfter, PLAIN, 'a file written without fsync is lost in the cut')
  } finally {
    await writer?.stop('SIGKILL')
    disk.destroy()
  }
})

test('a power cut under a real agent: the tasks it accepted and its term and vote are on the disk after the cut, and it runs the tasks when started again', { timeout: 5 * 60_000 }, async (t) => {
  if (skipWithout(t, 'loop')) return
  await withTempDir(async (dir) => {
    const disk = LoopDisk.create()
    const mesh = uniqueMesh()
    const port = await freePort()
    const dataDir = join(disk.mount, 'agent')
    // The identities live off the cut disk: the agent's identity file is written without fsync
    // at its first start (docs/durability.md, "Not tested"), and this test is of the data directory.
    const env: NodeJS.ProcessEnv = {
      ...agentTimings(1),
      AGENTMESH_NAME: 'w0',
      AGENTMESH_MESH: mesh,
      AGENTMESH_LISTEN: `/ip4/127.0.0.1/tcp/${port}`,
      AGENTMESH_MDNS: 'false',
      AGENTMESH_LOG_LEVEL: 'silent',
      AGENTMESH_SECURITY_MODE: 'open',
      AGENTMESH_IDENTITY: join(dir, 'w0.json'),
      AGENTMESH_DATA_DIR: dataDir
    }
    const submitterOptions = (bootstrap: string[]): Parameters<typeof createAgentNode>[0] =>
      nodeOptions(mesh, { name: 'submitter', identity: join(dir, 'submitter.json'), bootstrap, coordination: { eligible: false } })
    let agent: Proc | undefined
    let again: Proc | undefined
    let submitter: AgentNode | undefined
    try {
      agent = new Proc([AGENT], env)
      const started = await agent.json(o => o.event === 'started', 'the agent to start', 60_000)
      submitter = await createAgentNode(submitterOptions(started.addresses))
      await submitter.start()
      const sub = submitter
      await waitFor(() => sub.peers().length === 1, 'the submitter to see the agent', 45_000)
      await sub.coordinatorElected({ signal: AbortSignal.timeout(60_000) })
      const before = sub.coordinator()
      assert.equal(before.leader, started.peerId, 'the agent is the coordinator, the only voter')
      // Acknowledged once accepted (on the disk of a majority: the agent's): long enough to be open at the cut.
      const handles = await sub.submitTasks(Array.from({ length: 20 }, (_, i) => ({ task_id: `cut-${i}`, type: 'work', metadata: { steps: 3, stepMs: 1_000 } })))
      const ids = handles.map(h => h.taskId)

      const contents = disk.powerCut()
      await agent.stop('SIGKILL')
      await submitter.stop()
      submitter = undefined
      disk.restore(contents)

      const vote = new ElectionStateFile(join(dataDir, 'coordination.json')).load()
      assert.ok(vote !== undefined && vote.term >= (before.term ?? 0), `the term on the disk (${JSON.stringify(vote)}) is the one before the cut (${String(before.term)}) or later`)
      assert.equal(vote.votedFor, started.peerId, 'and its vote, for itself')

      again = new Proc([AGENT], env)
      const second = await again.json(o => o.event === 'started', 'the agent to start again on the disk after the cut', 60_000)
      assert.equal(second.peerId, started.peerId)
      submitter = await createAgentNode(submitterOptions(second.addresses))
      await submitter.start()
      const sub2 = submitter
      await waitFor(() => sub2.peers().length === 1, 'the new submitter to see the agent', 45_000)
      await sub2.coordinatorElected({ signal: AbortSignal.timeout(60_000) })
      assert.ok((sub2.coordinator().term ?? 0) > (before.term ?? 0), 'a later term than before the cut')
      const done = new Set<string>()
      await waitFor(async () => {
        for (const id of ids) {
          if (done.has(id)) continue
          try {
            if ((await sub2.tasks.client.query(id)).status === 'completed') done.add(id)
          } catch (err) {
            // Unknown (TSK001): an accepted task lost in the cut. Fail at once.
            if ((err as { code?: string }).code === 'TSK001') throw err
          }
        }
        return done.size === ids.length
      }, 'every task accepted before the cut completed after it', 120_000)
    } finally {
      await submitter?.stop()
      await agent?.stop('SIGKILL')
      await again?.stop()
      disk.destroy()
    }
  })
})
