// The smallest agent embedded in a process: it joins a mesh, answers a typed command, publishes
// and receives an event, and calls a peer. Run: node dist/examples/embed-agent.js
import { z } from 'zod'
import { createAgentNode, defineCommand, defineTopic } from 'agentmesh'

// A protocol is a pair of zod schemas; TypeScript takes the payload types from them.
const Add = defineCommand('math.add', {
  request: z.object({ a: z.number(), b: z.number() }),
  response: z.object({ sum: z.number() })
})
const Greetings = defineTopic('greetings', z.object({ text: z.string() }))

export async function main (): Promise<void> {
  const mesh = `embed-${process.pid}`
  // Two agents in one process here; in real use each is its own process (or host).
  // logLevel 'info' (the default) would also log joins and leaves as JSON on stderr.
  const alice = await createAgentNode({ name: 'alice', mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'warn' })
  await alice.start()
  const bob = await createAgentNode({ name: 'bob', mesh, mdns: false, listen: ['/ip4/127.0.0.1/tcp/0'], bootstrap: alice.addresses(), logLevel: 'warn' })
  await bob.start()

  alice.handle(Add, ({ a, b }) => ({ sum: a + b })) // a and b are numbers, checked on arrival
  const greetings = alice.subscribe(Greetings)

  await new Promise<void>(resolve => { bob.addEventListener('peer:join', () => { resolve() }, { once: true }) })
  const { sum } = await bob.request(alice.peerId, Add, { a: 2, b: 3 }, { signal: AbortSignal.timeout(5_000) })
  console.log(`bob asked alice: 2 + 3 = ${sum}`)

  // Gossip needs a moment to learn who subscribes; publish until alice hears it.
  const timer = setInterval(() => { void bob.publish(Greetings, { text: 'hello from bob' }) }, 200)
  // eslint-disable-next-line no-unreachable-loop -- the first greeting is all this example waits for
  for await (const msg of greetings) {
    console.log(`alice heard on ${msg.topic}: "${msg.payload.text}" from ${msg.from === bob.peerId ? 'bob' : msg.from}`)
    break
  }
  clearInterval(timer)
  await bob.stop()
  await alice.stop()
}

if (import.meta.url === `file://${process.argv[1]}`) await main()
