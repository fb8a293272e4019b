/**
 * A browser node's identity: an Ed25519 key, in the same JSON shape as an identity file
 * (`{ type, id, privateKey }`, node/identity.ts), so a page can keep it where it keeps things
 * (IndexedDB, localStorage) and its peer id, which its credential names, survives a reload.
 * Whatever script runs on the page's origin can read it there: a credential for a page says so
 * in its roles (give a page's key no more than the page should do).
 */
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { ConfigError } from '../../protocols/core/errors.js'

export const IdentityObject = z.strictObject({
  type: z.literal('Ed25519'),
  id: z.string(),
  privateKey: z.string().min(1)
})
export type IdentityObject = z.infer<typeof IdentityObject>

export async function generateIdentity (): Promise<PrivateKey> { return await generateKeyPair('Ed25519') }

export function exportIdentity (key: PrivateKey): IdentityObject {
  return { type: 'Ed25519', id: peerIdFromPrivateKey(key).toString(), privateKey: Buffer.from(privateKeyToProtobuf(key)).toString('base64') }
}

/** The key of an identity object (as exportIdentity gives it, or an identity file's JSON); CFG001 when it is none. */
export function importIdentity (input: unknown): PrivateKey {
  let key: PrivateKey
  let parsed: IdentityObject
  try {
    parsed = IdentityObject.parse(input)
    key = privateKeyFromProtobuf(Buffer.from(parsed.privateKey, 'base64'))
  } catch (err) {
    throw new ConfigError(`not an agentmesh identity: ${(err as Error).message}`, { cause: err })
  }
  if (peerIdFromPrivateKey(key).toString() !== parsed.id) throw new ConfigError(`identity: the key does not match the id ${parsed.id}`)
  return key
}
