/**
 * peer-verify.ts in a browser bundle: no Node crypto to import keys into, so libp2p's key checks
 * (the bundle's Ed25519 is @noble/curves', synchronous; tools/build-browser.ts).
 */
import { publicKeyOf } from './peer-keys.js'

/** Whether `sig` is `peer`'s signature over `data`; false for anything malformed, never a throw. */
export function peerSignatureVerifies (peer: string, data: Uint8Array, sig: Uint8Array): boolean {
  try {
    const ok = publicKeyOf(peer)?.verify(data, sig) ?? false
    if (ok instanceof Promise) { ok.catch(() => {}); return false }
    return ok
  } catch {
    return false
  }
}
