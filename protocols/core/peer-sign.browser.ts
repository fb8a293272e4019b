/**
 * peer-sign.ts in a browser bundle: no Node crypto to import keys into, so libp2p's key signs
 * (the bundle's Ed25519 is @noble/curves', synchronous; tools/build-browser.ts).
 */
import type { PrivateKey } from '@libp2p/interface'

/** `key`'s signature over `data`, made synchronously (a TypeError names `what` otherwise). */
export function signWith (key: PrivateKey, data: Uint8Array, what: string): Uint8Array {
  const sig = key.sign(data)
  if (!(sig instanceof Uint8Array)) throw new TypeError(`${what} need a key that signs synchronously, not ${key.type}`)
  return sig
}
