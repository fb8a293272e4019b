/**
 * npm run bench:store: what the node's stores cost (docs/durability.md). The data directory's
 * LmdbStore (every write resolves after fdatasync) next to MemoryStore (no durability), with
 * 400-byte values, as an outbox entry is:
 * - sequential puts (one writer awaiting each: the latency of one acknowledged write),
 * - concurrent puts and removes (64 writers: lmdb shares one commit and one fdatasync among
 *   the writes of a turn, which is what a busy node sees),
 * - a range scan of every entry (what replaying an outbox or listing dead letters reads),
 * - the start-up check of node/store-check.ts on the store just written (meta pages + the walk).
 * `--n <count>` entries (default 20000), `--json` for one JSON array.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LmdbStore } from '../node/store.js'
import { checkStore } from '../node/store-check.js'
import { MemoryStore, type Store, type StoreSpace } from '../protocols/core/store.js'

const arg = (name: string, dflt: number): number => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? Number(process.argv[i + 1]) : dflt
}
const N = arg('--n', 20_000)
const SEQUENTIAL = Math.min(N, 2000)
const WRITERS = 64
const value = { to: '12D3KooWLTDZ8mNdoC2YAkgd4emA2M6w6ZVNQ7Ew5yFmyrCWF2kC', body: 'x'.repeat(400) }
const key = (i: number): string => `m${String(i).padStart(8, '0')}`

async function timed (fn: () => Promise<void> | void): Promise<number> {
  const t = performance.now()
  await fn()
  return performance.now() - t
}

/** `count` operations spread over `WRITERS` loops, each awaiting its own. */
async function concurrent (count: number, op: (i: number) => Promise<void>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: WRITERS }, async () => {
    while (next < count) await op(next++)
  }))
}

async function measure (name: string, store: Store): Promise<Record<string, string | number>> {
  const seq = store.space<typeof value>('seq')
  const s: StoreSpace<typeof value> = store.space<typeof value>('outbox')
  const seqMs = await timed(async () => { for (let i = 0; i < SEQUENTIAL; i++) await seq.put(key(i), value) })
  const putMs = await timed(async () => { await concurrent(N, async (i) => { await s.put(key(i), value) }) })
  let seen = 0
  const scanMs = await timed(() => { for (const [, v] of s.entries()) seen += v.body.length > 0 ? 1 : 0 })
  if (seen !== N) throw new Error(`${name}: the scan saw ${seen} of ${N}`)
  const removeMs = await timed(async () => { await concurrent(N, async (i) => { await s.remove(key(i)) }) })
  return {
    store: name,
    'sequential put ms': +(seqMs / SEQUENTIAL).toFixed(3),
    [`puts/s (${WRITERS} writers)`]: Math.round(N / (putMs / 1000)),
    [`removes/s (${WRITERS} writers)`]: Math.round(N / (removeMs / 1000)),
    'scan entries/s': Math.round(N / (scanMs / 1000))
  }
}

const dir = mkdtempSync(join(tmpdir(), 'agentmesh-bench-store-'))
try {
  const rows = [await measure('memory', new MemoryStore())]
  const lmdb = LmdbStore.open(join(dir, 'data'))
  try {
    rows.push(await measure('lmdb (data directory)', lmdb))
    // Leave N entries behind for the start-up check below.
    await lmdb.space<typeof value>('outbox').batch(Array.from({ length: N }, (_, i) => ({ key: key(i), value })))
  } finally {
    await lmdb.close()
  }
  const checkMs = await timed(() => { checkStore(join(dir, 'data', 'store')) })
  const empty = LmdbStore.open(join(dir, 'empty'))
  await empty.close()
  const emptyMs = await timed(() => { checkStore(join(dir, 'empty', 'store')) })
  const check = { 'start-up check, empty store ms': Math.round(emptyMs), [`start-up check, ${N} entries ms`]: Math.round(checkMs) }
  if (process.argv.includes('--json')) console.log(JSON.stringify({ rows, check }))
  else { console.table(rows); console.table([check]) }
} finally {
  rmSync(dir, { recursive: true, force: true })
}
