/**
 * The data directory's store (issue 14): LMDB through `lmdb` (docs/durability.md says why, with
 * the figures). One environment in <dataDir>/store, one named database per space. Writes are
 * batched by lmdb into one transaction per turn of its writer thread; a write's promise resolves
 * only after that transaction is flushed to disk (`flushed`), so an acknowledgement given after
 * `await put()` survives kill -9 and a power cut (as far as the disk's fsync goes).
 *
 * A data directory is used by one process at a time: <dataDir>/LOCK holds the pid, and a second
 * node on the same directory refuses to start (two nodes with one identity and one vote would
 * break the election's promises). A store that cannot be opened, or that node/store-check.ts finds
 * damaged before it is opened, fails with STO001 and its path; nothing is ever deleted to recover.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { createRequire } from 'node:module'
import type { Database, RootDatabase } from 'lmdb'
import { DataDirTakenError, StoreError } from '../protocols/core/errors.js'
import { checkStore } from './store-check.js'
import type { Store, StoreOp, StoreRange, StoreSpace } from '../protocols/core/store.js'

type Lmdb = typeof import('lmdb')
let lmdb: Lmdb | undefined
/**
 * lmdb, loaded when the first store opens (its CommonJS build, synchronously): loading it loads
 * its native addon and allocates 16 MiB of buffers outside the heap, which an agent without a
 * data directory never uses (`process.memoryUsage().external` 19.6 MiB with it, 3.6 without; its
 * pages are not written until used, so the process's RSS hardly moves).
 */
function loadLmdb (): Lmdb {
  lmdb ??= createRequire(import.meta.url)('lmdb') as Lmdb
  return lmdb
}

/** Named databases one environment may hold (lmdb's maxDbs); spaces are few and fixed. */
const MAX_SPACES = 32

class LmdbSpace<V> implements StoreSpace<V> {
  /** `closed`: whether the store is closing or closed: a write then is refused here, not handed to lmdb. */
  constructor (
    private readonly db: Database<V, string>, private readonly root: RootDatabase, private readonly path: string, private readonly closed: () => boolean
  ) {}

  get (key: string): V | undefined { return this.db.get(key) }
  has (key: string): boolean { return this.db.doesExist(key) }

  async put (key: string, value: V): Promise<void> {
    await this.durable(async () => await this.db.put(key, value))
  }

  async remove (key: string): Promise<void> {
    await this.durable(async () => await this.db.remove(key))
  }

  async batch (ops: ReadonlyArray<StoreOp<V>>): Promise<void> {
    if (ops.length === 0) return
    await this.durable(async () => await this.db.batch(() => {
      for (const op of ops) {
        if ('remove' in op) void this.db.remove(op.key)
        else void this.db.put(op.key, op.value)
      }
    }))
  }

  * entries (range: StoreRange = {}): Iterable<[string, V]> {
    const opts: { start?: string, end?: string, limit?: number, reverse?: boolean } = {}
    if (range.reverse === true) {
      // lmdb walks a reverse range from `start` down to `end`: swap so callers say it one way.
      opts.reverse = true
      if (range.end !== undefined) opts.start = range.end
      if (range.start !== undefined) opts.end = range.start
    } else {
      if (range.start !== undefined) opts.start = range.start
      if (range.end !== undefined) opts.end = range.end
    }
    if (range.limit !== undefined) opts.limit = range.limit
    for (const { key, value } of this.db.getRange(opts)) {
      // A reverse walk starts at `end` itself when it exists: `end` is exclusive.
      if (range.reverse === true && range.end !== undefined && key >= range.end) continue
      yield [key, value]
    }
  }

  count (): number { return this.db.getCount() }

  async clear (): Promise<void> { await this.durable(async () => await this.db.clearAsync()) }

  private async durable (write: () => Promise<unknown>): Promise<void> {
    // lmdb queues a write and commits it from a later turn: one queued after the environment
    // closed throws there ("The environment is already closed"), uncaught, and takes the process
    // down (seen in a test that stopped a node while its outbox was writing).
    if (this.closed()) throw new StoreError(`the store ${this.path} is closed: the write was not made`)
    try {
      await write()
      await this.root.flushed
    } catch (err) {
      throw new StoreError(`write to the store in ${this.path} failed: ${(err as Error).message}`, { cause: err })
    }
  }
}

export class LmdbStore implements Store {
  readonly durable = true
  readonly path: string
  private readonly root: RootDatabase
  private readonly spaces = new Map<string, LmdbSpace<any>>()
  private readonly lock: string
  private closed = false

  private constructor (path: string, root: RootDatabase, lock: string) {
    this.path = path
    this.root = root
    this.lock = lock
  }

  /** Open (or create) the store of a data directory; STO001 when it is locked by a live process or cannot be opened. */
  static open (dataDir: string): LmdbStore {
    try {
      mkdirSync(dataDir, { recursive: true, mode: 0o700 })
    } catch (err) {
      throw new StoreError(`cannot create the data directory ${dataDir}: ${(err as Error).message}`, { cause: err })
    }
    const lock = takeLock(dataDir)
    const path = join(dataDir, 'store')
    try {
      // With the lock held, so no other node writes while the check reads; LMDB would crash on a damaged file.
      checkStore(path)
    } catch (err) {
      releaseLock(lock)
      throw err
    }
    try {
      const root = loadLmdb().open({ path, maxDbs: MAX_SPACES, compression: false })
      return new LmdbStore(path, root, lock)
    } catch (err) {
      releaseLock(lock)
      throw new StoreError(`cannot open the store ${path} (it is left as it is; move it away to start empty): ${(err as Error).message}`, { cause: err })
    }
  }

  space<V = unknown> (name: string): StoreSpace<V> {
    if (this.closed) throw new StoreError(`the store ${this.path} is closed`)
    let s = this.spaces.get(name)
    if (s === undefined) {
      let db: Database<V, string>
      try {
        db = this.root.openDB<V, string>({ name, compression: false })
      } catch (err) {
        throw new StoreError(`cannot open the space "${name}" of the store ${this.path}: ${(err as Error).message}`, { cause: err })
      }
      this.spaces.set(name, s = new LmdbSpace<V>(db, this.root, this.path, () => this.closed))
    }
    return s
  }

  /**
   * A consistent copy of the store, taken while the node runs (one read transaction: writers go on),
   * into `dest` (a new directory; its data.mdb is what <dataDir>/store/data.mdb would be).
   */
  async backup (dest: string): Promise<void> {
    if (this.closed) throw new StoreError(`the store ${this.path} is closed`)
    try {
      mkdirSync(dest, { recursive: true, mode: 0o700 })
      // LMDB's copy of an environment in a directory writes <dest>/data.mdb.
      await this.root.backup(dest, false)
    } catch (err) {
      throw new StoreError(`cannot back up the store ${this.path} to ${dest}: ${(err as Error).message}`, { cause: err })
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    try {
      await this.root.flushed
      await this.root.close()
    } finally {
      releaseLock(this.lock)
    }
  }
}

/**
 * A value in a data directory's store, read without taking its LOCK: the node using the directory
 * may be running, and LMDB lets a reader in beside its writer. Writes nothing (`agentmesh id
 * --data-dir`); undefined when there is no store, or no such space or key; STO001 when the store
 * cannot be read. Unlike open(), it does not check the file first: that check reads the file as
 * it is on disk, which is only consistent while no node writes it.
 */
export async function readStoreValue<V> (dataDir: string, space: string, key: string): Promise<V | undefined> {
  const path = join(dataDir, 'store')
  if (!existsSync(join(path, 'data.mdb'))) return undefined
  let root: RootDatabase | undefined
  try {
    root = loadLmdb().open({ path, readOnly: true, maxDbs: MAX_SPACES, compression: false })
    // Read-only, a space never written is not created: openDB gives nothing.
    const db = root.openDB<V, string>({ name: space, compression: false }) as Database<V, string> | undefined
    return db?.get(key)
  } catch (err) {
    throw new StoreError(`cannot read the store ${path}: ${(err as Error).message}`, { cause: err })
  } finally {
    await root?.close()
  }
}

/** The LOCK files this process holds: a LOCK with our own pid that is not here was left by an earlier process that had our pid. */
const held = new Set<string>()

/** <dataDir>/LOCK with this pid; one held by a live process refuses, one left by a dead process is taken over. */
function takeLock (dataDir: string): string {
  const lock = resolve(dataDir, 'LOCK')
  if (held.has(lock)) throw new StoreError(`the data directory ${dataDir} is already open in this process`)
  for (let i = 0; i < 2; i++) {
    try {
      writeFileSync(lock, `${process.pid}\n`, { flag: 'wx', mode: 0o600 })
      held.add(lock)
      return lock
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new StoreError(`cannot lock the data directory ${dataDir}: ${(err as Error).message}`, { cause: err })
    }
    const pid = lockHolder(dataDir)
    if (pid !== undefined) {
      throw new DataDirTakenError(`the data directory ${dataDir} is in use by process ${pid} (another node with the same data directory is running): ` +
        'give this node a directory of its own (--data-dir <dir>, or dataDir), or stop that one')
    }
    rmSync(lock, { force: true })
  }
  throw new StoreError(`cannot lock the data directory ${dataDir}`)
}

/**
 * The live process, other than this one, whose pid <dataDir>/LOCK holds; undefined when there is
 * no LOCK, or it was left by a dead process. Our own pid there is stale: a container restarted
 * after kill -9 runs node with the same pid (often 1) as before.
 */
export function lockHolder (dataDir: string): number | undefined {
  let pid: number
  try {
    pid = Number.parseInt(readFileSync(resolve(dataDir, 'LOCK'), 'utf8'), 10)
  } catch {
    return undefined
  }
  return Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid) ? pid : undefined
}

function releaseLock (lock: string): void {
  held.delete(lock)
  rmSync(lock, { force: true })
}

function alive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM'
  }
}
