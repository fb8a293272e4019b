/**
 * The signed A2A agent card (A2A 1.0 section 8.4; surfaces/gateway/a2a/card-signature.ts), as a
 * client that trusts only the mesh owner's public key checks it: the credential in the JWS's
 * protected header is checked against the owner's key with node:crypto, the JWS against the key
 * of its `kid` with jose (an independent JWS implementation), over the card as served without
 * `signatures`, canonicalised by another library than the gateway's (fast-json-stable-stringify:
 * keys sorted, no whitespace, which for a card of strings, booleans and integers is RFC 8785's
 * form). A card changed after signing, a credential from another owner, and another signer's key
 * all fail. An open mesh's card is not signed.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createPublicKey, verify } from 'node:crypto'
import { join } from 'node:path'
import { writeFile } from 'node:fs/promises'
import { flattenedVerify, importJWK } from 'jose'
import stableStringify from 'fast-json-stable-stringify'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import { createAgentNode } from '../../../surfaces/index.js'
import { a2aMount } from '../../../surfaces/gateway/a2a/index.js'
import { loadOrCreateIdentity } from '../../../node/identity.js'
import { issueCredential, newOwnerKey } from '../../../protocols/admission/credential.js'
import { serveMounts } from './mount-server.js'
import { nodeOptions, startMesh, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

/** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 raw bytes follow. */
const ED25519_SPKI = Buffer.from('302a300506032b6570032100', 'hex')
const rawKeyOf = (peerId: string): Uint8Array => peerIdFromString(peerId).publicKey?.raw ?? new Uint8Array()

/** What an owner-trusting client does with a served card; throws saying why it is not to be trusted. */
async function verifyCard (card: any, ownerPeerId: string, now = Date.now()): Promise<{ kid: string }> {
  const sig = card.signatures?.[0]
  assert.ok(sig !== undefined, 'the card is signed')
  const header = JSON.parse(Buffer.from(sig.protected, 'base64url').toString('utf8'))
  assert.equal(header.alg, 'EdDSA')
  assert.equal(header.typ, 'JOSE')
  // The credential: the owner's signature over its fixed-order statement (docs/security.md), for the kid, not expired.
  const c = header.agentmesh_credential
  assert.equal(c.issuer, ownerPeerId, 'issued by the trusted owner')
  assert.equal(c.subject, header.kid, 'issued for the signing key')
  assert.ok(c.expiresAt > now, 'not expired')
  const statement = `agentmesh credential v1\n${JSON.stringify([c.v, c.mesh, c.issuer, c.subject, c.roles, c.capabilities, c.serial, c.issuedAt, c.expiresAt])}`
  const ownerKey = createPublicKey({ key: Buffer.concat([ED25519_SPKI, rawKeyOf(ownerPeerId)]), format: 'der', type: 'spki' })
  assert.ok(verify(null, Buffer.from(statement), ownerKey, Buffer.from(c.signature, 'base64')), 'the owner signed the credential')
  // The JWS, with the kid's key, over the card as served without its signatures.
  const { signatures: _s, ...unsigned } = card
  const key = await importJWK({ kty: 'OKP', crv: 'Ed25519', x: Buffer.from(rawKeyOf(header.kid)).toString('base64url') }, 'EdDSA')
  await flattenedVerify({ protected: sig.protected, signature: sig.signature, payload: Buffer.from(stableStringify(unsigned)).toString('base64url') }, key)
  return { kid: header.kid }
}

test('a2a: a closed mesh\'s agent card is signed by the gateway\'s node under the owner\'s credential; a client holding the owner key verifies it, and a tampered card fails', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const ownerId = peerIdFromPrivateKey(owner).toString()
    const identity = join(dir, 'gw.key')
    const id = await loadOrCreateIdentity(identity)
    const now = Date.now()
    const credential = join(dir, 'gw.cred.json')
    await writeFile(credential, JSON.stringify(await issueCredential(owner, {
      mesh, subject: id.peerId.toString(), roles: ['agent', 'coordinator'], capabilities: ['task:add', 'command:square'], issuedAt: now, expiresAt: now + 3_600_000
    })))
    const node = await createAgentNode(nodeOptions(mesh, {
      name: 'gw', identity, preset: 'local', coordination: { bootstrapExpect: 1 }, security: { mode: 'closed', credential }
    }))
    await node.start()
    const gw = await serveMounts(node, [a2aMount])
    try {
      await waitFor(() => node.coordinator().leader !== undefined, 'a coordinator', 30_000)
      const res = await fetch(`${gw.url}/.well-known/agent-card.json`)
      assert.equal(res.status, 200)
      const card = await res.json() as any
      assert.equal(card.signatures.length, 1)
      assert.equal((await verifyCard(card, ownerId)).kid, node.peerId)

      // Tampered: a skill added, the URL moved. Another owner: its key does not verify the credential.
      await assert.rejects(verifyCard({ ...card, skills: [...card.skills, { id: 'evil', name: 'evil', description: 'x', tags: [] }] }, ownerId), /signature verification failed/)
      await assert.rejects(verifyCard({ ...card, supportedInterfaces: [{ ...card.supportedInterfaces[0], url: 'http://evil.example/a2a' }] }, ownerId), /signature verification failed/)
      const stranger = peerIdFromPrivateKey(await newOwnerKey()).toString()
      await assert.rejects(verifyCard(card, stranger), /issued by the trusted owner/)
      // The same signature under another kid (a key the credential does not name): refused.
      const header = JSON.parse(Buffer.from(card.signatures[0].protected, 'base64url').toString('utf8'))
      const forged = { ...card, signatures: [{ ...card.signatures[0], protected: Buffer.from(JSON.stringify({ ...header, kid: stranger })).toString('base64url') }] }
      await assert.rejects(verifyCard(forged, ownerId), /issued for the signing key/)
    } finally {
      await gw.stop()
      await stopAll([node])
    }
  })

  // Open: nothing to sign with, no signature claimed.
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 1 } }))
  const gw = await serveMounts(nodes[0], [a2aMount])
  try {
    const card = await (await fetch(`${gw.url}/.well-known/agent-card.json`)).json() as any
    assert.equal(card.signatures, undefined)
  } finally {
    await gw.stop()
    await stopAll(nodes)
  }
})
