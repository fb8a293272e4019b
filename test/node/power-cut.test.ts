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
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LmdbStore } from '../../node/store.js'
import { ElectionStateFile } from '../../protocols/coordination/election-state-file.js'
import { Proc } from '../helpers.js'
import { LoopDisk } from '../loop-disk.js'
import { skipWithout } from '../requirements.js'

const STORE_JS = new URL('../../node/store.js', import.meta.url).href
const STATE_JS = new URL('../../protocols/coordination/election-state-file.js', import.meta.url).href
const STORE_PATH = fileURLToPath(STORE_JS)

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
