/**
 * JSON from the network, parsed with a bound on nesting: every decoder of peers' bytes (frames,
 * envelopes, sealed payloads once opened) goes through it.
 */
import { SerializationError } from './errors.js'

/**
 * Deepest nesting of arrays and objects a decoded message may have, the envelope's own levels
 * included. V8's JSON.parse takes any depth, but JSON.stringify throws past about 4,000 levels
 * (less on a deeper stack): without this bound a 12 KB frame would decode into a value that
 * cannot be answered, stored or forwarded. Agents' payloads are records of records, never this deep.
 */
export const MAX_JSON_DEPTH = 256

/**
 * JSON.parse, with its failures as SerializationError (MSG002), refusing values nested deeper
 * than MAX_JSON_DEPTH (they could be decoded but never encoded again). `size` is the text's
 * length in bytes: a text shorter than twice the bound cannot be that deep, and is not walked.
 */
export function parseJson (text: string, size: number): unknown {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new SerializationError(`frame is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  if (size > 2 * MAX_JSON_DEPTH && openings(text, MAX_JSON_DEPTH) > MAX_JSON_DEPTH && deeperThan(value, MAX_JSON_DEPTH)) {
    throw new SerializationError(`frame nests arrays or objects more than ${MAX_JSON_DEPTH} levels deep`)
  }
  return value
}

/**
 * How many '{' and '[' the text holds, counted up to `limit` + 1. Each level of nesting opens
 * with one, so a text with no more than `limit` cannot nest deeper than `limit`, and the walk of
 * the decoded value below is skipped: a batch of 50 envelopes has ~200, and the walk cost more
 * than JSON.parse itself (300 µs against 195 µs for 64 KB, bench of issue 15).
 */
function openings (text: string, limit: number): number {
  let n = 0
  for (const ch of ['{', '[']) {
    for (let i = text.indexOf(ch); i !== -1 && n <= limit; i = text.indexOf(ch, i + 1)) n++
  }
  return n
}

/** Whether `v` has arrays or objects nested more than `levels` deep; stops at the first such branch. */
function deeperThan (v: unknown, levels: number): boolean {
  if (typeof v !== 'object' || v === null) return false
  if (levels === 0) return true
  if (Array.isArray(v)) {
    for (const x of v) if (deeperThan(x, levels - 1)) return true
    return false
  }
  for (const k in v) if (deeperThan((v as Record<string, unknown>)[k], levels - 1)) return true
  return false
}
