/**
 * The batch with binary sections (wire byte 0x04, WIRE_JSON_SECTIONS; docs/wire-format.md): what
 * a gossip or fan-out batch holding sealed groups is written as, so a group's ciphertext travels
 * as its bytes rather than as base64 inside the JSON (a third fewer bytes, no base64 on either
 * side, and no ciphertext in the text every receiver parses).
 *
 *   0x04 | varint J | J bytes: the JSON array of envelopes (UTF-8) | per section: varint L | L bytes
 *
 * A varint is unsigned LEB128 (as the rpc and fan-out frames' lengths). Sections are numbered from
 * 0 in order; a group's head names its section (`cs`, protocols/sealing/group.ts). The framing is
 * not authenticated by itself: a section moved, cut or swapped is a ciphertext its group's AEAD
 * refuses. Sections are views into the frame, never copied.
 */
import { SerializationError } from '../core/errors.js'
import { WIRE_JSON_SECTIONS } from './constants.js'

/** Bytes of a varint that can say any frame length a node accepts (MAX_MAX_MESSAGE_BYTES < 2^28). */
const MAX_VARINT_BYTES = 4

export function varintSize (n: number): number {
  let size = 1
  while (n >= 0x80) { n = Math.floor(n / 0x80); size++ }
  return size
}

export function writeVarint (buf: Buffer, at: number, n: number): number {
  while (n >= 0x80) { buf[at++] = (n & 0x7f) | 0x80; n = Math.floor(n / 0x80) }
  buf[at++] = n
  return at
}

/** The varint at `at`, and where what follows it starts; MSG002 (naming `format`) when it runs past the end or is too long. */
export function readVarint (buf: Uint8Array, at: number, what: string, format = 'batch with sections'): { n: number, next: number } {
  let n = 0
  let scale = 1
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    if (at + i >= buf.byteLength) throw new SerializationError(`${format}: ${what} runs past the end of the frame`)
    const b = buf[at + i]
    n += (b & 0x7f) * scale
    if ((b & 0x80) === 0) return { n, next: at + i + 1 }
    scale *= 0x80
  }
  throw new SerializationError(`${format}: ${what} is longer than ${MAX_VARINT_BYTES} bytes`)
}

/** A section as its bytes, or in pieces (a ciphertext and its tag) that the frame holds one after the other. */
export type SectionBytes = Uint8Array | readonly Uint8Array[]

function sectionLength (s: SectionBytes): number {
  if (s instanceof Uint8Array) return s.byteLength
  let n = 0
  for (const piece of s) n += piece.byteLength
  return n
}

/** A 0x04 frame: `json` (the JSON array's text, already joined) and the sections, in order. */
export function encodeSections (json: string, sections: readonly SectionBytes[]): Uint8Array {
  const text = Buffer.byteLength(json)
  const lengths = sections.map(sectionLength)
  let size = 1 + varintSize(text) + text
  for (const n of lengths) size += varintSize(n) + n
  const buf = Buffer.allocUnsafe(size)
  buf[0] = WIRE_JSON_SECTIONS
  let at = writeVarint(buf, 1, text)
  at += buf.write(json, at, 'utf8')
  for (let i = 0; i < sections.length; i++) {
    at = writeVarint(buf, at, lengths[i])
    const s = sections[i]
    for (const piece of s instanceof Uint8Array ? [s] : s) {
      buf.set(piece, at)
      at += piece.byteLength
    }
  }
  return buf
}

/** Where a 0x04 frame's JSON part is: bytes `start` to `end`. MSG002 when the frame cannot hold it. */
export function jsonPart (buf: Uint8Array): { start: number, end: number } {
  const { n, next } = readVarint(buf, 1, 'the JSON part\'s length')
  if (n < 2 || next + n > buf.byteLength) throw new SerializationError(`batch with sections: a JSON part of ${n} bytes in a frame of ${buf.byteLength}`)
  return { start: next, end: next + n }
}

/**
 * The sections after the JSON part (which ends at `from`): at most `max` of them (the batch's
 * envelopes: a group per head at most), each at least `minBytes` long (an AEAD's tag), or MSG002.
 */
export function sectionsOf (buf: Uint8Array, from: number, max: number, minBytes: number): Uint8Array[] {
  const out: Uint8Array[] = []
  let at = from
  while (at < buf.byteLength) {
    if (out.length >= max) throw new SerializationError(`batch with sections: more sections than its ${max} envelopes`)
    const { n, next } = readVarint(buf, at, `section ${out.length}'s length`)
    if (n < minBytes || next + n > buf.byteLength) throw new SerializationError(`batch with sections: section ${out.length} of ${n} bytes (at least ${minBytes}, within the frame)`)
    out.push(buf.subarray(next, next + n))
    at = next + n
  }
  return out
}
