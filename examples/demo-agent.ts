// One agent of the local demo mesh (examples/local-mesh.ts starts five of these, each its own
// process). It answers "square" requests, broadcasts its status every few seconds, asks a random
// peer to square a number, runs "demo.sum" tasks, and prints what it sees (joins, leaves, being
// elected coordinator). Every 10 s the first agent submits a pipeline of three dependent tasks
// (two sums, then the sum of their results) and prints where each ran and the result.
// Options come as AGENTMESH_* variables.
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
// A task takes a second in four steps, reporting progress; its inputs are the results of the
// tasks it depends on.
node.onTask('demo.sum', async (ctx) => {
  const own = (ctx.task.metadata.numbers as number[] | undefined) ?? []
  const fromDeps = Object.values(ctx.inputs).map(r => (r as { sum: number }).sum)
  for (let step = 1; step <= 4; step++) {
    await new Promise(resolve => setTimeout(resolve, 250))
    if (ctx.signal.aborted) throw ctx.signal.reason
    ctx.progress(step / 4)
  }
  return { sum: [...own, ...fromDeps].reduce((a, b) => a + b, 0), by: node.name }
})
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

let round = 0
let pipeline: ReturnType<typeof setTimeout> | undefined
const submitPipeline = (): void => {
  pipeline = setTimeout(submitPipeline, 10_000)
  void (async () => {
    const r = ++round
    const t0 = performance.now()
    try {
      const [a, b, total] = await node.submitTasks([
        { task_id: `${node.name}-r${r}-a`, type: 'demo.sum', metadata: { numbers: [r, 1] } },
        { task_id: `${node.name}-r${r}-b`, type: 'demo.sum', metadata: { numbers: [r, 2] } },
        { task_id: `${node.name}-r${r}-total`, type: 'demo.sum', dependencies: [`${node.name}-r${r}-a`, `${node.name}-r${r}-b`] }
      ])
      const results = await Promise.all([a, b, total].map(async h => await h.result() as { sum: number, by: string }))
      const took = ((performance.now() - t0) / 1000).toFixed(1)
      console.log(`pipeline ${r}: (${r}+1) on ${results[0].by}, (${r}+2) on ${results[1].by}, total ${results[2].sum} on ${results[2].by} (${took} s)`)
    } catch (err) {
      console.log(`pipeline ${r}: ${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
    }
  })()
}
// The first pipeline once the mesh has formed, then one every 10 s.
if (process.env.DEMO_SUBMITS === '1') pipeline = setTimeout(submitPipeline, 4_000)

const stop = (): void => { clearInterval(tick); clearTimeout(pipeline); node.stop().then(() => process.exit(0), () => process.exit(1)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
