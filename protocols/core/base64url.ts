/**
 * base64url (RFC 4648 §5, no padding) of bytes, and back: what envelope signatures, task record
 * seals and sealed payloads' key ids and tags are written in.
 *
 * Node's Buffer has the encoding (since v15). The `buffer` package that the browser bundle binds
 * as Buffer (node/browser/globals.ts) does not, and is not patched for it: a host that bundles us
 * may share that package's copy, and a library changes nothing in its host it was not asked to.
 * There the URL-safe alphabet is written over base64 (`urlSafe`), and read back by the package's
 * base64 decoder, which takes '-', '_' and a missing padding.
 */

/** Whether this Buffer has the encoding (Node's), measured once. */
const NATIVE = Buffer.isEncoding('base64url')

/** base64 text in the URL-safe alphabet, its padding dropped. */
export function urlSafe (base64: string): string {
  return base64.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
}

export function toBase64url (bytes: Uint8Array): string {
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  return NATIVE ? b.toString('base64url') : urlSafe(b.toString('base64'))
}

export function fromBase64url (text: string): Uint8Array {
  return Buffer.from(text, NATIVE ? 'base64url' : 'base64')
}
