/** The data directory's store (node/store.ts, node/store-check.ts): durable values, the lock, damage caught before LMDB maps it. */
import test from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, truncate, writeFile, open as openFile, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { LmdbStore } from '../../node/store.js'
import { readMeta, walkStore } from '../../node/store-check.js'
import { MemoryStore, type Store } from '../../protocols/core/store.js'
import { StoreError } from '../../protocols/core/errors.js'
import { Proc, withTempDir } from '../helpers.js'

const STORE_JS = new URL('../../node/store.js', import.meta.url).href

async function fill (store: Store, n: number): Promise<void> {
  const s = store.space<{ i: number, body: string }>('outbox')
  const ops = Array.from({ length: n }, (_, i) => ({ key: `k${String(i).padStart(6, '0')}`, value: { i, body: 'x'.repeat(400) } }))
  await s.batch(ops)
  await store.space<number>('dedup').put('a', 1)
}

const sha = async (file: string): Promise<string> => createHash('sha256').update(await readFile(file)).digest('hex')

/** Opening `dir` fails with STO001 naming the store's path, and leaves data.mdb byte for byte as it was. */
async function refused (dir: string, match: RegExp): Promise<void> {
  const file = join(dir, 'store', 'data.mdb')
  const before = await sha(file)
  assert.throws(() => LmdbStore.open(dir), (err: unknown) => {
    assert.ok(err instanceof StoreError, String(err))
    assert.equal(err.code, 'STO001')
    assert.ok(err.message.includes(join(dir, 'store')), err.message)
    assert.match(err.message, match)
    assert.match(err.message, /left as it is/)
    return true
  })
  assert.equal(await sha(file), before, 'the damaged file is unchanged')
  // The refusal lets the lock go: nothing holds the directory after a failed open.
  await assert.rejects(stat(join(dir, 'LOCK')), { code: 'ENOENT' })
}

for (const [kind, make] of [['LmdbStore', (dir: string) => LmdbStore.open(dir)], ['MemoryStore', () => new MemoryStore()]] as const) {
  test(`${kind}: spaces are apart; put, batch, remove, ranges (forward, reverse, limit) and counts`, { timeout: 3 * 60_000 }, async () => {
    await withTempDir(async (dir) => {
      const store = make(dir)
      try {
        const a = store.space<number>('a')
        const b = store.space<string>('b')
        await a.batch(['k1', 'k2', 'k3', 'k4'].map((key, i) => ({ key, value: i + 1 })))
        await b.put('k1', 'other')
        await a.batch([{ key: 'k2', remove: true }, { key: 'k5', value: 5 }])
        await a.remove('k4')
        assert.equal(a.get('k1'), 1)
        assert.equal(a.has('k2'), false)
        assert.equal(b.get('k1'), 'other')
        assert.deepEqual([...a.entries()], [['k1', 1], ['k3', 3], ['k5', 5]])
        assert.deepEqual([...a.entries({ start: 'k2', end: 'k5' })], [['k3', 3]])
        assert.deepEqual([...a.entries({ reverse: true, end: 'k5' })], [['k3', 3], ['k1', 1]])
        assert.deepEqual([...a.entries({ limit: 2 })], [['k1', 1], ['k3', 3]])
        assert.equal(a.count(), 3)
        await b.clear()
        assert.equal(b.count(), 0)
      } finally {
        await store.close()
      }
    })
  })
}

test('LmdbStore: values survive close and reopen, in every space; the lock goes with close', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const first = LmdbStore.open(dir)
    await fill(first, 1000)
    await first.space('bytes').put('b', new Uint8Array([1, 2, 3]))
    await first.close()
    await assert.rejects(stat(join(dir, 'LOCK')), { code: 'ENOENT' })
    const again = LmdbStore.open(dir)
    try {
      const s = again.space<{ i: number }>('outbox')
      assert.equal(s.count(), 1000)
      assert.equal(s.get('k000999')?.i, 999)
      assert.equal(again.space<number>('dedup').get('a'), 1)
      assert.deepEqual([...(again.space<Uint8Array>('bytes').get('b') ?? [])], [1, 2, 3])
    } finally {
      await again.close()
    }
  })
})

test('LmdbStore: a write made while the store closes, or after, is refused with StoreError, and nothing is thrown from a later turn', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const uncaught: Error[] = []
    const onUncaught = (err: Error): void => { uncaught.push(err) }
    process.on('uncaughtException', onUncaught)
    try {
      const store = LmdbStore.open(dir)
      const space = store.space<number>('outbox')
      await space.put('before', 1)
      const closing = store.close()
      // A stopping node's outbox writing as its store closes (gossip-delivery.test's restart).
      const during = [space.put('during', 2), space.remove('before'), space.batch([{ key: 'b', value: 3 }])]
      for (const w of during) await assert.rejects(w, (e: Error) => e instanceof StoreError && /is closed/.test(e.message))
      await closing
      await assert.rejects(space.put('after', 4), StoreError)
      await new Promise(resolve => setTimeout(resolve, 50)) // lmdb commits from a later turn
      assert.deepEqual(uncaught.map(e => e.message), [])
      const again = LmdbStore.open(dir)
      try {
        const s = again.space<number>('outbox')
        assert.deepEqual([...s.entries()], [['before', 1]], 'the acknowledged write kept, the refused ones not made')
      } finally {
        await again.close()
      }
    } finally {
      process.off('uncaughtException', onUncaught)
    }
  })
})

test('LmdbStore.backup: a copy taken while the store is open opens as a store with the same values, and passes the check', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const store = LmdbStore.open(join(dir, 'live'))
    try {
      await fill(store, 500)
      await store.backup(join(dir, 'copy', 'store'))
      await store.space('outbox').put('after', { i: -1, body: '' })
    } finally {
      await store.close()
    }
    const copy = LmdbStore.open(join(dir, 'copy'))
    try {
      assert.equal(copy.space('outbox').count(), 500, 'the copy is of the moment it was taken')
      assert.equal(copy.space<number>('dedup').get('a'), 1)
    } finally {
      await copy.close()
    }
  })
})

test('LOCK: a second open in this process is refused; a LOCK with this pid left by an earlier process (a restarted container) is taken over', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const store = LmdbStore.open(dir)
    try {
      assert.throws(() => LmdbStore.open(join(dir, '.')), /already open in this process/)
    } finally {
      await store.close()
    }
    await writeFile(join(dir, 'LOCK'), `${process.pid}\n`)
    const again = LmdbStore.open(dir)
    assert.equal((await readFile(join(dir, 'LOCK'), 'utf8')).trim(), String(process.pid))
    await again.close()
  })
})

test('a second process on the same data directory gets STO001 naming the pid; after kill -9 of the holder, every acknowledged put is there', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    // The holder acknowledges each put on stdout only after `await put()` (the store's fdatasync).
    const script = `
      const { LmdbStore } = await import(${JSON.stringify(STORE_JS)})
      const s = LmdbStore.open(process.argv[1]).space('acks')
      console.log(JSON.stringify({ open: process.pid }))
      for (let i = 0; ; i++) { await s.put('k' + i, i); console.log(JSON.stringify({ acked: i })) }`
    const holder = new Proc(['--input-type=module', '-e', script, dir])
    try {
      const { open: pid } = await holder.json(o => o.open !== undefined, 'the holder to open the store')
      assert.throws(() => LmdbStore.open(dir), (err: unknown) => {
        assert.ok(err instanceof StoreError)
        assert.match(err.message, new RegExp(`in use by process ${pid as number}\\b`))
        return true
      })
      await holder.json(o => o.acked >= 50, 'fifty acknowledged puts')
    } finally {
      await holder.stop('SIGKILL')
    }
    const acked = Math.max(...holder.lines.map(l => JSON.parse(l).acked ?? -1))
    // The LOCK names a dead process now: it is taken over, not a refusal.
    const store = LmdbStore.open(dir)
    try {
      const s = store.space<number>('acks')
      for (let i = 0; i <= acked; i++) assert.equal(s.get(`k${i}`), i, `acknowledged put ${i} of ${acked}`)
    } finally {
      await store.close()
    }
  })
})

test('the meta check: garbage, a file cut to nothing, to one page, and before its roots are each named; a sound file passes', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const store = LmdbStore.open(dir)
    await fill(store, 3000)
    await store.close()
    const file = join(dir, 'store', 'data.mdb')
    const sound = readMeta(file)
    assert.equal(sound.problem, undefined)
    assert.equal(sound.meta?.spaces, 2n, 'two spaces in the main database')
    const bytes = await readFile(file)
    const variants: Array<[string, Buffer, RegExp]> = [
      ['garbage', Buffer.alloc(16384, 0xab), /no LMDB magic number/],
      ['empty', Buffer.alloc(0), /truncated \(0 bytes/],
      ['one page', bytes.subarray(0, 4096), /truncated \(4096 bytes, shorter than its two meta pages/],
      ['cut before the roots', bytes.subarray(0, bytes.length >> 1), /root is page \d+, the file has \d+ pages/]
    ]
    for (const [what, content, match] of variants) {
      await writeFile(file, content)
      assert.match(readMeta(file).problem ?? '(none)', match, what)
      await refused(dir, match)
    }
  })
})

test('damage past the meta pages is found by the walk in a child process: the child crashes or fails, the test process does not', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const store = LmdbStore.open(dir)
    await fill(store, 3000)
    await store.close()
    const file = join(dir, 'store', 'data.mdb')
    const pristine = await readFile(file)
    // Every page after the two meta pages overwritten: the metas are sound, the trees are not.
    const fd = await openFile(file, 'r+')
    await fd.write(Buffer.alloc(pristine.length - 8192, 0xab), 0, pristine.length - 8192, 8192)
    await fd.close()
    assert.equal(readMeta(file).problem, undefined, 'the meta pages alone look sound')
    await refused(dir, /damaged: MDB_|killed the checking process/)

    // A garbage file LMDB itself maps: without the check this segfaults the process that opens it.
    await writeFile(file, Buffer.alloc(16384, 0xab))
    assert.throws(() => { walkStore(join(dir, 'store')) }, (err: unknown) => {
      assert.ok(err instanceof StoreError)
      assert.match(err.message, /killed the checking process \(SIG(SEGV|BUS)\)/)
      return true
    })
    await truncate(file, 0)
  })
})
