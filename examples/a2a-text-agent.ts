// An agent that runs the task type "a2a.text", the task a plain-text A2A message becomes at a
// gateway started with gateway.a2aTextTask=a2a.text: it answers the text back after
// A2A_TEXT_RUN_MS (default 1 s; cancelling the task ends it sooner), with the texts sent to the task
// meanwhile (`followUps`: A2A messages carrying the task's id). With a long run and a short
// gateway.a2aBlockingWaitMs it is the agent the A2A TCK expects, whose tasks are still WORKING
// when a blocking SendMessage answers (docs/gateway-graphql-a2a.md, "The A2A TCK"):
//   AGENTMESH_GATEWAY_A2A_TEXT_TASK=a2a.text AGENTMESH_GATEWAY_A2A_BLOCKING_WAIT_MS=1000 \
//     AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT=2 agentmesh start --open --mesh tck --no-mdns \
//     --preset local --gateway 127.0.0.1:8080 --json
//   AGENTMESH_PRESET=local AGENTMESH_MESH=tck AGENTMESH_MDNS=false AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT=2 \
//     A2A_TEXT_RUN_MS=60000 node dist/examples/a2a-text-agent.js --bootstrap <address from the ready line>
// Its configuration may also come from AGENTMESH_* variables, as for any agent.
import { parseArgs } from 'node:util'
import { createAgentNode, loadConfig, type TaskContext } from 'agentmesh'

const TASK_TYPE = 'a2a.text'
const { values } = parseArgs({ options: { name: { type: 'string' }, bootstrap: { type: 'string', multiple: true } } })
const runMs = Number(process.env.A2A_TEXT_RUN_MS ?? '1000')
if (!Number.isInteger(runMs) || runMs < 0) throw new Error(`A2A_TEXT_RUN_MS must be a whole number of milliseconds, not "${process.env.A2A_TEXT_RUN_MS}"`)
const config = await loadConfig({ env: process.env })
const node = await createAgentNode({
  ...config,
  capabilities: [...config.capabilities, `task:${TASK_TYPE}`],
  ...(values.name !== undefined ? { name: values.name } : {}),
  ...(values.bootstrap !== undefined ? { bootstrap: values.bootstrap } : {})
})

node.onTask(TASK_TYPE, async (ctx: TaskContext) => {
  // More text sent to the task while it runs (an A2A message with the task's id): kept, and
  // answered back with the first. The loop ends when the attempt does.
  const followUps: string[] = []
  void (async () => {
    for await (const m of ctx.messages) {
      const input = m.input as { text?: unknown } | undefined
      if (typeof input?.text === 'string') followUps.push(input.text)
    }
  })()
  // The work: waiting, so a cancel (or pause) that comes meanwhile finds the task running.
  await new Promise((resolve, reject) => {
    const t = setTimeout(resolve, runMs)
    ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason) }, { once: true })
  })
  return { text: ctx.task.metadata.text, followUps }
})

const stop = (): void => { void node.stop().then(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
await node.start()
console.log(JSON.stringify({ event: 'ready', name: node.name, peerId: node.peerId, addresses: node.addresses() }))
