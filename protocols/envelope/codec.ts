import { Envelope } from './schema.js'
import { MIN_SECTION_BYTES, SUPPORTED_ENVELOPE_VERSIONS, WIRE_JSON_SEALED_GROUPS, WIRE_JSON_SECTIONS, WIRE_JSON_SHARED_HEAD, WIRE_JSON_V1 } from './constants.js'
import { decodeSharedBatch } from './shared-head.js'
import { encodeSections, jsonPart, sectionsOf, type SectionBytes } from './sections.js'
import { parseJson } from '../core/json.js'
import { quickCheck } from './quick-check.js'
import { MessageTooLargeError, SerializationError, UnsupportedVersionError, ValidationError } from '../core/errors.js'

/*
 * Wire format: one version byte, then the envelope as UTF-8 JSON. JSON won the measurement in
 * bench/codec.ts (V8's native JSON.stringify/parse beats a JavaScript CBOR codec on the
 * object-shaped payloads agents send, see docs/wire-format.md); binary bulk (model updates)
 * travels on its own stream protocol and never through this codec.
 */

type Bytes = Uint8Array

function asBuffer (bytes: Bytes): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** Encode a JSON text (already stringified) as a frame. */
export { parseJson }

export function frameJson (json: string, wire: number = WIRE_JSON_V1): Uint8Array {
  const size = Buffer.byteLength(json)
  const buf = Buffer.allocUnsafe(size + 1)
  buf[0] = wire
  buf.write(json, 1, 'utf8')
  return buf
}

/** Stringify an envelope; the string is what batches are built from. */
export function envelopeToJson (env: Envelope): string {
  try {
    return JSON.stringify(env)
  } catch (err) {
    throw new SerializationError(`envelope ${env.id} cannot be serialized: ${(err as Error).message}`, { cause: err })
  }
}

export function encodeEnvelope (env: Envelope): Uint8Array {
  return frameJson(envelopeToJson(env))
}

/** Encode envelopes already stringified as one batch: `[v1]` + a JSON array (`sealedGroups`: `[0x03]`, see constants.ts). */
export function encodeBatch (jsons: readonly string[], sealedGroups = false): Uint8Array {
  return frameJson('[' + jsons.join(',') + ']', sealedGroups ? WIRE_JSON_SEALED_GROUPS : WIRE_JSON_V1)
}

/**
 * A batch with sealed groups whose ciphertexts travel as binary sections (`[0x04]`, sections.ts):
 * the envelopes' JSON texts, and the sections their heads name, in order.
 */
export function encodeSectionBatch (jsons: readonly string[], sections: readonly SectionBytes[]): Uint8Array {
  return encodeSections('[' + jsons.join(',') + ']', sections)
}

const BATCH_FORMATS = ['wire format 0x01', '0x03 (batches with sealed groups)', '0x04 (batches with binary sections)', '0x05 (batches with a shared head)']

/** Decode the JSON body of a frame after checking its size and version byte (0x04: its JSON part). */
function decodeJson (bytes: Bytes, maxBytes: number, batch = false): unknown {
  if (bytes.byteLength > maxBytes) throw new MessageTooLargeError(bytes.byteLength, maxBytes)
  if (bytes.byteLength === 0) throw new SerializationError('empty frame')
  if (batch && bytes[0] === WIRE_JSON_SECTIONS) {
    const { start, end } = jsonPart(bytes)
    return parseJson(asBuffer(bytes).toString('utf8', start, end), end - start)
  }
  if (bytes[0] !== WIRE_JSON_V1 && !(batch && bytes[0] === WIRE_JSON_SEALED_GROUPS)) {
    throw new UnsupportedVersionError(`wire format 0x${bytes[0].toString(16)}`, batch ? BATCH_FORMATS : ['wire format 0x01'])
  }
  return parseJson(asBuffer(bytes).toString('utf8', 1), bytes.byteLength)
}

/** Check a decoded value is an envelope of a version we speak, and return it typed. */
export function validateEnvelope (value: unknown): Envelope {
  if (quickCheck(value)) return value // the common case, without zod (quick-check.ts)
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ValidationError('envelope must be a JSON object')
  }
  const version = (value as { version?: unknown }).version
  if (!(SUPPORTED_ENVELOPE_VERSIONS as readonly unknown[]).includes(version)) {
    throw new UnsupportedVersionError(version, SUPPORTED_ENVELOPE_VERSIONS)
  }
  const parsed = Envelope.safeParse(value)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    const at = issue.path.length > 0 ? issue.path.join('.') : '(envelope)'
    throw new ValidationError(`invalid envelope: ${at}: ${issue.message}`, { cause: parsed.error })
  }
  return parsed.data
}

export function decodeEnvelope (bytes: Bytes, maxBytes: number): Envelope {
  return validateEnvelope(decodeJson(bytes, maxBytes))
}

/**
 * Decode a batch. The whole batch is refused when any envelope in it is invalid: a batch comes
 * from one signer, and one forged or malformed envelope is reason enough to distrust the rest.
 */
export function decodeBatch (bytes: Bytes, maxBytes: number): Envelope[] {
  return decodeBatchFrame(bytes, maxBytes).envs
}

/**
 * A batch's envelopes and, in a batch with binary sections (0x04), its sections (views into
 * `bytes`, not copies; none for 0x01, 0x03 and 0x05): what a receiver opens sealed groups with.
 * `plainBytes`: the frame's bytes, or for a batch with a shared head (0x05) those of its 0x01
 * form, which is what the batch weighs (gossip-limits.ts charges it so).
 */
export function decodeBatchFrame (bytes: Bytes, maxBytes: number): { envs: Envelope[], sections: Uint8Array[], plainBytes: number } {
  if (bytes.byteLength > 0 && bytes[0] === WIRE_JSON_SHARED_HEAD) {
    const { envs, plainBytes } = decodeSharedBatch(bytes, maxBytes, validateEnvelope)
    return { envs, sections: [], plainBytes }
  }
  const value = decodeJson(bytes, maxBytes, true)
  if (!Array.isArray(value)) throw new ValidationError('batch must be a JSON array of envelopes')
  const envs = value.map(validateEnvelope)
  if (bytes[0] !== WIRE_JSON_SECTIONS) return { envs, sections: [], plainBytes: bytes.byteLength }
  return { envs, sections: sectionsOf(bytes, jsonPart(bytes).end, envs.length, MIN_SECTION_BYTES), plainBytes: bytes.byteLength }
}

/** Best effort: the id of a frame that failed validation, so the error answer can name it. */
export function peekId (bytes: Bytes): string | undefined {
  try {
    const v = JSON.parse(asBuffer(bytes).toString('utf8', 1)) as { id?: unknown }
    return typeof v?.id === 'string' && v.id.length <= 128 ? v.id : undefined
  } catch {
    return undefined
  }
}
