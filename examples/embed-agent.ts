// The README's embedding example (calc.ts) in one process: alice adds numbers for the mesh, bob
// finds an agent that can, asks it, and publishes an alert that alice hears.
// Run: node dist/examples/embed-agent.js
import { z } from 'zod'
import { createAgentNode, defineCommand, defineTopic, type CreateAgentNodeOptions } from 'agentmesh'

// A protocol is a pair of zod schemas; TypeScript takes the payload types from them.
const Add = defineCommand('math.add', {
  request: z.object({ a: z.number(), b: z.number() }),
  response: z.object({ sum: z.number() })
})
const Alerts = defineTopic('alerts', z.object({ level: z.enum(['low', 'high']) }))

export async function main (): Promise<void> {
  const mesh = `embed-${process.pid}`
  // Two agents in one process here; in real use each is its own process (or host).
  // logLevel 'info' (the default) would also log joins and leaves as JSON on stderr.
  // Open (nodes are closed by default): the agents of one example process trust each other, and
  // credentials would be the longest part of it. A real mesh is closed: README "Security", and
  // examples/local-mesh.ts, which makes its keys. Each node warns that it is open, on stderr.
  const options: CreateAgentNodeOptions = { mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'warn', security: { mode: 'open' } }
  const alice = await createAgentNode({ ...options, name: 'alice', capabilities: ['math'] })
  alice.handle(Add, ({ a, b }) => ({ sum: a + b })) // a and b are numbers, checked on arrival
  await alice.start()
  const alerts = alice.subscribe(Alerts)
  const bob = await createAgentNode({ ...options, name: 'bob', bootstrap: alice.addresses() })
  await bob.start()

  // start() returns before any peer is found: bob waits for an agent that can add.
  const peer = await bob.waitForAgent({ capability: 'math' }, { signal: AbortSignal.timeout(10_000) })
  const { sum } = await bob.request(peer.peerId, Add, { a: 2, b: 3 }, { signal: AbortSignal.timeout(5_000) })
  console.log(`bob asked ${peer.name}: 2 + 3 = ${sum}`)

  // Who subscribes spreads by gossip a moment after peers connect: publish once alice listens.
  await bob.waitForSubscribers(Alerts, { signal: AbortSignal.timeout(10_000) })
  await bob.publish(Alerts, { level: 'high' })
  // eslint-disable-next-line no-unreachable-loop -- the first alert is all this example waits for
  for await (const msg of alerts) {
    console.log(`alice heard alert ${msg.payload.level} from ${alice.peers().find(p => p.peerId === msg.from)?.name ?? msg.from}`)
    break
  }
  await bob.stop()
  await alice.stop()
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
