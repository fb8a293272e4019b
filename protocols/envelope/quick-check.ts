/**
 * A hand-written check of the envelope schema's common case, run before zod (issue 15): zod's
 * strict object was 10% of a receiver's busy CPU in the fan-out profile, paid for every
 * envelope sent and received. It is conservative: it accepts only values the zod schema accepts
 * (test/quick-check.test.ts holds it to that on generated, mutated and hostile values) and says
 * no to anything unusual (an `error`, a `signature`, symbol keys), which then goes through zod,
 * whose answer and error message stand. So it changes what costs what, never what is valid.
 */
import { MessageType, Priority, type Envelope } from './schema.js'

const TYPES: ReadonlySet<unknown> = new Set(MessageType.options)
const PRIORITIES: ReadonlySet<unknown> = new Set(Priority.options)
const KEYS: ReadonlySet<string> = new Set([
  'version', 'id', 'timestamp', 'source', 'destination', 'type', 'subject', 'payload', 'headers',
  'priority', 'ttl', 'replyTo', 'correlationId', 'conversationId', 'error', 'signature'
])

function isRecord (v: unknown): v is Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false
  const proto = Object.getPrototypeOf(v)
  return proto === Object.prototype || proto === null
}

function str (v: unknown, min: number, max: number): boolean {
  return typeof v === 'string' && v.length >= min && v.length <= max
}

function optionalStr (v: unknown, max: number): boolean {
  return v === undefined || (typeof v === 'string' && v.length <= max)
}

function destination (v: unknown): boolean {
  if (!isRecord(v)) return false
  const keys = Object.keys(v)
  if (keys.length !== 1 || Object.getOwnPropertySymbols(v).length > 0) return false
  if (keys[0] === 'peer') return str(v.peer, 1, 128)
  if (keys[0] === 'topic') return str(v.topic, 1, 256)
  if (keys[0] === 'peers') {
    const peers = v.peers
    if (!Array.isArray(peers) || peers.length < 1 || peers.length > 1024) return false
    for (let i = 0; i < peers.length; i++) if (!str(peers[i], 1, 128)) return false
    return true
  }
  return false
}

function headers (v: unknown): boolean {
  if (!isRecord(v) || Object.getOwnPropertySymbols(v).length > 0) return false
  for (const k of Object.keys(v)) {
    if (k.length > 256 || k === '__proto__') return false
    const x = v[k]
    if (typeof x !== 'string' || x.length > 8192) return false
  }
  return true
}

/** True only when `v` is an envelope the zod schema (schema.ts) accepts as it is. */
export function quickCheck (v: unknown): v is Envelope {
  if (!isRecord(v) || Object.getOwnPropertySymbols(v).length > 0) return false
  for (const k of Object.keys(v)) if (!KEYS.has(k)) return false
  const ts = v.timestamp
  const ttl = v.ttl
  return v.version === 1 &&
    str(v.id, 1, 128) &&
    typeof ts === 'number' && Number.isSafeInteger(ts) && ts >= 0 &&
    str(v.source, 1, 128) &&
    destination(v.destination) &&
    TYPES.has(v.type) &&
    str(v.subject, 1, 256) &&
    Object.hasOwn(v, 'payload') && // any value, but zod wants the key
    headers(v.headers) &&
    PRIORITIES.has(v.priority) &&
    (ttl === undefined || (typeof ttl === 'number' && Number.isSafeInteger(ttl) && ttl > 0)) &&
    optionalStr(v.replyTo, 256) &&
    optionalStr(v.correlationId, 128) &&
    optionalStr(v.conversationId, 128) &&
    // Rare on the hot path: zod checks these.
    v.error === undefined &&
    v.signature === undefined
}
