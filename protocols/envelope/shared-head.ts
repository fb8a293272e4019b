/**
 * The batch with a shared head (wire byte 0x05, WIRE_JSON_SHARED_HEAD; docs/wire-format.md): the
 * fields every envelope of a topic batch has alike, written once, then each envelope's own fields.
 *
 *   0x05 | varint H | H bytes: the head, a JSON object | the JSON array of the envelopes' own parts
 *
 * An envelope is the head's fields with its own part's over them (`{ ...head, ...own }`); the head
 * may hold only SHARED_FIELDS, so every envelope brings its own id, timestamp and payload. A topic
 * batch comes from one publisher to one topic, so source, destination and subject are the same in
 * each envelope, and type, priority and empty headers are in the common case: ~170 bytes an
 * envelope that a 0x01 batch repeats (13% of the bench's 1 KiB events, 41% of a 400-byte one),
 * which the publisher encrypts and writes once per receiver and every receiver decrypts and parses.
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

/** The envelope's fields that are not SHARED_FIELDS and may be absent (schema.ts; a test holds this list to the schema). */
const OPTIONAL_OWN = ['ttl', 'replyTo', 'correlationId', 'conversationId', 'error', 'signature'] as const

/**
 * `headers`, when it holds any, goes with the envelope's own fields: a trace context
 * (`traceparent`) differs in every envelope, and in the head it would make every traced batch's
 * shared fields differ, so none could be written with a shared head.
 */
export function splitJson (env: Envelope): SplitJson {
  // Object literals of one shape each, not a rest pattern: V8 writes them faster (3.2 against 3.9 µs an envelope of 1.3 KB).
  const own: Record<string, unknown> = { id: env.id, timestamp: env.timestamp, payload: env.payload }
  const { version, source, destination, type, subject, headers, priority } = env
  const ownHeaders = Object.keys(headers).length > 0
  const shared = ownHeaders
    ? { version, source, destination, type, subject, priority }
    : { version, source, destination, type, subject, headers, priority }
  if (ownHeaders) own.headers = headers
  for (const k of OPTIONAL_OWN) if (env[k] !== undefined) own[k] = env[k]
  try {
    return { shared: JSON.stringify(shared), own: JSON.stringify(own) }
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

/** The bytes of a 0x05 batch's 0x01 form (wire byte included): each envelope carries the head, less the brace it trades for a comma. */
export function plainSize (headBytes: number, envelopes: number, arrayBytes: number): number {
  return 1 + envelopes * (headBytes - 1) + arrayBytes
}

/**
 * The envelopes of a 0x05 batch, each checked by `check` (the codec's envelope check) as it is
 * rebuilt, so the first bad one ends the work; and the bytes of the batch's 0x01 form, what a
 * receiver charges it by (as a compressed frame is charged inflated). Refused whole (MSG002) when
 * the framing or either JSON part is malformed or the 0x01 form would be over `maxBytes` (a small
 * head repeated over many envelopes never decodes into more than a 0x01 batch of the same limit
 * could); MSG001 when the head is not an object of SHARED_FIELDS, or an envelope lacks a field
 * that neither it nor the head holds (before it is built: work for an envelope that cannot be
 * valid is not done).
 */
export function decodeSharedBatch<E> (bytes: Uint8Array, maxBytes: number, check: (value: unknown, index: number) => E): { envs: E[], plainBytes: number } {
  if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes)
  const { n: h, next } = readVarint(bytes, 1, 'the head\'s length', FORMAT)
  if (h < 2 || next + h >= bytes.byteLength) throw new SerializationError(`${FORMAT}: a head of ${h} bytes in a frame of ${bytes.byteLength}`)
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const head = parseJson(buf.toString('utf8', next, next + h), h)
  if (!isRecord(head)) throw new ValidationError(`${FORMAT}: the head must be a JSON object`)
  for (const k of Object.keys(head)) {
    if (!SHARED.has(k)) throw new ValidationError(`${FORMAT}: the head may hold only ${SHARED_FIELDS.join(', ')}, not "${k.slice(0, 64)}"`)
  }
  const arrayBytes = bytes.byteLength - next - h
  const owns = parseJson(buf.toString('utf8', next + h), arrayBytes)
  if (!Array.isArray(owns)) throw new ValidationError(`${FORMAT}: the envelopes must be a JSON array`)
  const plainBytes = plainSize(h, owns.length, arrayBytes)
  if (plainBytes > maxBytes) throw new MessageTooLargeError(plainBytes, maxBytes)
  const missing = SHARED_FIELDS.filter(k => !Object.hasOwn(head, k))
  const envs = new Array<E>(owns.length)
  for (let i = 0; i < owns.length; i++) {
    const own: unknown = owns[i]
    if (!isRecord(own)) { envs[i] = check(own, i); continue } // refused by the check, as in a 0x01 batch
    for (const k of OWN_KEYS) if (!Object.hasOwn(own, k)) throw new ValidationError(`${FORMAT}: envelope ${i} has no ${k}`)
    for (const k of missing) if (!Object.hasOwn(own, k)) throw new ValidationError(`${FORMAT}: envelope ${i} has no ${k}, and the head none`)
    envs[i] = check(rebuild(head, own), i)
  }
  return { envs, plainBytes }
}

/** Keys every own part holds: an envelope's own id, time and payload. */
const OWN_KEYS = ['id', 'timestamp', 'payload'] as const

/**
 * `{ ...head, ...own }` for an own part that holds OWN_KEYS and, with the head, every shared field,
 * built as one object literal in makeEnvelope's key order: a spread made objects that V8's later
 * reads (the quick check, delivery) took 2-3 times as long over (profile of bench N=5 flat out:
 * the spread and the check 24% of the busy CPU). The head's objects are copied: each envelope owns
 * its destination and headers, as from a 0x01 batch, so what one receiver's code does to one does
 * not reach the batch's others.
 */
function rebuild (head: Record<string, unknown>, own: Record<string, unknown>): Record<string, unknown> {
  const env: Record<string, unknown> = {
    version: head.version,
    id: own.id,
    timestamp: own.timestamp,
    source: head.source,
    destination: copyObject(head.destination),
    type: head.type,
    subject: head.subject,
    payload: own.payload,
    headers: copyObject(head.headers),
    priority: head.priority
  }
  for (const k in own) {
    if (k === 'id' || k === 'timestamp' || k === 'payload') continue
    // As JSON.parse made it: an own "__proto__" stays a plain key (which the check refuses), never the prototype.
    if (k === '__proto__') Object.defineProperty(env, k, { value: own[k], enumerable: true, writable: true, configurable: true })
    else env[k] = own[k]
  }
  return env
}

function copyObject (v: unknown): unknown {
  if (!isRecord(v)) return v
  const c = { ...v }
  if (Array.isArray(c.peers)) c.peers = c.peers.slice()
  return c
}
