// The connection gate (issue 13): caps on inbound connections per host and in total, revoked
// peers refused at the connection, a cool-down for peers that flood negotiation, and the
// admission decisions counted.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { multiaddr } from '@multiformats/multiaddr'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey, peerIdFromString } from '@libp2p/peer-id'
import type { Connection } from '@libp2p/interface'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../../surfaces/index.js'
import { ConnectionGate, type RefusalReason } from '../../node/connection-gate.js'
import { StreamGuard } from '../../protocols/negotiation/stream-guard.js'
import { issueCredential, newOwnerKey } from '../../protocols/admission/credential.js'
import { signRevocations } from '../../protocols/admission/revocation.js'
import type { AuditEvent } from '../../protocols/core/audit.js'
import { nodeOptions, sleep, stopAll, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const PEERS = ['12D3KooWK1CnnJqu9B6ADomEiVi4wejxjoFQ367AN3Kc48LV3YEB', '12D3KooWPcGSsWHfqCH53ViMVTfQ4Hi3V8bUFqjiXiomQwhyTvKE']

function conn (peer: string, host: string): Connection {
  return { direction: 'inbound', status: 'open', remotePeer: peerIdFromString(peer), remoteAddr: multiaddr(`/ip4/${host}/tcp/4001`) } as unknown as Connection
}

test('connection gate: caps per host (trusted hosts apart) and in total before Noise, per peer after; cool-downs and rules; every refusal counted', { timeout: 3 * 60_000 }, () => {
  const open: Connection[] = []
  const refused: RefusalReason[] = []
  const hungUp: string[] = []
  const gate = new ConnectionGate({ maxPerPeer: 4, maxPerHost: 2, trustedHosts: ['10.0.0.9'], maxInbound: 5 }, () => open, p => { hungUp.push(p) })
  gate.onRefused = r => { refused.push(r) }
  const from = (host: string): ReturnType<typeof multiaddr> => multiaddr(`/ip4/${host}/tcp/5000`)
  open.push(conn(PEERS[0], '10.0.0.1'))
  assert.equal(gate.denyInboundConnection(from('10.0.0.1')), false)
  open.push(conn(PEERS[1], '10.0.0.1'))
  assert.equal(gate.denyInboundConnection(from('10.0.0.1')), true, 'a third from one host: refused')
  assert.equal(gate.denyInboundConnection(from('10.0.0.2')), false, 'another host has places of its own')
  for (let i = 0; i < 3; i++) open.push(conn(PEERS[0], '10.0.0.9'))
  assert.equal(open.length, 5)
  assert.equal(gate.denyInboundConnection(from('10.0.0.3')), true, 'five open in all: refused')
  open.splice(2, 1)
  assert.equal(gate.denyInboundConnection(from('10.0.0.9')), false, 'a trusted host is not capped per host')
  assert.deepEqual(refused, ['per_host', 'inbound'])
  // After Noise: rules and cool-downs, also for this node's own dials.
  let revoked = false
  gate.rule(peer => revoked && peer === PEERS[1] ? 'revoked' : undefined)
  assert.equal(gate.denyInboundEncrypted(peerIdFromString(PEERS[1])), false)
  revoked = true
  assert.equal(gate.denyInboundEncrypted(peerIdFromString(PEERS[1])), true)
  assert.equal(gate.denyOutbound(peerIdFromString(PEERS[1])), true)
  const now = Date.now()
  gate.coolDown(PEERS[0], 1_000, now)
  assert.deepEqual(hungUp, [PEERS[0]], 'a peer cooled down is hung up on')
  assert.equal(gate.refuses(PEERS[0], now + 999), 'cooldown')
  assert.equal(gate.refuses(PEERS[0], now + 1_000), undefined, 'and let in again after it')
  assert.deepEqual(refused, ['per_host', 'inbound', 'revoked', 'revoked'])
})

test('stream guard: a peer refused in every second for floodSeconds is cooled down, once, with its audit and count', { timeout: 3 * 60_000 }, () => {
  const cooled: string[] = []
  const counted: string[] = []
  const events: AuditEvent[] = []
  const guard = new StreamGuard({
    protocol: 'negotiation',
    limits: { perSec: 5, concurrent: 0, floodSeconds: 2, coolDown: p => { cooled.push(p) } },
    stats: { inc: (name) => { counted.push(name) } },
    audit: { record: e => { events.push(e) } }
  })
  const now = Date.now()
  for (let t = now; t < now + 1_900; t += 20) guard.admit('f', t)
  assert.deepEqual(cooled, [], 'refused for under 2 s: not yet')
  // A gap of over a second ends a run: another peer that pauses is never cooled down.
  for (const t of [now, now + 1_500, now + 3_000]) for (let i = 0; i < 10; i++) guard.admit('p', t)
  assert.deepEqual(cooled, [])
  for (let t = now + 1_900; t < now + 2_200; t += 20) guard.admit('f', t)
  assert.deepEqual(cooled, ['f'])
  assert.equal(counted.filter(n => n === 'stream_flooders_disconnected_total').length, 1)
  assert.deepEqual(events.filter(e => e.kind === 'limit.disconnected').map(e => e.peer), ['f'])
})

test('connections: one host holds at most connections.maxPerHost inbound connections, all hosts at most connections.maxInbound', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const alone: CreateAgentNodeOptions = { connections: { targetPeers: 0 } }
  for (const [caps, reason] of [[{ maxPerHost: 2, trustedHosts: [] as string[] }, 'per_host'], [{ maxPerHost: 0, maxInbound: 2 }, 'inbound']] as const) {
    const victim = await createAgentNode(nodeOptions(mesh, { name: 'victim', connections: { targetPeers: 0, ...caps } }))
    await victim.start()
    const others = await Promise.all(Array.from({ length: 4 }, async (_, i) => await createAgentNode(nodeOptions(mesh, { name: `o${i}`, ...alone }))))
    try {
      for (const o of others) await o.start()
      for (const o of others) {
        const c = await o.libp2p.dial(victim.libp2p.getMultiaddrs()[0]).catch(() => undefined)
        if (c !== undefined) await waitFor(() => c.status === 'open' || c.status === 'closed', 'the connection to settle', 5_000)
      }
      await sleep(300)
      const inbound = victim.libp2p.getConnections().filter(c => c.direction === 'inbound' && c.status === 'open')
      assert.equal(inbound.length, 2, `${reason}: the victim holds ${inbound.length} inbound connections`)
      assert.ok(victim.stats.get('connections_refused_total', { reason }) >= 2)
      assert.match((await victim.stats.exposition()).body, new RegExp(`connections_refused_total\\{reason="${reason}"\\} \\d+`))
    } finally {
      await stopAll([victim, ...others])
    }
  }
})

test('closed mesh: a revoked peer is refused at the connection and not dialled; a flooder of negotiation is cooled down; admission decisions are counted', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const now = Date.now()
    const revocations = join(dir, 'revocations.json')
    const nodes: AgentNode[] = []
    await writeFile(revocations, JSON.stringify(await signRevocations(owner, { mesh, serials: [], subjects: [], issuedAt: now - 1_000 })))
    try {
      for (let i = 0; i < 3; i++) {
        const key = await generateKeyPair('Ed25519')
        const subject = peerIdFromPrivateKey(key).toString()
        const file = join(dir, `cred${i}.json`)
        await writeFile(file, JSON.stringify(await issueCredential(owner, { mesh, subject, roles: ['agent'], capabilities: [], issuedAt: now, expiresAt: now + 86_400_000 })))
        const node = await createAgentNode(nodeOptions(mesh, {
          name: `g${i}`,
          privateKey: key,
          preset: 'local',
          // The first watches the revocation list; it also cools down a peer refused negotiation for 2 s.
          security: { mode: 'closed', credential: file, ...(i === 0 ? { revocations } : {}) },
          ...(i === 0 ? { rpc: { floodSeconds: 2 }, negotiation: { conversationsPerSec: 5, conversationsPerPeer: 2 } } : {}),
          ...(i > 0 ? { bootstrap: [nodes[0].addresses()[0]] } : {})
        }))
        await node.start()
        nodes.push(node)
      }
      const [a, b, c] = nodes
      await waitFor(() => nodes.every(n => n.peers().length === 2), 'the three to admit each other')
      assert.ok(a.stats.get('admission_decisions_total', { result: 'admitted', reason: 'credential' }) >= 2)

      // b floods a with negotiations (5/s and 2 open allowed): refused, then hung up on and refused for the cool-down.
      a.negotiation.onNegotiation<number>('price', async () => { await sleep(100); return { accept: true as const } })
      const run = { stop: false }
      const flood = (async () => {
        while (!run.stop) {
          await Promise.allSettled(Array.from({ length: 4 }, async () => await b.negotiation.negotiate({ peer: a.peerId, subject: 'price', terms: 1, respond: () => ({ accept: true }), deadlineMs: 2_000 })))
          await sleep(20)
        }
      })()
      try {
        await waitFor(() => a.stats.get('stream_flooders_disconnected_total', { peer: b.peerId, protocol: 'negotiation' }) === 1, 'the negotiation flooder to be cooled down', 20_000)
        await waitFor(() => a.libp2p.getConnections(b.libp2p.peerId).length === 0, 'the flooder\'s connections to close')
      } finally {
        run.stop = true
        await flood
      }
      await b.libp2p.dial(a.libp2p.getMultiaddrs()[0]).catch(() => undefined)
      await waitFor(() => a.stats.get('connections_refused_total', { reason: 'cooldown' }) >= 1, 'the flooder\'s redial to be refused')
      // c, which did nothing wrong, still negotiates.
      assert.equal((await c.negotiation.negotiate({ peer: a.peerId, subject: 'price', terms: 3, respond: () => ({ accept: true }), deadlineMs: 5_000 })).terms, 3)

      // The owner revokes c by its peer id, into the file a watches: a expels it, refuses it at the connection, and does not dial it.
      await writeFile(revocations, JSON.stringify(await signRevocations(owner, { mesh, serials: [], subjects: [c.peerId], issuedAt: Date.now() })))
      await waitFor(() => a.libp2p.getConnections(c.libp2p.peerId).length === 0, 'the revoked peer to be disconnected', 15_000)
      assert.equal(a.stats.get('admission_decisions_total', { result: 'expelled', reason: 'revoked' }), 1)
      const refusedBefore = a.stats.get('connections_refused_total', { reason: 'revoked' })
      const redial = await c.libp2p.dial(a.libp2p.getMultiaddrs()[0]).catch(() => undefined)
      await waitFor(() => a.stats.get('connections_refused_total', { reason: 'revoked' }) > refusedBefore, 'the revoked peer\'s redial to be refused by the gater')
      await waitFor(() => redial === undefined || redial.status !== 'open', 'its connection to close', 5_000)
      await assert.rejects(a.libp2p.dial(c.libp2p.peerId), 'a does not dial the revoked peer')
      // Refused at the connection: no card exchange ran, so admission refused nothing more.
      assert.equal(a.stats.get('admission_decisions_total', { result: 'refused', reason: 'revoked' }), 0)
      const body = (await a.stats.exposition()).body
      assert.match(body, /admission_decisions_total\{result="expelled",reason="revoked"\} 1/)
      assert.match(body, /admission_decisions_total\{result="admitted",reason="credential"\} \d+/)
    } finally {
      await stopAll(nodes)
    }
  })
})
