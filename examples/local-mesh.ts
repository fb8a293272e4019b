// The README's first command: a small local mesh you can watch. Starts N agents, each its own
// process, on 127.0.0.1; the first is everyone's bootstrap peer, and peer exchange connects the
// rest to each other. Prints each agent's output with its name and the debug endpoint URLs.
//   node dist/examples/local-mesh.js [--agents 5] [--duration SECONDS]
import { spawn, type ChildProcess } from 'node:child_process'
import { relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: { agents: { type: 'string', default: '5' }, duration: { type: 'string' }, mesh: { type: 'string', default: `demo-${process.pid}` } }
})
const count = Number(values.agents)
const agentScript = fileURLToPath(new URL('./demo-agent.js', import.meta.url))
// This checkout's CLI. Not `npx agentmesh`: in the repository npx would not find it (npx runs the
// commands of installed packages) and would fetch whatever the registry calls agentmesh instead.
const cli = `node ${relative(process.cwd(), fileURLToPath(new URL('../node/cli/main.js', import.meta.url)))}`
const children: ChildProcess[] = []
const colors = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94]

interface Ready { name: string, peerId: string, addresses: string[], debug: string }

function startAgent (i: number, bootstrap: string | undefined): Promise<Ready> {
  const name = `agent-${i + 1}`
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_'))),
    ...(process.env.AGENTMESH_LOG_LEVEL !== undefined ? { AGENTMESH_LOG_LEVEL: process.env.AGENTMESH_LOG_LEVEL } : {}),
    AGENTMESH_NAME: name,
    AGENTMESH_MESH: values.mesh,
    AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
    AGENTMESH_DEBUG: '127.0.0.1:0',
    AGENTMESH_MDNS: 'false',
    // The agents print what they do; their JSON logs (stderr) only for warnings here.
    AGENTMESH_LOG_LEVEL: process.env.AGENTMESH_LOG_LEVEL ?? 'warn',
    AGENTMESH_ROLES: i === 0 ? 'bootstrap,agent' : 'agent',
    // The first agent also submits a small pipeline of tasks every 10 s.
    ...(i === 0 ? { DEMO_SUBMITS: '1' } : {}),
    ...(bootstrap !== undefined ? { AGENTMESH_BOOTSTRAP: bootstrap } : {})
  }
  const child = spawn(process.execPath, [agentScript], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  children.push(child)
  const tag = process.stdout.isTTY ? `\x1b[${colors[i % colors.length]}m${name.padEnd(8)}\x1b[0m` : name.padEnd(8)
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => { reject(new Error(`${name} exited with ${code}`)) })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) { resolve(JSON.parse(line) as Ready); return }
      console.log(`${tag} ${line}`)
    })
  })
}

function stopAll (): void {
  for (const c of children) if (c.exitCode === null) c.kill('SIGTERM')
}
process.on('SIGINT', () => { stopAll(); setTimeout(() => process.exit(0), 1_500).unref() })
process.on('SIGTERM', () => { stopAll(); setTimeout(() => process.exit(0), 1_500).unref() })

try {
  const first = await startAgent(0, undefined)
  const rest = await Promise.all(Array.from({ length: count - 1 }, async (_, i) => {
    // Staggered: many Noise handshakes at once time out on a small host.
    await new Promise(resolve => setTimeout(resolve, i * 150))
    return await startAgent(i + 1, first.addresses[0])
  }))
  const all = [first, ...rest]
  console.log(`\nagentmesh: ${all.length} agents in mesh "${values.mesh}", each its own process. Debug endpoints:`)
  for (const a of all) console.log(`  ${a.name.padEnd(8)} ${a.debug}/health   ${a.peerId}`)
  console.log(`Watch: ${first.debug}/ (live page)   ${first.debug}/tasks   ${first.debug}/coordinator`)
  console.log(`Try: curl ${first.debug}/peers`)
  console.log(`     ${cli} request --mesh ${values.mesh} --no-mdns --bootstrap ${first.addresses[0]} agent-2 demo.square '{"n":12}'`)
  console.log('Ctrl-C stops the mesh.\n')
  if (values.duration !== undefined) {
    setTimeout(() => { stopAll(); setTimeout(() => process.exit(0), 1_500).unref() }, Number(values.duration) * 1000)
  }
} catch (err) {
  console.error(`agentmesh demo: ${(err as Error).message}`)
  stopAll()
  process.exitCode = 1
}
