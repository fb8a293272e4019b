/**
 * `node:crypto` in a browser bundle: the three functions the protocols call, on WebCrypto's
 * `crypto.getRandomValues` and `crypto.randomUUID` and @noble/hashes' SHA-256 (WebCrypto's
 * digest is async; these are called synchronously). `randomUUID` needs a secure context, as
 * everything else of a browser node does: https, or http on localhost.
 */
import { sha256 } from '@noble/hashes/sha2.js'
import { bytesToHex } from '@noble/hashes/utils.js'
import { toBase64url } from '../../../protocols/core/base64url.js'
import { UnavailableInBrowserError } from './unavailable.js'

interface WebCrypto { getRandomValues: (a: Uint8Array) => Uint8Array, randomUUID: () => string }

function webCrypto (): WebCrypto {
  const c = (globalThis as { crypto?: WebCrypto }).crypto
  if (c === undefined) throw new UnavailableInBrowserError('crypto (WebCrypto: a secure context, https or localhost)')
  return c
}

export function randomUUID (): string { return webCrypto().randomUUID() }

export function randomBytes (n: number): Buffer {
  const out = Buffer.alloc(n)
  // getRandomValues fills at most 65,536 bytes a call.
  for (let i = 0; i < n; i += 65_536) webCrypto().getRandomValues(out.subarray(i, Math.min(n, i + 65_536)))
  return out
}

/** The hash objects the protocols make: SHA-256, fed strings (UTF-8) or bytes, read as hex, base64url or bytes. */
class Sha256 {
  private readonly h = sha256.create()
  update (data: string | Uint8Array): this {
    this.h.update(typeof data === 'string' ? new TextEncoder().encode(data) : data)
    return this
  }

  digest (encoding: 'hex' | 'base64url'): string
  digest (): Buffer
  digest (encoding?: string): string | Buffer {
    const bytes = this.h.digest()
    if (encoding === undefined) return Buffer.from(bytes)
    if (encoding === 'hex') return bytesToHex(bytes)
    // Topic keys (protocols/discovery/topic-rendezvous.ts). An encoding not written here must fail, not
    // return bytes where Node returns a string: a statement with bytes for text is refused.
    if (encoding === 'base64url') return toBase64url(bytes)
    throw new UnavailableInBrowserError(`digest('${encoding}')`)
  }
}

export function createHash (algorithm: string): Sha256 {
  if (algorithm !== 'sha256') throw new UnavailableInBrowserError(`createHash('${algorithm}') (only sha256 is bundled)`)
  return new Sha256()
}
