/**
 * Signatures of the member statements (member-wire.ts) with the node's libp2p identity key. A
 * statement is relayed by others, so the gossip's sender proves nothing about it: only its
 * author's signature says who said it, and an agent's word about itself (its incarnation, that
 * it leaves, whom it suspects) counts only with it. Checked from the author's peer id alone
 * (an Ed25519 peer id carries its public key), under a domain (protocol, version and mesh), so
 * a statement signed in one mesh, or a signature made for another purpose, proves nothing here.
 */
import type { PrivateKey } from '@libp2p/interface'
import { peerSignatureVerifies } from '../core/peer-verify.js'
import { signWith } from '../core/peer-sign.js'

const DOMAIN = 'agentmesh/member/1'

export interface StatementKeys {
  /** This node's signature (base64) over a statement's body. */
  sign: (body: string) => string
  /** Whether `sig` is `author`'s over `body`; false for anything malformed. */
  verify: (author: string, body: string, sig: string) => boolean
}

export function statementKeys (privateKey: PrivateKey, mesh: string): StatementKeys {
  const bytes = (body: string): Uint8Array => new TextEncoder().encode(`${DOMAIN}\n${mesh}\n${body}`)
  return {
    sign: (body) => {
      // Node's crypto signs Ed25519 synchronously; the member view signs in its handlers.
      const sig = signWith(privateKey, bytes(body), 'member statements')
      return Buffer.from(sig).toString('base64')
    },
    verify: (author, body, sig) => peerSignatureVerifies(author, bytes(body), Buffer.from(sig, 'base64'))
  }
}
