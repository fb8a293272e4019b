// Credentials and revocation lists: what the mesh owner signs, and every way a forged, stale or
// borrowed one is refused (SEC001) with a message that says which check failed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { issueCredential, newOwnerKey, verifyCredential } from '../../../protocols/admission/credential.js'
import { Revocations, signRevocations, verifyRevocations } from '../../../protocols/admission/revocation.js'
import { NotAdmittedError } from '../../../protocols/core/errors.js'

const DAY = 24 * 3_600_000

async function setup (): Promise<{ owner: Awaited<ReturnType<typeof newOwnerKey>>, issuer: string, agent: string, other: string }> {
  const owner = await newOwnerKey()
  const agent = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const other = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  return { owner, issuer: peerIdFromPrivateKey(owner).toString(), agent, other }
}

async function refused (p: Promise<unknown>, why: RegExp): Promise<void> {
  await assert.rejects(p, (e: any) => e instanceof NotAdmittedError && e.code === 'SEC001' && why.test(e.message))
}

test('a credential verifies for its peer, mesh and owner, and for nothing else', { timeout: 3 * 60_000 }, async () => {
  const { owner, issuer, agent, other } = await setup()
  const now = Date.now()
  const c = await issueCredential(owner, { mesh: 'm1', subject: agent, roles: ['agent', 'coordinator'], capabilities: ['math'], issuedAt: now, expiresAt: now + DAY })
  const check = { issuer, mesh: 'm1', subject: agent, now }
  const ok = await verifyCredential(JSON.parse(JSON.stringify(c)), check)
  assert.deepEqual(ok.roles, ['agent', 'coordinator'])

  await refused(verifyCredential(c, { ...check, subject: other }), /belongs to/)
  await refused(verifyCredential(c, { ...check, mesh: 'm2' }), /mesh "m1"/)
  await refused(verifyCredential(c, { ...check, issuer: other }), /not by this mesh's owner/)
  await refused(verifyCredential(c, { ...check, now: now + 2 * DAY }), /expired/)
  await refused(verifyCredential(c, { ...check, now: now - DAY }), /in the future/)
  // Every field is covered by the signature: granting oneself a role breaks it.
  await refused(verifyCredential({ ...c, roles: ['agent', 'coordinator', 'resource_manager'] }, check), /signature/)
  await refused(verifyCredential({ ...c, expiresAt: c.expiresAt + DAY }, check), /signature/)
  // A credential signed by another key that names the real owner as issuer.
  const forger = await newOwnerKey()
  const forged = await issueCredential(forger, { mesh: 'm1', subject: agent, roles: ['coordinator'], capabilities: [], issuedAt: now, expiresAt: now + DAY })
  await refused(verifyCredential({ ...forged, issuer }, check), /signature/)
  await refused(verifyCredential({ ...c, extra: 1 }, check), /malformed/)
  await refused(verifyCredential('not a credential', check), /malformed/)
  await assert.rejects(issueCredential(owner, { mesh: 'm1', subject: agent, roles: [], capabilities: [], issuedAt: now, expiresAt: now + 400 * DAY }), RangeError)
})

test('revocation lists: the newest signed list wins, and revokes by serial or by peer', { timeout: 3 * 60_000 }, async () => {
  const { owner, issuer, agent, other } = await setup()
  const now = Date.now()
  const c1 = await issueCredential(owner, { mesh: 'm1', subject: agent, roles: [], capabilities: [], issuedAt: now, expiresAt: now + DAY })
  const c2 = await issueCredential(owner, { mesh: 'm1', subject: other, roles: [], capabilities: [], issuedAt: now, expiresAt: now + DAY })
  const held = new Revocations()
  const first = await verifyRevocations(await signRevocations(owner, { mesh: 'm1', serials: [c1.serial], subjects: [], issuedAt: now }), { mesh: 'm1', issuer })
  assert.equal(held.offer(first), true)
  const check = (subject: string) => ({ issuer, mesh: 'm1', subject, now, revoked: (c: any) => held.revoked(c) })
  await refused(verifyCredential(c1, check(agent)), /revoked/)
  await verifyCredential(c2, check(other))

  const second = await signRevocations(owner, { mesh: 'm1', serials: [], subjects: [other], issuedAt: now + 1 })
  assert.equal(held.offer(await verifyRevocations(second, { mesh: 'm1', issuer })), true)
  assert.equal(held.offer(first), false, 'an older list (a replay) changes nothing')
  await verifyCredential(c1, check(agent))
  await refused(verifyCredential(c2, check(other)), /revoked/)

  const stranger = await newOwnerKey()
  const fake = await signRevocations(stranger, { mesh: 'm1', serials: [], subjects: [agent], issuedAt: now + 5 })
  await refused(verifyRevocations({ ...fake, issuer }, { mesh: 'm1', issuer }), /signature/)
  await refused(verifyRevocations(fake, { mesh: 'm1', issuer }), /another mesh or owner/)
})
