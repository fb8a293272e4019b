// A model update rolled out to the mesh: a trainer publishes 20 MiB of weights; each agent
// fetches them in chunks from the trainer (or from an agent that already has them), checks the
// SHA-256 announced, applies them, and answers on learning.metrics.
//   node dist/examples/model-rollout.js
import { createHash, randomBytes } from 'node:crypto'
import { createAgentNode, type AgentNode, type LearningMetrics } from 'agentmesh'

export async function main (): Promise<void> {
  const mesh = `rollout-${process.pid}`
  // Open (nodes are closed by default): the agents of one example process trust each other, and
  // credentials would be the longest part of it. A real mesh is closed: README "Security", and
  // examples/local-mesh.ts, which makes its keys. Each node warns that it is open, on stderr.
  const base = { mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'warn' as const, security: { mode: 'open' as const } }
  const trainer = await createAgentNode({ ...base, name: 'trainer' })
  await trainer.start()
  const agents: AgentNode[] = []
  try {
    for (let i = 1; i <= 4; i++) {
      const a = await createAgentNode({ ...base, name: `agent-${i}`, bootstrap: trainer.addresses() })
      // Where a real agent would load the weights into its model.
      a.learning.onModelUpdate('ranker', (u) => {
        const digest = createHash('sha256').update(u.data).digest('hex').slice(0, 12)
        console.log(`${a.name} applied ranker v${u.version}: ${(u.data.byteLength / 2 ** 20).toFixed(0)} MiB, sha256 ${digest}…`)
        return { loaded: 1 }
      })
      await a.start()
      agents.push(a)
    }
    await trainer.joined({ min: agents.length, signal: AbortSignal.timeout(10_000) })
    const answers = trainer.subscribe('learning.metrics')
    // Gossip needs a moment to learn who subscribes: wait until every agent's subscription is known.
    for (let i = 0; i < 100 && !agents.every(a => trainer.topicPeers('learning.model_update').subscribers.includes(a.peerId)); i++) await new Promise(resolve => setTimeout(resolve, 100))

    const weights = randomBytes(20 * 2 ** 20)
    const started = performance.now()
    const update = await trainer.learning.publishModel({ model_id: 'ranker', version: 7, data: weights, metadata: { epoch: 40 } })
    console.log(`trainer announced ranker v${update.version}: ${update.size} bytes, sha256 ${update.sha256.slice(0, 12)}…`)
    let applied = 0
    for await (const m of answers) {
      const a = m.payload as LearningMetrics
      console.log(`trainer heard ${agents.find(x => x.peerId === a.agent)?.name ?? a.agent}: ${a.status} in ${a.duration_ms} ms`)
      if (a.status === 'applied' && ++applied === agents.length) break
    }
    console.log(`rolled out to ${applied}/${agents.length} agents in ${Math.round(performance.now() - started)} ms`)
  } finally {
    await Promise.all(agents.map(async a => { await a.stop() }))
    await trainer.stop()
  }
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
