/**
 * What the fuzzer feeds the decoders (harness/fuzz-targets.ts): hostile values (wrong types, huge
 * numbers, long strings, deep nesting, prototype keys), mutations of valid messages, and raw bytes
 * cut into chunks as a stream would deliver them.
 */
import fc from 'fast-check'
import { frameJson } from '../protocols/envelope/index.js'
import { joinFrames } from '../protocols/rpc/frames.js'

/** The key a polluting input tries to plant on Object.prototype; it must never appear on `{}`. */
export const POLLUTION_MARK = 'fuzzPolluted'

/** Keys that reach prototypes when code assigns rather than defines them. */
const PROTOTYPE_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__']

/** Objects whose own keys are `__proto__` and `constructor`, as JSON.parse builds them from a frame. */
function polluting (): unknown {
  return JSON.parse(`{"__proto__":{"${POLLUTION_MARK}":1},"constructor":{"prototype":{"${POLLUTION_MARK}":1}}}`)
}

/** Arrays or objects nested `depth` levels deep, small enough to stringify (V8 throws past ~4,000). */
export function nested (depth: number, arrays: boolean): unknown {
  let v: unknown = 1
  for (let i = 0; i < depth; i++) v = arrays ? [v] : { a: v }
  return v
}

/** A JSON text nested `depth` levels deep, for depths no JS value can be stringified at. */
export function nestedText (depth: number, arrays: boolean): string {
  return arrays ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)
}

const ODD_NUMBERS = [
  0, -0, -1, 0.5, 1e-7, 5e-324, 2 ** 31, 2 ** 32, 2 ** 53, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_SAFE_INTEGER, 1e21, 1e308, -1e308, Number.MAX_VALUE
]
const ODD_STRINGS = [
  '', ' ', '\u0000', '\ud800', '\udfff', '\u202e', '𝔘𝔫𝔦', '__proto__', 'constructor', 'true', 'null', '1e999', 'NaN',
  '1970-01-01T00:00:00Z', '2023-02-30T00:00:00Z', '2024-13-01T00:00:00Z', '9999-12-31T23:59:59.999+14:00', '0000-01-01T00:00:00Z',
  '12D3KooW' + '1'.repeat(44), 'Qm' + 'z'.repeat(44), '/ip4/127.0.0.1/tcp/0', '127.0.0.1:99999', '../../etc/passwd', '%s%n$' + '{x}'
]

/** One hostile value: any JSON, odd numbers and strings, long strings and arrays, deep nesting, prototype keys. */
export const hostile: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  fc.constantFrom(...ODD_NUMBERS),
  fc.constantFrom(...ODD_STRINGS),
  fc.constantFrom<unknown>(true, false, null, [], {}),
  fc.tuple(fc.integer({ min: 100, max: 70_000 }), fc.constantFrom('x', 'é', '😀', '\\', '"')).map(([n, c]) => c.repeat(n)),
  fc.integer({ min: 100, max: 5_000 }).map(n => Array.from({ length: n }, (_, i) => i)),
  fc.tuple(fc.integer({ min: 1, max: 320 }), fc.boolean()).map(([d, arrays]) => nested(d, arrays)),
  fc.constant(null).map(polluting)
)

type Path = Array<string | number>

/** Every path to a value inside `v` (the root excluded), parents before children. */
function paths (v: unknown, at: Path = []): Path[] {
  if (typeof v !== 'object' || v === null) return []
  const keys: Array<string | number> = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v)
  return keys.flatMap(k => [[...at, k], ...paths((v as Record<string | number, unknown>)[k], [...at, k])])
}

function parentOf (root: unknown, path: Path): Record<string | number, unknown> | undefined {
  let cur: unknown = root
  for (const k of path.slice(0, -1)) {
    if (typeof cur !== 'object' || cur === null) return undefined
    cur = (cur as Record<string | number, unknown>)[k]
  }
  return typeof cur === 'object' && cur !== null ? cur as Record<string | number, unknown> : undefined
}

/**
 * Define, never assign: `o.__proto__ = v` would change o's prototype instead of adding a key.
 * Values are cloned where they are placed: generated values may be shared between runs.
 */
function put (o: Record<string | number, unknown>, k: string | number, value: unknown): void {
  Object.defineProperty(o, k, { value, enumerable: true, writable: true, configurable: true })
}

type Op =
  | { op: 'set', path: Path, value: unknown }
  | { op: 'delete', path: Path }
  | { op: 'add', path: Path, key: string, value: unknown }
  | { op: 'swap', path: Path, other: Path }
  | { op: 'wrap', path: Path }

function apply (root: unknown, m: Op): unknown {
  const parent = parentOf(root, m.path)
  const key = m.path[m.path.length - 1]
  if (parent === undefined) return root
  switch (m.op) {
    case 'set': put(parent, key, structuredClone(m.value)); break
    case 'delete': if (Array.isArray(parent)) parent.splice(Number(key), 1); else Reflect.deleteProperty(parent, key); break
    case 'add': {
      // Arrays get an element: a named key on an array is nothing JSON can carry.
      const target = parent[key]
      const into = typeof target === 'object' && target !== null ? target as Record<string, unknown> : parent
      if (Array.isArray(into)) into.push(structuredClone(m.value))
      else put(into, m.key, structuredClone(m.value))
      break
    }
    case 'swap': {
      const other = parentOf(root, m.other)
      const otherKey = m.other[m.other.length - 1]
      if (other === undefined) break
      // Copies, not the values themselves: one placed inside the other would make a cycle, which no wire carries.
      const a = structuredClone(parent[key])
      put(parent, key, structuredClone(other[otherKey]))
      put(other, otherKey, a)
      break
    }
    case 'wrap': put(parent, key, [structuredClone(parent[key])]); break
  }
  return root
}

/** One to three mutations of `valid` (a JSON value): fields set to hostile values, dropped, added, swapped or wrapped. */
export function mutationsOf (valid: unknown): fc.Arbitrary<unknown> {
  const all = paths(valid)
  if (all.length === 0) return hostile
  const path = fc.constantFrom(...all)
  const op: fc.Arbitrary<Op> = fc.oneof(
    { weight: 3, arbitrary: fc.record({ op: fc.constant('set' as const), path, value: hostile }) },
    fc.record({ op: fc.constant('delete' as const), path }),
    fc.record({ op: fc.constant('add' as const), path, key: fc.oneof(fc.constantFrom(...PROTOTYPE_KEYS), fc.string({ maxLength: 12 })), value: hostile }),
    fc.record({ op: fc.constant('swap' as const), path, other: path }),
    fc.record({ op: fc.constant('wrap' as const), path })
  )
  return fc.array(op, { minLength: 1, maxLength: 3 }).map(ops => ops.reduce(apply, structuredClone(valid)))
}

/**
 * `valid` with a prototype key planted in one of its objects (the root included), holding an
 * object: a copy of `valid` itself (its own keys, smuggled), a polluting object, or any object.
 */
export function plantedIn (valid: unknown): fc.Arbitrary<unknown> {
  const objects = [[], ...paths(valid)].filter(p => {
    const v = p.reduce<unknown>((o, k) => (o as Record<string | number, unknown>)[k], valid)
    return typeof v === 'object' && v !== null && !Array.isArray(v)
  })
  if (objects.length === 0) return fc.constant(valid)
  const value = fc.oneof(fc.constant(valid), fc.constant(null).map(polluting), fc.dictionary(fc.string({ maxLength: 8 }), hostile, { maxKeys: 3 }))
  return fc.tuple(fc.constantFrom(...objects), fc.constantFrom(...PROTOTYPE_KEYS.slice(0, 3)), value).map(([at, key, v]) => {
    const root = structuredClone(valid)
    put(at.reduce<any>((o, k) => o[k], root), key, structuredClone(v))
    return root
  })
}

/** Valid samples, mutations of them, prototype keys planted in them, and hostile values of any shape. */
export function messagesLike (valid: unknown): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 6, arbitrary: mutationsOf(valid) },
    { weight: 2, arbitrary: plantedIn(valid) },
    { weight: 2, arbitrary: hostile },
    fc.constant(valid)
  )
}

/** Bytes split at arbitrary points, as chunks arrive from a stream. */
export function chunked (bytes: fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array[]> {
  return bytes.chain(b => fc.uniqueArray(fc.integer({ min: 1, max: Math.max(1, b.byteLength - 1) }), { maxLength: 6 }).map(cuts => {
    const at = [0, ...cuts.filter(c => c < b.byteLength).sort((x, y) => x - y), b.byteLength]
    return at.slice(1).map((end, i) => b.subarray(at[i], end))
  }))
}

/** Nesting depths for texts: past a decoder's bound but stringifiable, or past what JSON.stringify takes (~4,000). */
const deepLevels = fc.oneof(fc.integer({ min: 200, max: 1_000 }), fc.integer({ min: 4_500, max: 8_000 }))

/** Frame bodies of the kinds a peer could send: random bytes, JSON of any shape, JSON nested past any bound. */
export const frameBodies: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.uint8Array({ maxLength: 256 }),
  fc.jsonValue({ maxDepth: 4 }).map(v => Buffer.from(JSON.stringify(v))),
  fc.tuple(deepLevels, fc.boolean()).map(([d, arrays]) => Buffer.from(nestedText(d, arrays)))
)

/** The payload of the envelopes wireBytes is given: where it puts JSON nested past any bound. */
export const PAYLOAD_HOLE = { n: 1 }

/**
 * Envelope-level bytes: a wire version byte (usually the right one) before a body, or nothing
 * framed at all. The first PAYLOAD_HOLE in `validJson` is also replaced by a nesting no JS value
 * could be stringified from.
 */
export function wireBytes (validJson: unknown): fc.Arbitrary<Uint8Array> {
  const hole = JSON.stringify(PAYLOAD_HOLE)
  return fc.oneof(
    { weight: 4, arbitrary: messagesLike(validJson).map(v => frameJson(JSON.stringify(v))) },
    frameBodies.map(b => frameJson(b.toString())),
    {
      weight: 2,
      arbitrary: fc.tuple(deepLevels, fc.boolean()).map(([d, arrays]) => frameJson(JSON.stringify(validJson).replace(hole, nestedText(d, arrays))))
    },
    fc.uint8Array({ maxLength: 512 }),
    fc.tuple(fc.integer({ min: 0, max: 255 }), frameBodies).map(([v, b]) => Uint8Array.from([v, ...b]))
  )
}

/** Length-prefixed streams: well-framed bodies, broken prefixes, or random bytes, in chunks. */
export const framedChunks: fc.Arbitrary<Uint8Array[]> = chunked(fc.oneof(
  fc.array(frameBodies, { maxLength: 4 }).map(bodies => joinFrames(bodies)),
  fc.uint8Array({ maxLength: 512 }),
  fc.tuple(fc.array(frameBodies, { maxLength: 2 }), fc.uint8Array({ minLength: 1, maxLength: 12 })).map(([b, tail]) => Buffer.concat([joinFrames(b), tail]))
))
