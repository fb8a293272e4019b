/**
 * The agent card's signature (A2A 1.0, section 8.4 "Agent Card Signing"): a JWS (RFC 7515)
 * with a detached payload, the payload being the card as served with `signatures` left out,
 * canonicalised by JCS (RFC 8785). The card served is the SDK codec's JSON (AgentCard.toJSON),
 * which already leaves out what proto3 JSON leaves out (unset fields, empty lists), so a client
 * that takes the served JSON, drops `signatures` and canonicalises it gets the bytes signed.
 *
 * Who signs, and why a client trusts it: the mesh owner's key (`agentmesh mesh init`) is the
 * trust root, but it stays offline (docs/security.md) and the card changes as agents come and
 * go, so it cannot sign each card. The gateway's node signs, with its own identity key (Ed25519,
 * `alg: EdDSA`, `kid`: its peer id), and the protected header carries that node's credential
 * (`agentmesh_credential`), which the owner signed for this peer id. A client holding only the
 * owner's public key checks the credential (its issuer is the owner, its subject the `kid`, not
 * expired), takes the public key out of the `kid` (an Ed25519 peer id holds it) and checks the
 * JWS with it. An open mesh has no owner and no credential: its card is not signed.
 */
import { peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import type { Credential } from '../../../protocols/admission/credential.js'

/** The protected header's member that carries the signer's credential. */
export const CREDENTIAL_HEADER = 'agentmesh_credential'

export interface CardSignature { protected: string, signature: string }

const b64url = (bytes: Uint8Array | string): string => Buffer.from(bytes).toString('base64url')

/**
 * RFC 8785: members sorted by their names' UTF-16 code units (what Array.prototype.sort does
 * with strings), no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them
 * (the RFC takes its number and string forms from it). Undefined members are left out, as JSON has none.
 */
export function canonicalJson (value: unknown): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError('JCS has no form for a non-finite number')
    return JSON.stringify(value)
  }
  if (Array.isArray(value)) return `[${value.map(v => canonicalJson(v === undefined ? null : v)).join(',')}]`
  const entries = Object.keys(value).filter(k => (value as Record<string, unknown>)[k] !== undefined).sort()
  return `{${entries.map(k => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`
}

/** The bytes a card's signature covers: the served JSON without `signatures`, canonical. */
export function signedPayload (servedCard: Record<string, unknown>): string {
  const { signatures: _signatures, ...rest } = servedCard
  return canonicalJson(rest)
}

/** Signs the served JSON of a card (without `signatures`) as the node whose key and credential are given. */
export async function signCard (servedCard: Record<string, unknown>, key: PrivateKey, credential: Credential): Promise<CardSignature> {
  if (key.type !== 'Ed25519') throw new TypeError(`an agent card is signed with an Ed25519 identity key, not ${key.type}`)
  const kid = peerIdFromString(credential.subject).toString()
  const header = { alg: 'EdDSA', typ: 'JOSE', kid, [CREDENTIAL_HEADER]: credential }
  const protectedHeader = b64url(JSON.stringify(header))
  const input = `${protectedHeader}.${b64url(signedPayload(servedCard))}`
  const signature = await key.sign(new TextEncoder().encode(input))
  return { protected: protectedHeader, signature: b64url(signature) }
}
