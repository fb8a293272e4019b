// One agent of the local demo mesh (examples/local-mesh.ts starts five of these, each its own
// process). It answers "square" requests, broadcasts its status every few seconds, asks a random
// peer to square a number, and prints what it sees (joins, leaves, being elected coordinator). Options come as AGENTMESH_* variables.
import { z } from 'zod'
import { createAgentNode, defineCommand, defineTopic, loadConfig } from 'agentmesh'

const Square = defineCommand('demo.square', {
  request: z.object({ n: z.number() }),
  response: z.object({ square: z.number(), by: z.string() })
})
const Status = defineTopic('demo.status', z.object({ name: z.string(), peers: z.number(), served: z.number() }))

const config = await loadConfig({ env: process.env })
const node = await createAgentNode(config)
let served = 0
node.handle(Square, ({ n }) => { served++; return { square: n * n, by: node.name } })
node.addEventListener('peer:join', (e) => { console.log(`sees ${e.detail.name} join`) })
node.addEventListener('peer:leave', (e) => { console.log(`sees ${e.detail.name} leave`) })
// The agents elect a coordinator among themselves; the one elected says so.
node.addEventListener('coordinator:change', (e) => { if (e.detail.self) console.log(`elected coordinator (term ${e.detail.term})`) })
await node.start()
console.log(JSON.stringify({ event: 'ready', name: node.name, peerId: node.peerId, addresses: node.addresses(), debug: node.debugUrl }))

void (async () => {
  for await (const msg of node.subscribe(Status)) {
    if (msg.from !== node.peerId) console.log(`heard ${msg.payload.name}: ${msg.payload.peers} peers, served ${msg.payload.served}`)
  }
})()

const tick = setInterval(() => {
  void (async () => {
    await node.publish(Status, { name: node.name, peers: node.peers().length, served })
    const peers = node.peers()
    if (peers.length === 0) return
    const peer = peers[Math.floor(Math.random() * peers.length)]
    const n = Math.floor(Math.random() * 100)
    const t0 = performance.now()
    try {
      const r = await node.request(peer.peerId, Square, { n }, { timeoutMs: 2_000 })
      console.log(`asked ${r.by}: ${n}² = ${r.square} (${(performance.now() - t0).toFixed(1)} ms)`)
    } catch (err) {
      console.log(`asked ${peer.name}: failed with ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
    }
  })()
}, 2_000 + Math.floor(Math.random() * 1_000))

const stop = (): void => { clearInterval(tick); node.stop().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
