/**
 * peer-verify.ts in a browser bundle: no Node crypto to import keys into, so libp2p's key checks
 * (the bundle's Ed25519 is @noble/curves', synchronous; tools/build-browser.ts).
 */
export { keyVerifies as peerSignatureVerifies } from './peer-keys.js'
