// The README's first command: a small local mesh you can watch. Starts N agents, each its own
// process, on 127.0.0.1; the first is everyone's bootstrap peer, and peer exchange connects the
// rest to each other. Prints each agent's lines with its name: a few per 10 s (coordinator,
// joins and leaves, pipeline results, one summary per agent), every message with --verbose.
// The debug URLs and the commands to try come once the mesh is up, and again on Ctrl-C.
// The mesh is closed, as a real one: the demo makes its own owner key, mesh key (pnet) and one
// credential per agent (and one for the commands it suggests) with the CLI, in a temporary
// directory removed when it stops.
//   node dist/examples/local-mesh.js [--agents 5] [--duration SECONDS] [--verbose]
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values } = parseArgs({
  options: {
    agents: { type: 'string', default: '5' },
    duration: { type: 'string' },
    mesh: { type: 'string', default: `demo-${process.pid}` },
    verbose: { type: 'boolean', default: false }
  }
})
const count = Number(values.agents)
const agentScript = fileURLToPath(new URL('./demo-agent.js', import.meta.url))
// This checkout's CLI. Not `npx agentmesh`: in the repository npx would not find it (npx runs the
// commands of installed packages) and would fetch whatever the registry calls agentmesh instead.
const cliPath = fileURLToPath(new URL('../surfaces/cli/main.js', import.meta.url))
const cli = `node ${relative(process.cwd(), cliPath)}`
// The owner key, the mesh key and the credentials: the demo's own, gone with it. Named after the
// mesh (not random), so the commands the demo prints keep one shape from run to run.
const keys = join(tmpdir(), `agentmesh-${values.mesh}`)
rmSync(keys, { recursive: true, force: true })
mkdirSync(keys, { mode: 0o700 })
const file = (name: string): string => join(keys, name)
/** The flags that make a node (or a client) of this closed mesh. */
const closedFlags = (who: string): string => `--identity ${file(`${who}.json`)} --credential ${file(`${who}.cred.json`)} --psk ${file('mesh.psk')}`
const colors = [31, 32, 33, 34, 35, 36, 91, 92, 93, 94]
// How long the agents get to stop cleanly (leave announced, state written) before being killed.
const STOP_GRACE_MS = 10_000

interface Ready { name: string, peerId: string, addresses: string[], debug: string, pid: number }
interface Agent { name: string, child: ChildProcess, exited: Promise<void> }
const agents: Agent[] = []
let stopping = false
let ready: Ready[] = []
// Agents stopped before the mesh was (the "kill" hint): left out of the endpoints printed after.
const gone = new Set<string>()

function startAgent (i: number, bootstrap: string | undefined): Promise<Ready> {
  const name = `agent-${i + 1}`
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_'))),
    AGENTMESH_NAME: name,
    AGENTMESH_MESH: values.mesh,
    AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
    AGENTMESH_DEBUG: '127.0.0.1:0',
    AGENTMESH_MDNS: 'false',
    // The agents print what they do; their JSON logs (stderr) only for warnings here.
    AGENTMESH_LOG_LEVEL: process.env.AGENTMESH_LOG_LEVEL ?? 'warn',
    AGENTMESH_ROLES: i === 0 ? 'bootstrap,agent' : 'agent',
    AGENTMESH_IDENTITY: file(`${name}.json`),
    AGENTMESH_SECURITY_CREDENTIAL: file(`${name}.cred.json`),
    AGENTMESH_SECURITY_PSK: file('mesh.psk'),
    DEMO_AGENTS: String(count),
    DEMO_VERBOSE: values.verbose ? '1' : '0',
    // The first agent also submits a small pipeline of tasks every 10 s.
    DEMO_SUBMITS: i === 0 ? '1' : '0',
    ...(bootstrap !== undefined ? { AGENTMESH_BOOTSTRAP: bootstrap } : {})
  }
  const child = spawn(process.execPath, [agentScript], { env, stdio: ['ignore', 'pipe', 'inherit'] })
  const exited = new Promise<void>(resolve => child.once('exit', () => { resolve() }))
  agents.push({ name, child, exited })
  const tag = process.stdout.isTTY ? `\x1b[${colors[i % colors.length]}m${name.padEnd(8)}\x1b[0m` : name.padEnd(8)
  return new Promise((resolve, reject) => {
    child.once('exit', (code, signal) => {
      reject(new Error(`${name} exited with ${code ?? signal}`))
      // After start-up: someone stopped this agent (the "kill" hint), and the others see it leave.
      if (!stopping) { gone.add(name); console.log(`${tag} stopped (${code !== null ? `exit ${code}` : signal})`) }
    })
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (line.startsWith('{"event":"ready"')) { resolve(JSON.parse(line) as Ready); return }
      // Once stopping, the URLs and hints are the last lines: what agents say while they stop is not.
      if (!stopping) console.log(`${tag} ${line}`)
    })
  })
}

/** The block a newcomer needs: where each agent is, the live page, and commands that work as pasted
 * (`hints`: not once stopping, when none would work). Only agents still running are listed (one may
 * have been stopped with the "kill" hint). */
function printEndpoints (header: string, hints = true): void {
  const all = ready.filter(a => !gone.has(a.name))
  if (all.length === 0) return
  const first = all[0]
  const other = all[1] ?? first
  console.log(`\n${header}`)
  for (const a of all) console.log(`  ${a.name.padEnd(8)} ${a.debug}/health   pid ${a.pid}   ${a.peerId}`)
  console.log(`Live page: ${first.debug}/   (also ${first.debug}/tasks and ${first.debug}/coordinator)`)
  if (!hints) return
  console.log('Try:')
  console.log(`  curl ${first.debug}/peers`)
  console.log(`  ${cli} status ${first.debug}`)
  // The CLI logs at info by default: a dozen JSON lines around the one answer.
  console.log(`  ${cli} request --mesh ${values.mesh} --no-mdns --log-level warn ${closedFlags('cli')} --bootstrap ${first.addresses[0]} ${other.name} demo.square '{"n":12}'`)
  // Stopping one agent shows a leave, and a new election if it was the coordinator.
  console.log(`  kill ${all[all.length - 1].pid}`)
  console.log('Ctrl-C stops the mesh. Every message: npm run demo -- --verbose\n')
}

/** One CLI command, as an operator would type it; its output only when it fails. */
async function run (args: string[]): Promise<void> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  await new Promise<void>((resolve, reject) => {
    execFile(process.execPath, [cliPath, ...args], { env }, (err, _stdout, stderr) => {
      if (err === null) resolve()
      else reject(new Error(`agentmesh ${args.join(' ')}: ${stderr.trim() || err.message}`))
    })
  })
}

/**
 * What the mesh owner does once (`mesh init`: owner key and mesh key), and for each agent (an
 * identity, then a credential for it). The credentials carry the roles and capabilities the agents
 * are seen with: in a closed mesh those are the credential's, not what an agent announces.
 */
async function makeKeys (): Promise<void> {
  await run(['mesh', 'init', '--mesh', values.mesh, '--out', file('mesh-owner.json'), '--psk', file('mesh.psk')])
  const who = [...Array.from({ length: count }, (_, i) => `agent-${i + 1}`), 'cli']
  await Promise.all(who.map(async (name, i) => {
    await run(['id', '--identity', file(`${name}.json`)])
    const grant = name === 'cli' ? ['--roles', 'agent'] : ['--roles', i === 0 ? 'bootstrap,agent,coordinator' : 'agent,coordinator', '--capabilities', 'demo.square,task:demo.sum']
    await run(['credential', 'issue', '--owner', file('mesh-owner.json'), '--identity', file(`${name}.json`), ...grant, '--ttl', '1d', '--out', file(`${name}.cred.json`)])
  }))
}

async function stopAll (why: string, code = 0): Promise<void> {
  if (stopping) return
  stopping = true
  printEndpoints(`agentmesh: ${why}: stopping mesh "${values.mesh}", which ran at:`, false)
  const before = [...gone]
  for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGTERM')
  const done = await Promise.race([
    Promise.all(agents.map(async a => { await a.exited })).then(() => true),
    new Promise<false>(resolve => setTimeout(() => { resolve(false) }, STOP_GRACE_MS).unref())
  ])
  if (!done) {
    for (const a of agents) if (a.child.exitCode === null && a.child.signalCode === null) a.child.kill('SIGKILL')
    console.log(`agentmesh: killed the agents still running after ${STOP_GRACE_MS / 1000} s`)
  } else {
    // Those stopped before (the "kill" hint) are not counted again.
    console.log(before.length === 0 ? `agentmesh: all ${agents.length} agents stopped` : `agentmesh: ${agents.length - before.length} agents stopped (${before.join(', ')} had stopped already)`)
  }
  rmSync(keys, { recursive: true, force: true })
  process.exit(done ? code : 1)
}
// A second Ctrl-C does not wait for the agents.
process.on('SIGINT', () => {
  if (stopping) { for (const a of agents) a.child.kill('SIGKILL'); process.exit(130) }
  void stopAll('Ctrl-C')
})
process.on('SIGTERM', () => { void stopAll('SIGTERM') })

try {
  await makeKeys()
  console.log(`agentmesh: mesh "${values.mesh}" is closed: its owner key, mesh key and credentials are in ${keys} (agentmesh mesh init, credential issue)`)
  const first = await startAgent(0, undefined)
  const rest = await Promise.all(Array.from({ length: count - 1 }, async (_, i) => {
    // Staggered: many Noise handshakes at once time out on a small host.
    await new Promise(resolve => setTimeout(resolve, i * 150))
    return await startAgent(i + 1, first.addresses[0])
  }))
  ready = [first, ...rest]
  printEndpoints(`agentmesh: ${ready.length} agents in mesh "${values.mesh}", each its own process:`)
  if (values.duration !== undefined) setTimeout(() => { void stopAll(`${values.duration} s passed`) }, Number(values.duration) * 1000)
} catch (err) {
  console.error(`agentmesh demo: ${(err as Error).message}`)
  await stopAll('start-up failed', 1)
}
