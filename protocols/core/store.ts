/**
 * What a node keeps across restarts (issue 14): named spaces of keys, each value written
 * durably before the promise resolves. Protocols depend on this interface only; node/store.ts
 * fills it with an embedded database in the data directory, and `MemoryStore` (below) with maps
 * when the node has none (the library's default: nothing survives the process, as before).
 *
 * Values are what JSON can hold (plain objects, arrays, strings, finite numbers, booleans,
 * null) or Uint8Array. Reads are synchronous: the embedded store reads from a memory map, and
 * code that checks a duplicate or a vote must not yield between the check and its decision.
 */

export type StoreOp<V> = { key: string, value: V } | { key: string, remove: true }

export interface StoreRange {
  /** First key (inclusive), in string order. */
  start?: string
  /** Key to stop before (exclusive). */
  end?: string
  limit?: number
  reverse?: boolean
}

export interface StoreSpace<V = unknown> {
  get: (key: string) => V | undefined
  has: (key: string) => boolean
  /** Resolves once the write is durable (the store's fsync); writes made together share one. */
  put: (key: string, value: V) => Promise<void>
  remove: (key: string) => Promise<void>
  /** Several writes, all or none, in one durable commit. */
  batch: (ops: ReadonlyArray<StoreOp<V>>) => Promise<void>
  /** Keys and values in key order (of the range). */
  entries: (range?: StoreRange) => Iterable<[string, V]>
  count: () => number
  clear: () => Promise<void>
}

export interface Store {
  /** One named space (created on first use); the same name gives the same space. */
  space: <V = unknown>(name: string) => StoreSpace<V>
  /** Whether a write that resolved survives a crash of the process or the host. */
  readonly durable: boolean
  /** Where the store lives, for messages; undefined in memory. */
  readonly path?: string
  close: () => Promise<void>
}

/** A space in memory: a Map, its keys sorted when listed. */
class MemorySpace<V> implements StoreSpace<V> {
  private readonly map = new Map<string, V>()

  get (key: string): V | undefined { return this.map.get(key) }
  has (key: string): boolean { return this.map.has(key) }
  async put (key: string, value: V): Promise<void> { this.map.set(key, value) }
  async remove (key: string): Promise<void> { this.map.delete(key) }
  async batch (ops: ReadonlyArray<StoreOp<V>>): Promise<void> {
    for (const op of ops) {
      if ('remove' in op) this.map.delete(op.key)
      else this.map.set(op.key, op.value)
    }
  }

  * entries (range: StoreRange = {}): Iterable<[string, V]> {
    const keys = [...this.map.keys()].filter(k =>
      (range.start === undefined || k >= range.start) && (range.end === undefined || k < range.end)).sort()
    if (range.reverse === true) keys.reverse()
    let n = 0
    for (const k of keys) {
      if (range.limit !== undefined && n++ >= range.limit) return
      const v = this.map.get(k)
      if (v !== undefined) yield [k, v]
    }
  }

  count (): number { return this.map.size }
  async clear (): Promise<void> { this.map.clear() }
}

/** The store of a node without a data directory: everything is lost with the process. */
export class MemoryStore implements Store {
  readonly durable = false
  private readonly spaces = new Map<string, MemorySpace<any>>()

  space<V = unknown> (name: string): StoreSpace<V> {
    let s = this.spaces.get(name)
    if (s === undefined) this.spaces.set(name, s = new MemorySpace<V>())
    return s
  }

  async close (): Promise<void> {}
}
