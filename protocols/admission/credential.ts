/**
 * Credentials: the mesh owner's signed word that a peer id belongs to the mesh, with the roles
 * and capabilities it is granted and until when (after NATS's user JWTs, signed by the account's
 * key). The owner key is an Ed25519 key like an agent's identity, so its id is a peer id and a
 * signature is checked from the id alone; the owner key itself stays with the operator.
 *
 * What is signed is a fixed-order JSON array behind a domain string, never the object as it came
 * in: field order, extra whitespace or a field added later cannot change what a signature covers.
 */
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { NotAdmittedError } from '../core/errors.js'
import { CLOCK_SKEW_MS, CREDENTIAL_DOMAIN, MAX_CREDENTIAL_TTL_MS } from './constants.js'

export const PeerIdString = z.string().regex(/^(12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{40,60}$/, 'expected a peer id')
export const MeshName = z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/, 'expected 1-40 letters, digits, "_" or "-"')
const Signature = z.string().regex(/^[A-Za-z0-9+/]{86}==$/, 'expected a base64 Ed25519 signature')

export const Credential = z.strictObject({
  v: z.literal(1),
  mesh: MeshName,
  /** The mesh owner's key, as a peer id: the one key every agent of the mesh trusts. */
  issuer: PeerIdString,
  /** The agent's peer id: the credential is worthless to any other key. */
  subject: PeerIdString,
  roles: z.array(z.string().min(1).max(64)).max(32),
  capabilities: z.array(z.string().min(1).max(128)).max(256),
  /** Names this credential in a revocation list. */
  serial: z.string().regex(/^[0-9a-f]{32}$/),
  issuedAt: z.number().int().nonnegative(),
  expiresAt: z.number().int().positive(),
  signature: Signature
})
export type Credential = z.infer<typeof Credential>
export type CredentialFields = Omit<Credential, 'v' | 'issuer' | 'serial' | 'signature'> & { serial?: string }

function statement (c: Omit<Credential, 'signature'>): Uint8Array {
  const fields = [c.v, c.mesh, c.issuer, c.subject, c.roles, c.capabilities, c.serial, c.issuedAt, c.expiresAt]
  return new TextEncoder().encode(`${CREDENTIAL_DOMAIN}\n${JSON.stringify(fields)}`)
}

/** A new owner key for a mesh; its peer id is the issuer every credential of the mesh names. */
export async function newOwnerKey (): Promise<PrivateKey> { return await generateKeyPair('Ed25519') }

export function randomSerial (): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex')
}

/** Sign a credential with the owner key (`agentmesh credential issue` runs this). */
export async function issueCredential (owner: PrivateKey, fields: CredentialFields): Promise<Credential> {
  if (fields.expiresAt <= fields.issuedAt) throw new RangeError('a credential must expire after it is issued')
  if (fields.expiresAt - fields.issuedAt > MAX_CREDENTIAL_TTL_MS) throw new RangeError('a credential may last at most 366 days')
  const unsigned = {
    v: 1 as const,
    mesh: fields.mesh,
    issuer: peerIdFromPrivateKey(owner).toString(),
    subject: fields.subject,
    roles: [...fields.roles],
    capabilities: [...fields.capabilities],
    serial: fields.serial ?? randomSerial(),
    issuedAt: fields.issuedAt,
    expiresAt: fields.expiresAt
  }
  const signature = Buffer.from(await owner.sign(statement(unsigned))).toString('base64')
  return Credential.parse({ ...unsigned, signature })
}

export interface CredentialCheck {
  /** The mesh owner this node trusts (the issuer of its own credential). */
  issuer: string
  mesh: string
  /** The authenticated peer the credential must belong to. */
  subject: string
  now: number
  /** Whether the owner revoked it (by serial or subject). */
  revoked?: (c: Credential) => boolean
}

/**
 * The credential, checked: its shape, then the cheap checks (mesh, issuer, subject, validity),
 * then the signature. Anything else is a NotAdmittedError (SEC001) that says which check failed.
 */
export async function verifyCredential (input: unknown, check: CredentialCheck): Promise<Credential> {
  const c = checkFields(input, check)
  const key = peerIdFromString(c.issuer).publicKey
  if (key === undefined) throw new NotAdmittedError('credential issuer has no public key in its id')
  const { signature, ...unsigned } = c
  if (!(await key.verify(statement(unsigned), Buffer.from(signature, 'base64')))) throw new NotAdmittedError('credential signature does not verify')
  if (check.revoked?.(c) === true) throw new NotAdmittedError(`credential ${c.serial} of ${c.subject} is revoked`)
  return c
}

/**
 * verifyCredential at once, for a check made inside a handler that does not wait (the member
 * view's, of the credential a relayed statement carries). An owner key is Ed25519, which Node
 * checks synchronously; an issuer key that can only be checked asynchronously is refused.
 */
export function verifyCredentialNow (input: unknown, check: CredentialCheck): Credential {
  const c = checkFields(input, check)
  const key = peerIdFromString(c.issuer).publicKey
  if (key === undefined) throw new NotAdmittedError('credential issuer has no public key in its id')
  const { signature, ...unsigned } = c
  const ok = key.verify(statement(unsigned), Buffer.from(signature, 'base64'))
  if (ok instanceof Promise) { ok.catch(() => {}); throw new NotAdmittedError('credential issuer key cannot be checked synchronously') }
  if (!ok) throw new NotAdmittedError('credential signature does not verify')
  if (check.revoked?.(c) === true) throw new NotAdmittedError(`credential ${c.serial} of ${c.subject} is revoked`)
  return c
}

/** The shape and the cheap checks (mesh, issuer, subject, validity), before any signature. */
function checkFields (input: unknown, check: CredentialCheck): Credential {
  const parsed = Credential.safeParse(input)
  if (!parsed.success) throw new NotAdmittedError(`malformed credential: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
  const c = parsed.data
  if (c.mesh !== check.mesh) throw new NotAdmittedError(`credential is for mesh "${c.mesh}", not "${check.mesh}"`)
  if (c.issuer !== check.issuer) throw new NotAdmittedError(`credential is signed by ${c.issuer}, not by this mesh's owner ${check.issuer}`)
  if (c.subject !== check.subject) throw new NotAdmittedError(`credential belongs to ${c.subject}, not to the peer ${check.subject} that presents it`)
  if (c.issuedAt > check.now + CLOCK_SKEW_MS) throw new NotAdmittedError('credential is issued in the future (check the clocks)')
  if (c.expiresAt <= check.now - CLOCK_SKEW_MS) throw new NotAdmittedError(`credential expired at ${new Date(c.expiresAt).toISOString()}`)
  return c
}
