// The browser example: a page that is itself a node of the mesh. This command serves the page and
// the browser bundle on http://127.0.0.1:8080/ and starts a small local mesh for it (three agents
// in this process, listening on WebSockets); in the page a person sees the agents, sends a
// request to one, watches a topic live, and the page answers the agents' own requests.
//
//   npm run example:browser                          (builds the bundle, then runs this)
//   node dist/examples/browser/serve.js [--port 8080] [--agents 3] [--open]
//   node dist/examples/browser/serve.js --mesh <name> --bootstrap <ws multiaddr> (--owner mesh-owner.json | --open) [--preset lan]
//
// The mesh is closed, as a real one: this command holds the mesh owner key it made (or the one
// given with --owner) and issues the page a credential for the peer id the page shows it
// (POST /credential). That stands in for a site's sign-in: a real deployment issues a page's
// credential only to a signed-in user, never to whoever asks. --open runs an open mesh instead.
// The page dials plain ws:// on 127.0.0.1, the local exception (`insecureLocal`); anything else
// needs wss with a certificate the browser trusts (README "Browser node").
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { z } from 'zod'
import { createAgentNode, defineCommand, type AgentNode } from 'agentmesh'
import { issueCredential, newOwnerKey, PeerIdString } from '../../protocols/admission/credential.js'
import { readOwner } from '../../surfaces/cli/mesh.js'

const ROOT = fileURLToPath(new URL('../../../', import.meta.url))
const PAGE = join(ROOT, 'examples', 'browser')
const BUNDLE = join(ROOT, 'dist', 'browser')

const Add = defineCommand('math.add', {
  request: z.object({ a: z.number(), b: z.number() }),
  response: z.object({ sum: z.number() })
})
/** What the agents ask the pages (agents with the capability `ui`) every few seconds. */
const Ping = defineCommand('ui.ping', {
  request: z.object({ from: z.string(), n: z.number().int() }),
  response: z.object({ pong: z.number().int() })
})

const TICK_MS = 2_000
const PING_MS = 5_000
/** How long a page's credential lasts: a session's, not an agent's. */
const PAGE_CREDENTIAL_MS = 3_600_000

export interface ExampleOptions {
  /** Port of the page (0: any free one). */
  port?: number
  /** Agents of the local mesh started here; none when `bootstrap` names an existing mesh. */
  agents?: number
  open?: boolean
  mesh?: string
  /** /ws (or /wss) addresses of an existing mesh's agents: no agents are started here. */
  bootstrap?: string[]
  /** The owner key file of that mesh, to issue the page's credential (closed). */
  owner?: string
  /** That mesh's preset (its timings), for the page: lan unless given. */
  preset?: 'local' | 'lan' | 'wan'
}

export interface Example {
  url: string
  mesh: string
  agents: AgentNode[]
  stop: () => Promise<void>
}

interface Issuer { mesh: string, key: PrivateKey }

/** One agent of the example's mesh: a few commands, and a ping to every page it sees. */
async function startAgent (
  dir: string, mesh: string, name: string, issuer: Issuer | undefined, bootstrap: string[], timers: Array<ReturnType<typeof setInterval>>
): Promise<AgentNode> {
  const privateKey = await generateKeyPair('Ed25519')
  let security: { mode: 'open' } | { mode: 'closed', credential: string } = { mode: 'open' }
  if (issuer !== undefined) {
    const now = Date.now()
    const subject = peerIdFromPrivateKey(privateKey).toString()
    const credential = join(dir, `${name}.cred.json`)
    await writeFile(credential, JSON.stringify(await issueCredential(issuer.key, {
      mesh, subject, roles: ['agent', 'coordinator'], capabilities: ['math'], issuedAt: now, expiresAt: now + 24 * 3_600_000
    })), { mode: 0o600 })
    security = { mode: 'closed', credential }
  }
  const node = await createAgentNode({
    mesh,
    name,
    privateKey,
    preset: 'local',
    security,
    bootstrap,
    mdns: false,
    logLevel: 'warn',
    capabilities: ['math'],
    listen: ['/ip4/127.0.0.1/tcp/0/ws']
  })
  node.handle('echo', (x) => x)
  node.handle(Add, ({ a, b }) => ({ sum: a + b }))
  node.handle('whoami', () => ({ name: node.name, peerId: node.peerId, peers: node.peers().length }))
  await node.start()
  let n = 0
  timers.push(setInterval(() => {
    for (const page of node.findAgents({ capability: 'ui' })) {
      node.request(page.peerId, Ping, { from: node.name, n: ++n }, { timeoutMs: 3_000 }).catch(() => {})
    }
  }, PING_MS))
  return node
}

const Ask = z.strictObject({ peerId: PeerIdString })

async function body (req: IncomingMessage, max: number): Promise<string> {
  let text = ''
  for await (const chunk of req) {
    text += String(chunk)
    if (text.length > max) throw new Error('request body too large')
  }
  return text
}

function send (res: ServerResponse, status: number, type: string, content: string | Buffer): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' }).end(content)
}

export async function startBrowserExample (options: ExampleOptions = {}): Promise<Example> {
  const bundle = await readFile(join(BUNDLE, 'agentmesh.js')).catch(() => {
    throw new Error(`${join(BUNDLE, 'agentmesh.js')} is missing: run npm run build:browser first`)
  })
  const map = await readFile(join(BUNDLE, 'agentmesh.js.map')).catch(() => undefined)
  const open = options.open ?? false
  const existing = options.bootstrap !== undefined && options.bootstrap.length > 0
  let issuer: Issuer | undefined
  if (!open) {
    if (options.owner !== undefined) {
      const owner = await readOwner(options.owner)
      issuer = { mesh: owner.mesh, key: owner.key }
    } else if (existing) {
      throw new Error('an existing closed mesh needs --owner mesh-owner.json to issue the page a credential (or --open for an open mesh)')
    } else {
      issuer = { mesh: options.mesh ?? `browser-${process.pid}`, key: await newOwnerKey() }
    }
  }
  const mesh = issuer?.mesh ?? options.mesh ?? `browser-${process.pid}`
  const dir = await mkdtemp(join(tmpdir(), 'agentmesh-browser-example-'))
  const agents: AgentNode[] = []
  const timers: Array<ReturnType<typeof setInterval>> = []
  const stopAgents = async (): Promise<void> => {
    for (const t of timers) clearInterval(t)
    await Promise.all(agents.map(async a => { await a.stop() }))
    await rm(dir, { recursive: true, force: true })
  }
  let server: Server | undefined
  try {
    let bootstrap = options.bootstrap ?? []
    if (!existing) {
      for (let i = 1; i <= (options.agents ?? 3); i++) {
        agents.push(await startAgent(dir, mesh, `agent-${i}`, issuer, agents.length > 0 ? [agents[0].addresses()[0]] : [], timers))
      }
      bootstrap = agents.map(a => a.addresses()[0])
      // One agent publishes on `ticks`, the topic the page watches first.
      let tick = 0
      timers.push(setInterval(() => { agents[0].publish('ticks', { n: ++tick, at: new Date().toISOString() }).catch(() => {}) }, TICK_MS))
    }
    // The page's timings are the mesh's: the local preset of the agents started here, or the one given.
    const config = JSON.stringify({ mesh, mode: open ? 'open' : 'closed', preset: existing ? options.preset ?? 'lan' : 'local', bootstrap, insecureLocal: true })
    const pages = new Map([['/', 'index.html'], ['/app.js', 'app.js']])
    server = createServer((req, res) => {
      const path = new URL(req.url ?? '/', 'http://x').pathname
      void (async () => {
        const file = pages.get(path)
        if (req.method === 'GET' && file !== undefined) return send(res, 200, file.endsWith('.js') ? 'text/javascript' : 'text/html; charset=utf-8', await readFile(join(PAGE, file)))
        if (req.method === 'GET' && path === '/agentmesh.js') return send(res, 200, 'text/javascript', bundle)
        if (req.method === 'GET' && path === '/agentmesh.js.map' && map !== undefined) return send(res, 200, 'application/json', map)
        if (req.method === 'GET' && path === '/mesh.json') return send(res, 200, 'application/json', config)
        if (req.method === 'POST' && path === '/credential') {
          if (issuer === undefined) return send(res, 404, 'application/json', JSON.stringify({ error: 'the mesh is open: no credential needed' }))
          const ask = Ask.safeParse(JSON.parse(await body(req, 1_024)))
          if (!ask.success) return send(res, 400, 'application/json', JSON.stringify({ error: 'expected {"peerId": "12D3KooW..."}' }))
          const now = Date.now()
          const credential = await issueCredential(issuer.key, {
            mesh, subject: ask.data.peerId, roles: ['agent', 'ui'], capabilities: ['ui'], issuedAt: now, expiresAt: now + PAGE_CREDENTIAL_MS
          })
          return send(res, 200, 'application/json', JSON.stringify(credential))
        }
        send(res, 404, 'text/plain', 'not found')
      })().catch((err: Error) => { if (!res.headersSent) send(res, 400, 'application/json', JSON.stringify({ error: err.message })) })
    })
    await new Promise<void>((resolve, reject) => { server?.once('error', reject).listen(options.port ?? 8080, '127.0.0.1', resolve) })
  } catch (err) {
    await stopAgents()
    throw err
  }
  const s = server
  const url = `http://127.0.0.1:${(s.address() as { port: number }).port}/`
  return {
    url,
    mesh,
    agents,
    stop: async () => {
      s.closeAllConnections()
      await new Promise(resolve => s.close(resolve))
      await stopAgents()
    }
  }
}

export async function main (): Promise<void> {
  const { values } = parseArgs({
    options: {
      port: { type: 'string', default: '8080' },
      agents: { type: 'string', default: '3' },
      open: { type: 'boolean', default: false },
      mesh: { type: 'string' },
      bootstrap: { type: 'string', multiple: true },
      owner: { type: 'string' },
      preset: { type: 'string' }
    }
  })
  const example = await startBrowserExample({
    port: Number(values.port),
    agents: Number(values.agents),
    open: values.open,
    ...(values.mesh !== undefined ? { mesh: values.mesh } : {}),
    ...(values.bootstrap !== undefined ? { bootstrap: values.bootstrap.flatMap(b => b.split(',')) } : {}),
    ...(values.owner !== undefined ? { owner: values.owner } : {}),
    ...(values.preset !== undefined ? { preset: values.preset as 'local' | 'lan' | 'wan' } : {})
  })
  console.log(`agentmesh: mesh "${example.mesh}" (${values.open ? 'open' : 'closed'}), ${example.agents.length > 0 ? `${example.agents.length} agents listening on WebSockets` : 'an existing mesh'}`)
  for (const a of example.agents) console.log(`  ${a.name}  ${a.addresses()[0]}`)
  console.log(`Open ${example.url} in a browser (Chromium, Firefox): the page is a node of the mesh. Ctrl-C stops.`)
  const stop = (): void => { example.stop().then(() => process.exit(0), () => process.exit(1)) }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err: Error) => { console.error(`agentmesh: ${err.message}`); process.exit(1) })
}
