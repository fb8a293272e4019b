/**
 * XChaCha20-Poly1305 in a browser bundle (the browser build takes this file for aead.ts): a
 * browser has no native ChaCha20-Poly1305 (WebCrypto offers AES only), so the whole AEAD is
 * @noble/ciphers' `xchacha20poly1305`, the construction aead.ts reproduces byte for byte with
 * Node's cipher (test/node/browser.test.ts seals with each and opens with the other). Same exports,
 * same layout: ciphertext with its 16-byte tag appended.
 */
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js'

const TAG = 16

function asBuffer (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}

/** XChaCha20-Poly1305 under one key (pure JS: no subkey cache to keep, noble derives it per call). */
export class XChaCha {
  private readonly key: Uint8Array

  constructor (key: Uint8Array) {
    if (key.byteLength !== 32) throw new RangeError('an XChaCha20-Poly1305 key is 32 bytes')
    this.key = key
  }

  seal (nonce: Uint8Array, ad: Uint8Array, plain: Uint8Array): Buffer {
    if (nonce.byteLength !== 24) throw new RangeError('an XChaCha20-Poly1305 nonce is 24 bytes')
    return asBuffer(xchacha20poly1305(this.key, nonce, ad).encrypt(plain))
  }

  /** The same bytes as `seal`, as the ciphertext and its tag apart (views of one buffer). */
  sealParts (nonce: Uint8Array, ad: Uint8Array, plain: Uint8Array): [Buffer, Buffer] {
    const sealed = this.seal(nonce, ad, plain)
    return [sealed.subarray(0, sealed.byteLength - TAG), sealed.subarray(sealed.byteLength - TAG)]
  }

  /** The plaintext; throws when the tag does not verify. */
  open (nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Buffer {
    if (nonce.byteLength !== 24) throw new RangeError('an XChaCha20-Poly1305 nonce is 24 bytes')
    if (sealed.length < TAG) throw new RangeError('ciphertext shorter than its tag')
    return asBuffer(xchacha20poly1305(this.key, nonce, ad).decrypt(sealed))
  }
}

export function xchachaSeal (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, plain: Uint8Array): Buffer {
  return new XChaCha(key).seal(nonce, ad, plain)
}

export function xchachaOpen (key: Uint8Array, nonce: Uint8Array, ad: Uint8Array, sealed: Uint8Array): Buffer {
  return new XChaCha(key).open(nonce, ad, sealed)
}
