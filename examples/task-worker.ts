// An agent embedded in a process that executes tasks of one type ("step"): it joins the mesh,
// takes the steps its coordinator gives it, reports progress, and hands its result on to the
// steps that depend on it. Run several of them, then submit work (examples/pipeline.ts does).
//   node dist/examples/task-worker.js --name w1 --bootstrap <multiaddr of any agent>
// Its configuration may also come from AGENTMESH_* variables, as for any agent.
import { parseArgs } from 'node:util'
import { createAgentNode, loadConfig, type TaskContext } from 'agentmesh'

const { values } = parseArgs({ options: { name: { type: 'string' }, bootstrap: { type: 'string', multiple: true } } })
const config = await loadConfig({ env: process.env })
const node = await createAgentNode({
  ...config,
  ...(values.name !== undefined ? { name: values.name } : {}),
  ...(values.bootstrap !== undefined ? { bootstrap: values.bootstrap } : {})
})

node.onTask('step', async (ctx: TaskContext) => {
  const op = String(ctx.task.metadata.op)
  const inputs = Object.values(ctx.inputs) as number[][]
  // A little work in ten slices, so progress and cancellation have somewhere to happen.
  for (let i = 1; i <= 10; i++) {
    await new Promise((resolve, reject) => {
      const t = setTimeout(resolve, 30)
      ctx.signal.addEventListener('abort', () => { clearTimeout(t); reject(ctx.signal.reason) }, { once: true })
    })
    ctx.progress(i / 10, { slice: i })
  }
  const flat = inputs.flat()
  const result = op === 'fetch' ? [1, 2, 3, 4, 5, 6]
    : op === 'square' ? flat.map(x => x * x)
      : op === 'keep-even' ? flat.filter(x => x % 2 === 0)
        : op === 'sum' ? [flat.reduce((a, b) => a + b, 0)]
          : (() => { throw new Error(`unknown op ${op}`) })()
  console.log(`${node.name} ran ${ctx.taskId} (${op}) -> ${JSON.stringify(result)}`)
  return result
})

const stop = (): void => { void node.stop().then(() => process.exit(0)) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
await node.start()
console.log(JSON.stringify({ event: 'ready', name: node.name, peerId: node.peerId, addresses: node.addresses() }))
