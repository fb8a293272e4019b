/**
 * What docs/security.md claims of a peer the mesh has not admitted, checked from the peer's side
 * (issue 43): gossip it publishes is not delivered, and a negotiation or learning conversation it
 * opens is cut before a byte of it is read, counted and audited. Two such peers: a plain js-libp2p
 * stranger with no credential, inside its admission window (connected, its card exchange not
 * done), and an agent whose peer id the owner revoked, which the gate does not let connect.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile } from 'node:fs/promises'
import { Writable } from 'node:stream'
import { pino } from 'pino'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import type { Stream } from '@libp2p/interface'
import type { AgentNode } from '../../../node/index.js'
import { AuditLog } from '../../../node/audit.js'
import { newOwnerKey } from '../../../protocols/admission/credential.js'
import { signRevocations } from '../../../protocols/admission/revocation.js'
import { encodeBatch, envelopeToJson, makeEnvelope } from '../../../protocols/envelope/index.js'
import { NEGOTIATE_PROTOCOL } from '../../../protocols/negotiation/schemas.js'
import { LEARNING_PROTOCOL } from '../../../protocols/learning/schemas.js'
import { gossipTopic } from '../../../protocols/pubsub/topics.js'
import { closedAgent, sleep, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

/** Writes `bytes` on a new stream of `protocol` and resolves to how it ended: 'reset' when the other side aborted it. */
async function speak (open: () => Promise<Stream>, bytes: Uint8Array): Promise<'reset' | 'open' | 'refused'> {
  let stream: Stream
  try { stream = await open() } catch { return 'refused' }
  let reset = false
  stream.addEventListener('close', (e) => { if ((e as { error?: Error }).error !== undefined || stream.status === 'reset' || stream.status === 'aborted') reset = true })
  try { stream.send(bytes) } catch { return 'reset' }
  await waitFor(() => reset || stream.status !== 'open', `${stream.protocol ?? 'the stream'} to be cut`, 5_000).catch(() => {})
  return reset || stream.status !== 'open' ? 'reset' : 'open'
}

test('gossip from a stranger in its admission window is not delivered, its negotiation and learning streams are cut unread and audited; a revoked agent is kept out at the gate', { timeout: 90_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const coordination = { bootstrapExpect: 2, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
    const grant = { roles: ['agent', 'coordinator'] }
    const revocations = join(dir, 'revoked.json')
    const nodes: AgentNode[] = []
    try {
      // The admission window is long here (5 s), so that what the stranger does happens inside it.
      const security = (name: string): Record<string, unknown> =>
        ({ mode: 'closed', credential: join(dir, `${name}.cred.json`), admissionTimeoutMs: 5_000, revocations })
      // The revoked agent's credential first: the owner's list names its peer id before a1 starts.
      const revokedAgent = await closedAgent(dir, mesh, owner, 'revoked', grant, { coordination: { ...coordination, eligible: false } })
      nodes.push(revokedAgent.node)
      const list = await signRevocations(owner, { mesh, serials: [], subjects: [revokedAgent.node.peerId], issuedAt: Date.now() })
      await writeFile(revocations, JSON.stringify(list))
      const a1 = (await closedAgent(dir, mesh, owner, 'a1', grant, { coordination, security: security('a1') })).node
      nodes.push(a1)
      const a2 = (await closedAgent(dir, mesh, owner, 'a2', grant, { coordination, bootstrapFrom: a1, security: security('a2') })).node
      nodes.push(a2)
      await waitFor(() => a1.peers().length === 1 && a2.peers().length === 1, 'the two agents to admit each other', 20_000)
      const heard: unknown[] = []
      for (const n of [a1, a2]) {
        const sub = n.subscribe('news')
        void (async () => { for await (const m of sub) heard.push(m.payload) })()
      }
      const audit = a1.services.find(s => s instanceof AuditLog) as AuditLog

      // The stranger: subscribed to the topic, publishing to it, opening both conversations.
      const stranger = await createLibp2p({
        addresses: { listen: [] },
        transports: [tcp()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true, floodPublish: true }) }
      })
      try {
        const topic = gossipTopic(mesh, 'news')
        stranger.services.pubsub.subscribe(topic)
        await stranger.start()
        const target = multiaddr(a1.addresses().find(a => !a.includes('/ws')) as string)
        await stranger.dial(target)
        const peer = a1.libp2p.peerId
        const batch = (n: number): Uint8Array => encodeBatch([envelopeToJson(makeEnvelope({
          source: stranger.peerId.toString(), destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: { from: 'stranger', n }
        }))])
        // Published until a1 has the stranger's subscription and so the message reaches its pubsub.
        const before = a1.stats.get('gossip_rejected_total', { reason: 'not_yet_admitted' })
        let n = 0
        while (a1.stats.get('gossip_rejected_total', { reason: 'not_yet_admitted' }) === before && n < 40) {
          await stranger.services.pubsub.publish(topic, batch(n++)).catch(() => {})
          await sleep(100)
        }
        assert.ok(a1.stats.get('gossip_rejected_total', { reason: 'not_yet_admitted' }) > before, 'the stranger\'s gossip reached a1 and was held back')
        assert.ok(a1.peers().every(p => p.peerId !== stranger.peerId.toString()), 'the stranger is not admitted')
        const cfp = new TextEncoder().encode('{"type":"cfp","negotiation_id":"n1","task":{}}\n')
        assert.equal(await speak(async () => await stranger.dialProtocol(peer, NEGOTIATE_PROTOCOL), cfp), 'reset')
        assert.equal(await speak(async () => await stranger.dialProtocol(peer, LEARNING_PROTOCOL), cfp), 'reset')
        for (const protocol of ['negotiation', 'learning']) {
          assert.equal(a1.stats.get('streams_aborted_total', { protocol, reason: 'not_admitted' }), 1, `${protocol} streams cut`)
          // (Two refusals of one peer within a second: the second is written when the second ends.)
          const audited = (): boolean => audit.recent({ limit: 1_000 }).some(e => e.kind === 'admission.refused' && e.code === 'SEC001' &&
            e.peer === stranger.peerId.toString() && e.detail?.protocol === protocol)
          await waitFor(audited, `the ${protocol} conversation audited`, 5_000)
        }
      } finally {
        await stranger.stop()
      }

      // The revoked agent: refused at a1's gate (its peer id is on the owner's list), so its
      // publishes reach no agent; it is kept out, not given an admission window.
      const revoked = revokedAgent.node
      const gateBefore = a1.stats.get('connections_refused_total')
      await revoked.dial(a1.addresses()[0]).catch(() => {})
      revoked.subscribe('news')
      for (let i = 0; i < 10; i++) {
        await revoked.publish('news', { from: 'revoked', n: i }).catch(() => {})
        await sleep(100)
      }
      assert.ok(a1.stats.get('connections_refused_total') > gateBefore, 'the revoked agent\'s connection refused at the gate')
      assert.ok(!a1.peers().some(p => p.peerId === revoked.peerId), 'the revoked agent is not admitted')
      assert.ok(!a1.libp2p.getConnections().some(c => c.remotePeer.toString() === revoked.peerId), 'nor connected')

      // The control: the agents' own news is delivered, on the same topic, meanwhile.
      await a2.publish('news', { from: 'a2' })
      await waitFor(() => heard.some(p => (p as { from?: string }).from === 'a2'), 'a2\'s own news to be heard', 10_000)
      await sleep(1_000)
      assert.deepEqual(heard.filter(p => (p as { from?: string }).from !== 'a2'), [], 'nothing from the stranger or the revoked agent is delivered')
    } finally {
      await stopAll(nodes)
    }
  })
})

test('a refused peer that comes back again and again (a trusted host: no cool-down) is logged once a minute, with the count', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const lines: Array<{ msg?: string, peer?: string, refusals?: number }> = []
    const sink = new Writable({ write (chunk, _enc, done) { for (const l of String(chunk).split('\n')) if (l !== '') lines.push(JSON.parse(l)); done() } })
    const security = { mode: 'closed' as const, credential: join(dir, 'a1.cred.json'), admissionTimeoutMs: 300 }
    const agent = (await closedAgent(dir, mesh, owner, 'a1', { roles: ['agent'] }, { logger: pino({ level: 'info' }, sink), security })).node
    const stranger = await createLibp2p({
      addresses: { listen: [] }, transports: [tcp()], connectionEncrypters: [noise()], streamMuxers: [yamux()], services: { identify: identify() }
    })
    try {
      await stranger.start()
      const target = multiaddr(agent.addresses()[0])
      const refused = (): number => agent.stats.get('admission_decisions_total', { result: 'refused' })
      for (let i = 0; i < 5; i++) {
        const before = refused()
        await stranger.dial(target).catch(() => {})
        await waitFor(() => refused() > before && stranger.getConnections().length === 0, `refusal ${i + 1} and the hang-up`, 10_000)
      }
      const logged = lines.filter(l => l.msg === 'peer not admitted: disconnecting' && l.peer === stranger.peerId.toString())
      assert.equal(refused(), 5, 'five admission windows, five refusals (loopback is trusted: no cool-down)')
      assert.equal(logged.length, 1, `one line for five refusals: ${JSON.stringify(logged)}`)
    } finally {
      await stranger.stop()
      await stopAll([agent])
    }
  })
})
