// In a closed mesh, dial() answers what the user asks it: whether the peer took this node in. A
// node with a credential of another owner used to get a peer id back, then a hang-up ~190 ms later.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { issueCredential, newOwnerKey } from '../../../protocols/admission/credential.js'
import { nodeOptions, stopAll, uniqueMesh, withTempDir } from '../../helpers.js'

const DAY = 86_400_000

async function closedNode (dir: string, mesh: string, owner: PrivateKey, name: string): Promise<AgentNode> {
  const key = await generateKeyPair('Ed25519')
  const now = Date.now()
  const cred = await issueCredential(owner, { mesh, subject: peerIdFromPrivateKey(key).toString(), roles: ['agent'], capabilities: [], issuedAt: now, expiresAt: now + DAY })
  const file = join(dir, `${name}.json`)
  await writeFile(file, JSON.stringify(cred))
  const node = await createAgentNode(nodeOptions(mesh, { name, privateKey: key, preset: 'local', security: { mode: 'closed', credential: file } }))
  await node.start()
  return node
}

test('closed mesh: dial() resolves once the peer admitted this node, and rejects with SEC001 when it refused', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const nodes: AgentNode[] = []
    try {
      const a = await closedNode(dir, mesh, owner, 'a')
      nodes.push(a)
      const b = await closedNode(dir, mesh, owner, 'b')
      nodes.push(b)
      assert.equal(await b.dial(a.addresses()[0]), a.peerId)
      assert.ok(b.peers().some(p => p.peerId === a.peerId), 'a is a member at b as soon as the dial resolves')

      // Same mesh name, a credential signed by another owner: a refuses it in the card exchange.
      const outsider = await closedNode(dir, mesh, await newOwnerKey(), 'outsider')
      nodes.push(outsider)
      await assert.rejects(outsider.dial(a.addresses()[0]), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'SEC001', err.message)
        assert.match(err.message, new RegExp(a.peerId))
        assert.match(err.message, /not by this mesh's owner/, 'the reason a gave')
        return true
      })
      assert.ok(!outsider.peers().some(p => p.peerId === a.peerId))
      assert.ok(!a.peers().some(p => p.peerId === outsider.peerId), 'nor is the outsider a member at a')
      // An address nobody listens on is still a connection error (COM002), not a refusal.
      await assert.rejects(b.dial(`/ip4/127.0.0.1/tcp/9/p2p/${outsider.peerId}`), { code: 'COM002' })
    } finally {
      await stopAll(nodes)
    }
  })
})
