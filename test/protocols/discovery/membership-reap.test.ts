/**
 * Members are forgotten and bounded (issue 13), through real nodes: an agent that left is reaped
 * after `membership.reapAfterMs` and a replay of its old statement does not bring it back, while
 * the agent restarted is listed again; in an open mesh a peer flooding statements of made-up peer
 * ids fills no table past `membership.maxMembers`, and a new neighbour is still taken. And the
 * roles /members shows (over HTTP) are those a closed mesh's credentials grant, not those an
 * agent claims.
 */
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { issueCredential, newOwnerKey } from '../../../protocols/admission/credential.js'
import { MemberGossip, MemberSync, type Member, type SignedStatement } from '../../../protocols/discovery/members.js'
import { statementKeys } from '../../../protocols/discovery/statement-keys.js'
import { RpcService } from '../../../protocols/rpc/index.js'
import { MeshAnnouncer } from '../../../protocols/discovery/mesh-announcer.js'
import { MESH_TOPIC } from '../../../protocols/discovery/mesh-map.js'
import { PubSubService } from '../../../protocols/pubsub/index.js'
import { nodeOptions, sleep, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

const REAP_MS = 2_000
const MAX_MEMBERS = 16
const membership = { suspicionMinMs: 1_000, suspicionMaxMs: 3_000, reapAfterMs: REAP_MS, maxMembers: MAX_MEMBERS }
const rpcOf = (n: AgentNode): RpcService => n.services.find((s): s is RpcService => s instanceof RpcService) as RpcService
const listed = (n: AgentNode, peerId: string): Member | undefined => n.members().find(m => m.peerId === peerId)

describe('reaping, tombstones and the member cap (open mesh)', () => {
  const nodes: AgentNode[] = []
  const mesh = uniqueMesh()
  let victimKey: PrivateKey
  let victimId: string

  const start = async (name: string, extra: Parameters<typeof nodeOptions>[1] = {}): Promise<AgentNode> => {
    const node = await createAgentNode(nodeOptions(mesh, { preset: 'local', membership, name, ...(nodes.length > 0 ? { bootstrap: [nodes[0].addresses()[0]] } : {}), ...extra }))
    await node.start()
    nodes.push(node)
    return node
  }

  after(async () => { await stopAll(nodes) })

  it('an agent that left is reaped, its replayed statement does not bring it back, and restarted it is listed again', async () => {
    const observer = await start('observer')
    const relay = await start('relay')
    victimKey = await generateKeyPair('Ed25519')
    victimId = peerIdFromPrivateKey(victimKey).toString()
    const victim = await start('victim', { privateKey: victimKey })
    await waitFor(() => listed(observer, victimId)?.state === 'alive' && listed(relay, victimId)?.state === 'alive', 'the victim alive everywhere', 15_000)
    // Its statement as a full exchange carries it: what a replay would send.
    const held = await rpcOf(relay).request(observer.peerId, MemberSync, { statements: [] })
    const old = held.statements.find(s => JSON.parse(s.body).peerId === victimId) as SignedStatement
    assert.ok(old !== undefined, 'the victim\'s statement')

    await victim.stop()
    nodes.splice(nodes.indexOf(victim), 1)
    await waitFor(() => listed(observer, victimId)?.state === 'left', 'the victim left', 15_000)
    // Reaped after the interval (checked every quarter of it).
    await waitFor(() => listed(observer, victimId) === undefined, 'the victim reaped', 4 * REAP_MS + 10_000)

    // Replayed, by gossip and by a full exchange: refused, not listed again.
    const reaped = observer.stats.get('gossip_rejected_total', { reason: 'member_reaped' })
    await rpcOf(relay).request(observer.peerId, MemberGossip, { statements: [old] })
    await rpcOf(relay).request(observer.peerId, MemberSync, { statements: [old] })
    assert.ok(observer.stats.get('gossip_rejected_total', { reason: 'member_reaped' }) >= reaped + 2, 'the replays refused as a reaped member\'s')
    await sleep(500)
    assert.equal(listed(observer, victimId), undefined, 'a replay brought the reaped agent back')

    // Restarted with the same identity: listed again, alive.
    await start('victim', { privateKey: victimKey })
    await waitFor(() => listed(observer, victimId)?.state === 'alive', 'the restarted victim listed again', 15_000)
  })

  it('a flood of statements of made-up peer ids fills no table past the cap; a new neighbour is still taken', async () => {
    const [observer, flooder] = nodes
    const keys = await Promise.all(Array.from({ length: 100 }, async () => await generateKeyPair('Ed25519')))
    const seq = Date.now()
    const statements = keys.map((k, i) => {
      const body = JSON.stringify({ peerId: peerIdFromPrivateKey(k).toString(), name: `ghost${i}`, roles: ['coordinator'], eligible: true, incarnation: 1, suspects: [], seq: seq + i })
      return { body, sig: statementKeys(k, mesh).sign(body) }
    })
    const overCap = observer.stats.get('gossip_rejected_total', { reason: 'member_over_cap' })
    await rpcOf(flooder).request(observer.peerId, MemberSync, { statements })
    assert.ok(observer.stats.get('gossip_rejected_total', { reason: 'member_over_cap' }) > overCap, 'statements over the cap refused and counted')
    const ghosts = new Set(statements.map(s => JSON.parse(s.body).peerId))
    await sleep(1_000) // a few gossip rounds: what the observer took, it passed on
    assert.ok(observer.members().some(m => ghosts.has(m.peerId)), 'the observer took made-up members up to its cap')
    for (const n of nodes) assert.ok(n.members().length <= MAX_MEMBERS, `${n.name} holds ${n.members().length} members, over the cap`)
    // A new agent connecting to the observer is taken although the table is full.
    const late = await start('late')
    await waitFor(() => listed(observer, late.peerId)?.state === 'alive', 'the new neighbour listed', 15_000)
  })
})

describe('/members shows the roles a closed mesh\'s credential grants', () => {
  const nodes: AgentNode[] = []
  after(async () => { await stopAll(nodes) })

  it('an agent claiming coordinator without the credential granting it is not listed as a coordinator', async () => {
    await withTempDir(async (dir) => {
      const mesh = uniqueMesh()
      const owner = await newOwnerKey()
      // The claimant's card and statements say coordinator; its credential grants agent only.
      const grants = [['agent', 'coordinator'], ['agent']]
      const claims = [['agent', 'coordinator'], ['agent', 'coordinator']]
      for (let i = 0; i < 2; i++) {
        const key = await generateKeyPair('Ed25519')
        const now = Date.now()
        const cred = await issueCredential(owner, { mesh, subject: peerIdFromPrivateKey(key).toString(), roles: grants[i], capabilities: ['cap' + String(i)], issuedAt: now, expiresAt: now + 86_400_000 })
        const file = join(dir, `cred${i}.json`)
        await writeFile(file, JSON.stringify(cred))
        const node = await createAgentNode(nodeOptions(mesh, {
          preset: 'local',
          name: i === 0 ? 'watcher' : 'claimant',
          privateKey: key,
          roles: claims[i],
          security: { mode: 'closed', credential: file },
          ...(i === 0 ? { debug: '127.0.0.1:0' } : { bootstrap: [nodes[0].addresses()[0]] })
        }))
        await node.start()
        nodes.push(node)
      }
      const [watcher, claimant] = nodes
      await waitFor(() => listed(watcher, claimant.peerId)?.state === 'alive', 'the claimant listed', 15_000)
      // Listed from its card exchange (which carries the credential's roles) first; its claim
      // comes with its own statement, a probe or a gossip round later.
      await waitFor(() => listed(watcher, claimant.peerId)?.claimed !== undefined, 'the claimant\'s statement heard', 15_000)
      const res = await fetch(`${watcher.debugUrl as string}/members`)
      assert.equal(res.status, 200)
      const members = await res.json() as Member[]
      const m = members.find(x => x.peerId === claimant.peerId)
      assert.ok(m !== undefined, 'the claimant in /members')
      assert.deepEqual(m.roles, ['agent'], 'roles are the credential\'s')
      assert.ok(!m.roles.includes('coordinator'), 'not listed as a coordinator')
      assert.equal(m.rolesSource, 'credential')
      assert.deepEqual(m.claimed, ['coordinator'], 'the claim shown apart')
      assert.deepEqual(m.capabilities, ['cap1'])
      // One member asked for alone (node.member) is the same entry, credential's grants and claim included.
      const alone = watcher.member(claimant.peerId)
      assert.deepEqual(alone && { ...alone, lastHeard: 0 }, { ...watcher.members().find(x => x.peerId === claimant.peerId), lastHeard: 0 })
      assert.deepEqual(alone?.claimed, ['coordinator'])
      // The live page's map: the claimant's announcement says coordinator; the map shows its credential's roles.
      const announcer = watcher.services.find((x): x is MeshAnnouncer => x instanceof MeshAnnouncer) as MeshAnnouncer
      const onMap = (): { roles: string[] } | undefined => announcer.snapshot().nodes.find(n => n.peerId === claimant.peerId)
      await waitFor(() => onMap() !== undefined, 'the claimant on the mesh map', 20_000)
      // An honest node announces its credential's roles; the claimant announces coordinator itself,
      // dated ahead so that no later announcement of its own replaces it on the map.
      const pubsub = claimant.services.find((x): x is PubSubService => x instanceof PubSubService) as PubSubService
      const claim = { ...(claimant.services.find((x): x is MeshAnnouncer => x instanceof MeshAnnouncer) as MeshAnnouncer).announcement(), roles: ['agent', 'coordinator'], at: Date.now() + 600_000 }
      // The watcher's own subscription to the topic tells when the claim has reached it (the map
      // took it in the same delivery).
      const heard = (watcher.services.find((x): x is PubSubService => x instanceof PubSubService) as PubSubService).subscribe(MESH_TOPIC)
      let claimed = false
      void (async () => { for await (const m of heard) if (m.from === claimant.peerId && m.payload.roles.includes('coordinator')) claimed = true })()
      await pubsub.publish(MESH_TOPIC, claim)
      await waitFor(() => claimed, 'the claim to reach the watcher', 15_000)
      heard.unsubscribe()
      assert.deepEqual(onMap()?.roles, ['agent'], 'the map shows the credential\'s roles')
    })
  })
})
