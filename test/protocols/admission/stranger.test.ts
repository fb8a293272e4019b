/**
 * Not one byte of the mesh's traffic to a stranger (issue 43). A plain js-libp2p node with no
 * credential dials an agent of a closed mesh again and again (each time it is dropped for showing
 * none, it comes straight back: a fresh admission window), over TCP and over WebSockets; it
 * subscribes to every gossip topic any agent subscribes to, and it speaks the agents' direct
 * fan-out protocol, so that whatever either path would send it, it would take. Meanwhile the
 * agents publish to a topic both subscribe to, and the mesh's own announcements flow. It must
 * receive no message by gossip and no byte on the fan-out protocol, while the second agent
 * receives the publisher's messages (the control: the traffic it could have read is there).
 * Without the gates it received 55 messages by gossip and 3,209 fan-out bytes in such a run.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createLibp2p, type Libp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { gossipsub, type GossipSub } from '@libp2p/gossipsub'
import { multiaddr } from '@multiformats/multiaddr'
import type { PrivateKey } from '@libp2p/interface'
import type { AgentNode } from '../../../node/index.js'
import { newOwnerKey } from '../../../protocols/admission/credential.js'
import { FANOUT_PROTOCOL } from '../../../protocols/pubsub/fanout-wire.js'
import { gossipTopic } from '../../../protocols/pubsub/topics.js'
import { closedAgent, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

/** How long the stranger keeps dialling: long enough for many admission windows (1.5 s each here). */
const ATTACK_MS = 20_000

/** An agent of the closed mesh listening on TCP and WebSockets. */
async function agent (dir: string, mesh: string, owner: PrivateKey, name: string, bootstrap?: AgentNode): Promise<AgentNode> {
  const listen = ['/ip4/127.0.0.1/tcp/0', '/ip4/127.0.0.1/tcp/0/ws']
  const coordination = { bootstrapExpect: 2, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 }
  // Loopback is trusted by default, and a peer on a trusted host is not cooled down: here it is not.
  const connections = { trustedHosts: [] }
  const extra = { listen, coordination, connections, ...(bootstrap !== undefined ? { bootstrapFrom: bootstrap } : {}) }
  return (await closedAgent(dir, mesh, owner, name, { roles: ['agent', 'coordinator'] }, extra)).node
}

test('closed mesh: a stranger dialling again and again over TCP and WebSockets, subscribed to every topic, receives no message and no fan-out byte', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const a1 = await agent(dir, mesh, owner, 'a1')
    const a2 = await agent(dir, mesh, owner, 'a2', a1)
    let stranger: Libp2p<{ identify: ReturnType<ReturnType<typeof identify>>, pubsub: GossipSub }> | undefined
    try {
      await waitFor(() => a1.peers().length === 1 && a2.peers().length === 1, 'the two agents to admit each other', 30_000)
      const heard: unknown[] = []
      const sub = a2.subscribe('news')
      void (async () => { for await (const m of sub) heard.push(m.payload) })()
      a1.subscribe('news')

      stranger = await createLibp2p({
        addresses: { listen: [] },
        transports: [tcp(), webSockets()],
        connectionEncrypters: [noise()],
        streamMuxers: [yamux()],
        services: { identify: identify(), pubsub: gossipsub({ allowPublishToZeroTopicPeers: true }) }
      })
      const s = stranger
      let gossiped = 0
      let fanoutBytes = 0
      s.services.pubsub.addEventListener('message', () => { gossiped++ })
      // Every topic an agent says it subscribes to, and the ones it would carry anyway.
      for (const t of ['news', 'monitoring.metrics', 'agentmesh.mesh', 'agentmesh.coordinator']) s.services.pubsub.subscribe(gossipTopic(mesh, t))
      s.services.pubsub.addEventListener('subscription-change', (e) => {
        for (const { topic } of e.detail.subscriptions) if (!s.services.pubsub.getTopics().includes(topic)) s.services.pubsub.subscribe(topic)
      })
      await s.handle(FANOUT_PROTOCOL, async (stream) => { for await (const chunk of stream) fanoutBytes += chunk.byteLength }, { runOnLimitedConnection: true })
      await s.start()

      const targets = [a1.addresses().find(a => !a.includes('/ws')), a1.addresses().find(a => a.includes('/ws'))] as string[]
      assert.ok(targets.every(t => t !== undefined), `a1 listens on TCP and WebSockets: ${a1.addresses().join(' ')}`)
      let published = 0
      let dials = 0
      let connectedMs = 0
      const end = Date.now() + ATTACK_MS
      while (Date.now() < end) {
        const target = targets[dials++ % 2]
        const opened = Date.now()
        try {
          await s.dial(multiaddr(target), { signal: AbortSignal.timeout(5_000) })
          // Held until a1 drops it (no credential shown), publishing meanwhile.
          while (s.getConnections().length > 0 && Date.now() < end) {
            await a1.publish('news', { n: published++ })
            await new Promise(resolve => setTimeout(resolve, 100))
          }
        } catch {
          await new Promise(resolve => setTimeout(resolve, 100))
        }
        connectedMs += Date.now() - opened
      }
      await waitFor(() => heard.length > 0, 'the agent to hear the news (the traffic was there to read)', 10_000)
      console.log(`stranger: ${dials} dials over TCP and WebSockets, ${Math.round(connectedMs / 1000)} s connected, ${published} messages published meanwhile, ${heard.length} heard by a2; stranger received ${gossiped} by gossip, ${fanoutBytes} fan-out bytes`)
      assert.ok(dials >= 4, `the stranger came back after each drop (${dials} dials)`)
      assert.ok(published >= 20, `messages were published while it was connected (${published})`)
      assert.equal(gossiped, 0, 'messages the stranger received by gossip')
      assert.equal(fanoutBytes, 0, 'bytes the stranger received on the fan-out protocol')
      // Refused, it is kept out for a growing while (2, 4, 8 s... by peer id; its host is loopback,
      // trusted): a few admission windows in 20 s, not one every 1.5 s as before, the rest refused at the gate.
      const windows = a1.stats.get('admission_decisions_total', { result: 'refused', reason: 'timeout' })
      const atGate = a1.stats.get('connections_refused_total', { reason: 'cooldown' })
      console.log(`stranger: ${windows} admission windows on a1, ${atGate} connections refused at its gate in a cool-down`)
      assert.ok(windows >= 2 && windows <= 6, `admission windows the stranger got: ${windows}`)
      assert.ok(atGate >= 1, `connections refused in the cool-down: ${atGate}`)
    } finally {
      await stranger?.stop()
      await stopAll([a2, a1])
    }
  })
})
