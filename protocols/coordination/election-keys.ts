/**
 * The election's signatures with the node's libp2p identity key (the pure machine takes them as
 * ElectionKeys). A vote is checked from the voter's peer id alone: an Ed25519 or secp256k1 peer
 * id carries its public key. An RSA peer id carries only a hash of it, so an RSA node's votes
 * cannot be checked and do not count (agentmesh makes Ed25519 identities).
 *
 * Every statement is signed under a domain (protocol, version and mesh name), so a vote given
 * in one mesh, or signed by the same key for another purpose, proves nothing here.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerSignatureVerifies } from '../core/peer-verify.js'
import { signWith } from '../core/peer-sign.js'
import type { ElectionKeys } from './election-types.js'

const DOMAIN = 'agentmesh/election/1'

export function electionKeys (privateKey: PrivateKey, mesh: string): ElectionKeys {
  const bytes = (statement: string): Uint8Array => new TextEncoder().encode(`${DOMAIN}\n${mesh}\n${statement}`)
  return {
    sign: (statement) => {
      // Node's crypto signs Ed25519 (and libp2p secp256k1) synchronously; the machine needs it so.
      const sig = signWith(privateKey, bytes(statement), 'election votes')
      return Buffer.from(sig).toString('base64')
    },
    verify: (peer, statement, signature) => peerSignatureVerifies(peer, bytes(statement), Buffer.from(signature, 'base64'))
  }
}

/**
 * The node's identity key, which libp2p keeps among its components (a public field of its
 * Libp2p class, not of the interface it returns).
 */
export function privateKeyOf (libp2p: unknown): PrivateKey {
  const key = (libp2p as { components?: { privateKey?: PrivateKey } }).components?.privateKey
  if (key === undefined) throw new TypeError('the libp2p node has no private key in its components')
  return key
}
