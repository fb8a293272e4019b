/**
 * Revocation: the owner's signed list of credentials (by serial) and peers (by id) no longer
 * admitted. Lists are whole, not deltas: the newest by `issuedAt` replaces the one held, so a
 * list can be spread by gossip, repeated, reordered or replayed without harm.
 */
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { NotAdmittedError } from '../core/errors.js'
import { MAX_REVOKED, REVOCATION_DOMAIN } from './constants.js'
import { MeshName, PeerIdString, type Credential } from './credential.js'

export const RevocationList = z.strictObject({
  v: z.literal(1),
  mesh: MeshName,
  issuer: PeerIdString,
  serials: z.array(z.string().regex(/^[0-9a-f]{32}$/)).max(MAX_REVOKED),
  subjects: z.array(PeerIdString).max(MAX_REVOKED),
  issuedAt: z.number().int().nonnegative(),
  signature: z.string().regex(/^[A-Za-z0-9+/]{86}==$/)
})
export type RevocationList = z.infer<typeof RevocationList>

function statement (l: Omit<RevocationList, 'signature'>): Uint8Array {
  const fields = [l.v, l.mesh, l.issuer, [...l.serials].sort(), [...l.subjects].sort(), l.issuedAt]
  return new TextEncoder().encode(`${REVOCATION_DOMAIN}\n${JSON.stringify(fields)}`)
}

export interface RevocationFields { mesh: string, serials: string[], subjects: string[], issuedAt: number }

export async function signRevocations (owner: PrivateKey, l: RevocationFields): Promise<RevocationList> {
  const issuer = peerIdFromPrivateKey(owner).toString()
  const unsigned = { v: 1 as const, mesh: l.mesh, issuer, serials: [...new Set(l.serials)], subjects: [...new Set(l.subjects)], issuedAt: l.issuedAt }
  const signature = Buffer.from(await owner.sign(statement(unsigned))).toString('base64')
  return RevocationList.parse({ ...unsigned, signature })
}

/** The list, checked against the mesh and its owner; a NotAdmittedError says what is wrong. */
export async function verifyRevocations (input: unknown, trust: { mesh: string, issuer: string }): Promise<RevocationList> {
  const parsed = RevocationList.safeParse(input)
  if (!parsed.success) throw new NotAdmittedError(`malformed revocation list: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  const l = parsed.data
  if (l.mesh !== trust.mesh || l.issuer !== trust.issuer) throw new NotAdmittedError('revocation list of another mesh or owner')
  const { signature, ...unsigned } = l
  const key = peerIdFromString(l.issuer).publicKey
  if (key === undefined || !(await key.verify(statement(unsigned), Buffer.from(signature, 'base64')))) {
    throw new NotAdmittedError('revocation list signature does not verify')
  }
  return l
}

/** The newest list seen; `revoked` answers for a credential. */
export class Revocations {
  private list?: RevocationList
  private serials = new Set<string>()
  private subjects = new Set<string>()

  get current (): RevocationList | undefined { return this.list }

  /** Keep `l` (already verified) if it is newer than the list held; true if it was. */
  offer (l: RevocationList): boolean {
    if (this.list !== undefined && l.issuedAt <= this.list.issuedAt) return false
    this.list = l
    this.serials = new Set(l.serials)
    this.subjects = new Set(l.subjects)
    return true
  }

  revoked (c: Pick<Credential, 'serial' | 'subject'>): boolean {
    return this.serials.has(c.serial) || this.subjects.has(c.subject)
  }
}
