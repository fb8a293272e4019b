/**
 * The batch with a shared head (wire byte 0x05, WIRE_JSON_SHARED_HEAD; docs/wire-format.md): the
 * fields every envelope of a topic batch has alike, written once, then each envelope's own fields.
 *
 *   0x05 | varint H | H bytes: the head, a JSON object | the JSON array of the envelopes' own parts
 *
 * An envelope is the head's fields with its own part's over them (`{ ...head, ...own }`); the head
 * may hold only SHARED_FIELDS, so every envelope brings its own id, timestamp and payload. A topic
 * batch comes from one publisher to one topic, so source, destination and subject are the same in
 * each envelope, and type, headers and priority are in the common case: ~250 bytes an envelope
 * that a 0x01 batch repeats (13% of the bench's 1 KiB events, half of a 200-byte one), which the
 * publisher encrypts and writes once per receiver and every receiver decrypts and parses.
 *
 * Written only on fan-out streams, to a peer whose hello accepts SHARED_HEAD_CODEC: a gossiped
 * batch is relayed to peers its publisher never spoke to, so it stays 0x01 (which every build reads).
 */
import { MessageTooLargeError, SerializationError, ValidationError } from '../core/errors.js'
import { parseJson } from '../core/json.js'
import { WIRE_JSON_SHARED_HEAD } from './constants.js'
import { readVarint, varintSize, writeVarint } from './sections.js'
import type { Envelope } from './schema.js'

/** Said in a fan-out hello's `accepts` by a node that reads 0x05 batches. */
export const SHARED_HEAD_CODEC = 'batch:shared-head'

/** The fields a batch's head may hold: those a topic batch's envelopes have alike. */
export const SHARED_FIELDS = ['version', 'source', 'destination', 'type', 'subject', 'headers', 'priority'] as const
const SHARED: ReadonlySet<string> = new Set(SHARED_FIELDS)

const FORMAT = 'batch with a shared head'

/**
 * An envelope's JSON in two parts: its SHARED_FIELDS (`shared`) and the rest (`own`). Written
 * once at publish, for either batch: joined (`joinJson`) it is the envelope's JSON for a 0x01 batch.
 */
export interface SplitJson { shared: string, own: string }

export function splitJson (env: Envelope): SplitJson {
  const { version, source, destination, type, subject, headers, priority, ...own } = env
  try {
    return { shared: JSON.stringify({ version, source, destination, type, subject, headers, priority }), own: JSON.stringify(own) }
  } catch (err) {
    throw new SerializationError(`envelope ${env.id} cannot be serialized: ${(err as Error).message}`, { cause: err })
  }
}

/** The envelope's whole JSON object from its two parts (a concatenation: no second stringify). */
export function joinJson (s: SplitJson): string {
  return s.own.length <= 2 ? s.shared : s.shared.slice(0, -1) + ',' + s.own.slice(1)
}

/** A 0x05 batch: the head (one envelope's `shared`) and the own parts of the batch's envelopes, in order. */
export function encodeSharedBatch (head: string, owns: readonly string[]): Uint8Array {
  const items = '[' + owns.join(',') + ']'
  const h = Buffer.byteLength(head)
  const at = 1 + varintSize(h)
  const buf = Buffer.allocUnsafe(at + h + Buffer.byteLength(items))
  buf[0] = WIRE_JSON_SHARED_HEAD
  writeVarint(buf, 1, h)
  buf.write(head, at, 'utf8')
  buf.write(items, at + h, 'utf8')
  return buf
}

function isRecord (v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

/**
 * The envelopes of a 0x05 batch as plain values, not yet checked (the codec checks each as it
 * checks a 0x01 batch's). Refused whole (MSG002) when the framing or either JSON part is malformed,
 * the head is not an object of SHARED_FIELDS, or the batch written as 0x01 would be over
 * `maxBytes`: a small head repeated over many envelopes never decodes into more than a 0x01 batch
 * of the same limit could.
 */
export function decodeSharedBatch (bytes: Uint8Array, maxBytes: number): unknown[] {
  if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes)
  const { n: h, next } = readVarint(bytes, 1, 'the head\'s length', FORMAT)
  if (h < 2 || next + h >= bytes.byteLength) throw new SerializationError(`${FORMAT}: a head of ${h} bytes in a frame of ${bytes.byteLength}`)
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const head = parseJson(buf.toString('utf8', next, next + h), h)
  if (!isRecord(head)) throw new ValidationError(`${FORMAT}: the head must be a JSON object`)
  for (const k of Object.keys(head)) {
    if (!SHARED.has(k)) throw new ValidationError(`${FORMAT}: the head may hold only ${SHARED_FIELDS.join(', ')}, not "${k.slice(0, 64)}"`)
  }
  const itemsBytes = bytes.byteLength - next - h
  const owns = parseJson(buf.toString('utf8', next + h), itemsBytes)
  if (!Array.isArray(owns)) throw new ValidationError(`${FORMAT}: the envelopes must be a JSON array`)
  // Each envelope written whole would carry the head's bytes (less a brace and a comma).
  const plain = 1 + owns.length * h + itemsBytes
  if (plain > maxBytes) throw new MessageTooLargeError(plain, maxBytes)
  return owns.map(own => isRecord(own) ? rebuild(head, own) : own)
}

/**
 * `{ ...head, ...own }`, with the head's objects copied: each envelope owns its destination and
 * headers, as it does from a 0x01 batch, so what one receiver's code does to one does not reach
 * the batch's others.
 */
function rebuild (head: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const env = { ...head, ...own }
  if (env.headers === head.headers && isRecord(head.headers)) env.headers = { ...head.headers }
  if (env.destination === head.destination && isRecord(head.destination)) {
    const d = { ...head.destination }
    if (Array.isArray(d.peers)) d.peers = d.peers.slice()
    env.destination = d
  }
  return env
}
