/**
 * Checks a data directory's LMDB file before the node maps it (issue 14: a corrupted store fails
 * at start with its path and a clear message, never deletes data). LMDB trusts its file: a
 * garbage data.mdb segfaults the process that opens it, and a damaged B-tree page can crash any
 * later read. So, before the node opens the store:
 * 1. the two meta pages are read here, with plain file reads (no mapping): magic, version, page
 *    size, and root pages inside the file; this catches garbage and a file cut short before the
 *    trees' roots, with no process spawned;
 * 2. a child process (node/store-walk.ts) opens the store and reads every key and value of every
 *    space; a child killed by a signal (SIGSEGV, SIGBUS on a page past the end of a truncated
 *    file) or exiting non-zero means the store is damaged, and only the child died.
 * Either failure is a StoreError (STO001) naming the path; the files are left as they are.
 * docs/durability.md gives what the check costs at start.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { StoreError } from '../protocols/core/errors.js'

/** LMDB's layout (lmdb-js 3's liblmdb, mdb.c): a 24-byte page header, then MDB_meta on pages 0 and 1. */
const PAGE_HEADER = 24
const P_META = 0x08
const MDB_MAGIC = 0xBEEFC0DE
/** MDB_DATA_VERSION of the liblmdb lmdb-js 3 builds (2; the older 0.9 format is 1 and is refused by lmdb too). */
const MDB_DATA_VERSION = 2
/** MDB_meta: magic, version, address, mapsize, two MDB_db of 48 bytes, last page, txnid. */
const META_SIZE = 4 + 4 + 8 + 8 + 2 * 48 + 8 + 8
const P_INVALID = 0xffffffffffffffffn
/** A B-tree deeper than this does not fit any file LMDB can address. */
const MAX_DEPTH = 64

export interface MetaPage {
  txnid: bigint
  pageSize: number
  lastPage: bigint
  /** Entries of the main database: one per named space. */
  spaces: bigint
}

/** Where the store's walker is: compiled beside this file. */
const WALKER = fileURLToPath(new URL('./store-walk.js', import.meta.url))

/** What is wrong with the meta pages of `file` (LMDB's data.mdb), or the current meta page when nothing is. */
export function readMeta (file: string): { meta?: MetaPage, problem?: string } {
  const fd = openSync(file, 'r')
  try {
    const size = fstatSync(fd).size
    if (size < PAGE_HEADER + META_SIZE) return { problem: `it is truncated (${size} bytes, shorter than one meta page)` }
    const first = Buffer.alloc(PAGE_HEADER + META_SIZE)
    readSync(fd, first, 0, first.length, 0)
    const m0 = parseMeta(first, 0)
    if (typeof m0 === 'string') return { problem: m0 }
    if (size < 2 * m0.pageSize) return { problem: `it is truncated (${size} bytes, shorter than its two meta pages of ${m0.pageSize} bytes)` }
    const second = Buffer.alloc(PAGE_HEADER + META_SIZE)
    readSync(fd, second, 0, second.length, m0.pageSize)
    const m1 = parseMeta(second, 1)
    if (typeof m1 === 'string') return { problem: m1 }
    if (m1.pageSize !== m0.pageSize) return { problem: `its meta pages disagree on the page size (${m0.pageSize}, ${m1.pageSize})` }
    const pages = BigInt(Math.floor(size / m0.pageSize))
    // Both metas are checked: LMDB picks one by txnid (or the older with previous-snapshot), so either may be read.
    for (const m of [m0, m1]) {
      for (const root of m.roots) {
        if (root !== P_INVALID && (root < 2n || root >= pages)) {
          return { problem: `it is truncated or damaged (a tree's root is page ${root}, the file has ${pages} pages of ${m0.pageSize} bytes)` }
        }
      }
    }
    const current = m0.txnid >= m1.txnid ? m0 : m1
    return { meta: { txnid: current.txnid, pageSize: current.pageSize, lastPage: current.lastPage, spaces: current.spaces } }
  } finally {
    closeSync(fd)
  }
}

function parseMeta (buf: Buffer, page: number): (MetaPage & { roots: bigint[] }) | string {
  const flags = buf.readUInt16LE(18)
  if ((flags & P_META) === 0) return `page ${page} is not an LMDB meta page (flags 0x${flags.toString(16)}): not an LMDB file, or overwritten`
  const m = PAGE_HEADER
  const magic = buf.readUInt32LE(m)
  if (magic !== MDB_MAGIC) return `meta page ${page} has no LMDB magic number (0x${magic.toString(16)}): not an LMDB file, or overwritten`
  const version = buf.readUInt32LE(m + 4) & 0xffff
  if (version !== MDB_DATA_VERSION) return `meta page ${page} is of LMDB data version ${version}, this build reads ${MDB_DATA_VERSION}`
  const db = (i: number): { pad: number, depth: number, entries: bigint, root: bigint } => {
    const at = m + 24 + i * 48
    return { pad: buf.readUInt32LE(at), depth: buf.readUInt16LE(at + 6), entries: buf.readBigUInt64LE(at + 32), root: buf.readBigUInt64LE(at + 40) }
  }
  const free = db(0)
  const main = db(1)
  const pageSize = free.pad // mm_psize is the free database's md_pad
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) return `meta page ${page} has an impossible page size (${pageSize})`
  if (free.depth > MAX_DEPTH || main.depth > MAX_DEPTH) return `meta page ${page} has an impossible tree depth (${Math.max(free.depth, main.depth)})`
  const lastPage = buf.readBigUInt64LE(m + 24 + 96)
  const txnid = buf.readBigUInt64LE(m + 24 + 96 + 8)
  return { txnid, pageSize, lastPage, spaces: main.entries, roots: [free.root, main.root] }
}

/**
 * Throws STO001 when the store at `path` (a directory holding data.mdb) is damaged; a store that
 * does not exist yet passes. Runs before the store is opened, with the data directory locked.
 */
export function checkStore (path: string): void {
  const file = join(path, 'data.mdb')
  let meta: MetaPage | undefined
  try {
    const read = readMeta(file)
    if (read.problem !== undefined) throw damaged(path, read.problem)
    meta = read.meta
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    if (err instanceof StoreError) throw err
    throw new StoreError(`cannot read the store ${path}: ${(err as Error).message}`, { cause: err })
  }
  walkStore(path, meta)
}

/** Reads every space in a child process: a crash there is a damaged page, not a dead node. */
export function walkStore (path: string, meta?: MetaPage): void {
  const r = spawnSync(process.execPath, [WALKER, path], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 20 })
  if (r.error !== undefined) throw new StoreError(`cannot check the store ${path}: ${r.error.message}`, { cause: r.error })
  if (r.signal !== null) throw damaged(path, `reading it killed the checking process (${r.signal})${meta !== undefined ? `, at transaction ${meta.txnid}` : ''}`)
  if (r.status !== 0) {
    const why = r.stderr.trim().split('\n').filter(l => l.length > 0).at(-1) ?? `the checking process exited with ${r.status}`
    throw damaged(path, why)
  }
}

function damaged (path: string, what: string): StoreError {
  return new StoreError(`the store ${path} is damaged: ${what}; it is left as it is; move it away to start empty`)
}
