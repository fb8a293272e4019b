/**
 * A process of bench/gateway.ts, driven over IPC (bench/forked-worker.ts): `agent` answers
 * "echo"; `gateway` is a node with the gateway on, which also runs the embedded side of each
 * comparison (its own requests to the agent, its own subscriptions); `client` has no libp2p at
 * all, only HTTP (node:http with keep-alive) and WebSockets (`ws`), as a gateway's clients have.
 */
import '../node/polyfills.js'
import { phaseProfile } from './phase-profile.js'
import { Agent, request as httpRequest } from 'node:http'
import { createServer, type Server } from 'node:http'
import WebSocket from 'ws'
import { z } from 'zod'
import { createAgentNode, type AgentNode } from '../surfaces/index.js'
import { gatewayOf } from '../surfaces/compose.js'
import { GatewayServer } from '../surfaces/gateway/server.js'
import { RestMount } from '../surfaces/gateway/rest.js'
import { coalesceRequests } from '../surfaces/gateway/turn.js'
import { loadRate } from './gateway-load.js'

interface Cmd { id: number, cmd: string, [k: string]: any }

const role = process.argv[2] as 'agent' | 'gateway' | 'client'
let node: AgentNode | undefined
let agentId = ''
const now = (): number => performance.timeOrigin + performance.now()

function summary (ms: number[]): { n: number, p50: number, p99: number } {
  const s = [...ms].sort((a, b) => a - b)
  const at = (q: number): number => Math.round((s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN) * 1000) / 1000
  return { n: s.length, p50: at(0.5), p99: at(0.99) }
}

/** `n` calls one after the other (their latencies), or `concurrency` callers for `ms` (calls per second). */
async function sequential (n: number, call: () => Promise<unknown>): Promise<ReturnType<typeof summary>> {
  const out: number[] = []
  for (let i = 0; i < n; i++) { const t0 = performance.now(); await call(); out.push(performance.now() - t0) }
  return summary(out)
}
async function concurrent (concurrency: number, ms: number, call: () => Promise<unknown>): Promise<number> {
  let done = 0
  const t0 = performance.now()
  const end = t0 + ms
  await Promise.all(Array.from({ length: concurrency }, async () => { while (performance.now() < end) { await call(); done++ } }))
  return Math.round(done / ((performance.now() - t0) / 1000))
}

// --- client side: HTTP and WebSocket only -----------------------------------------------------
const http = new Agent({ keepAlive: true, maxSockets: 256 })
let base = ''
async function rest (path: string, body: unknown): Promise<unknown> {
  const data = JSON.stringify(body)
  return await new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: 'POST', agent: http, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('end', () => { res.statusCode === 200 ? resolve(JSON.parse(Buffer.concat(chunks).toString())) : reject(new Error(`HTTP ${String(res.statusCode)}: ${Buffer.concat(chunks).toString()}`)) })
    })
    req.on('error', reject)
    req.end(data)
  })
}

async function get (url: string): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    httpRequest(url, { agent: http }, (res) => { res.resume(); res.on('end', resolve) }).on('error', reject).end()
  })
}

/**
 * The HTTP layer alone, in the gateway's process: node:http answering {"ok":true} bare, and the
 * gateway's server with its REST mount answering the same from a one-route table (no mesh work).
 */
let layer: { bare: Server, gateway: GatewayServer } | undefined
async function startLayer (): Promise<{ bare: string, gateway: string }> {
  const log = (node as AgentNode).log
  const bare = createServer((_req, res) => {
    const body = JSON.stringify({ ok: true })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body)
  })
  await new Promise<void>(resolve => { bare.listen(0, '127.0.0.1', resolve) })
  const route = { method: 'GET' as const, path: '/v1/ok', operationId: 'ok', summary: 'ok', tag: 'gateway' as const, response: z.unknown(), errors: [], run: () => ({ ok: true }) }
  const stats = (node as AgentNode).stats
  const gateway = new GatewayServer({
    listen: '127.0.0.1:0',
    origins: [],
    log,
    count: (r, status) => { stats.inc('gateway_requests_total', { route: r, status: String(status) }) },
    observe: () => {},
    mounts: async (ctx) => [new RestMount({ ...ctx, ops: gatewayOf(node as AgentNode)?.ops as any, log, maxBodyBytes: 1024 }, [route])]
  })
  const url = await gateway.start()
  layer = { bare, gateway }
  return { bare: `http://127.0.0.1:${(bare.address() as { port: number }).port}/v1/ok`, gateway: `${url}/v1/ok` }
}

const sockets: WebSocket[] = []
let delivered = 0
let lags: number[] = []
let dropped = 0
function onEvent (raw: unknown): void {
  const f = JSON.parse(String(raw))
  if (f.type !== 'event') return
  delivered++
  if ((delivered & 15) === 0) lags.push(now() - f.event.payload.at)
}

// --- gateway side: the embedded counterparts ------------------------------------------------------
let subscriptions: Array<{ unsubscribe: () => void }> = []

async function handle (m: Cmd): Promise<unknown> {
  switch (m.cmd) {
    case 'start': {
      node = await createAgentNode({
        mesh: m.mesh,
        mdns: false,
        security: { mode: 'open' },
        logLevel: 'silent',
        listen: ['/ip4/127.0.0.1/tcp/0'],
        name: role,
        // The gateway is one peer to the agent, however many clients it serves: the agent's per-peer
        // limit (1,000 requests/s by default) would refuse it, as bench/worker.ts's agents lift it.
        rpc: { requestsPerSec: 0 },
        ...(m.bootstrap !== undefined ? { bootstrap: [m.bootstrap] } : {}),
        ...(role === 'gateway' ? { gateway: { listen: '127.0.0.1:0', wsMaxConnections: 1000, wsMaxBufferedBytes: 4 * 1024 * 1024 } } : {})
      })
      node.handle('echo', (x) => x)
      await node.start()
      if (m.bootstrap !== undefined) await node.joined({ signal: AbortSignal.timeout(30_000) })
      agentId = node.peers()[0]?.peerId ?? ''
      return { address: node.addresses()[0], gateway: node.gatewayUrl }
    }
    case 'client': base = m.base; return null
    case 'profile': {
      await phaseProfile(m)
      return null
    }
    case 'cpu': { const u = process.cpuUsage(); return u.user + u.system }
    case 'embedded-seq': return await sequential(m.n, async () => await node?.request(agentId, 'echo', { n: 1 }))
    case 'embedded-rate': return await concurrent(m.concurrency, m.ms, async () => await node?.request(agentId, 'echo', { n: 1 }))
    case 'rest-seq': return await sequential(m.n, async () => await rest('/v1/agents/agent/commands/echo', { n: 1 }))
    case 'rest-rate': return await concurrent(m.concurrency, m.ms, async () => await rest('/v1/agents/agent/commands/echo', { n: 1 }))
    case 'get-rate': return await concurrent(m.concurrency, m.ms, async () => { await get(m.url) })
    case 'load-rate': {
      // The raw keep-alive load generator (gateway-load.ts) on the command route, or on m.url.
      const u = new URL(m.url ?? `${base}/v1/agents/agent/commands/echo`)
      const post = m.url === undefined
      return await loadRate({ host: u.hostname, port: Number(u.port), method: post ? 'POST' : 'GET', path: u.pathname, ...(post ? { body: JSON.stringify({ n: 1 }) } : {}) }, m.concurrency, m.ms, m.depth ?? 1)
    }
    case 'coalesce': coalesceRequests(m.on === true); return null
    case 'layer-start': return await startLayer()
    case 'ws-open': {
      const url = `${base.replace(/^http/, 'ws')}/v1/ws`
      await Promise.all(Array.from({ length: m.n }, async () => {
        const ws = new WebSocket(url)
        await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
        const subscribed = new Promise(resolve => { ws.once('message', resolve) })
        ws.send(JSON.stringify({ op: 'subscribe', id: 1, topic: m.topic }))
        await subscribed
        ws.on('message', onEvent)
        ws.on('close', () => { dropped++ })
        sockets.push(ws)
      }))
      return sockets.length
    }
    case 'ws-close': for (const ws of sockets.splice(0)) { ws.removeAllListeners('close'); ws.terminate() } return null
    case 'sub-open': {
      subscriptions = Array.from({ length: m.n }, () => {
        const sub = (node as AgentNode).subscribe(m.topic)
        void (async () => { for await (const msg of sub) { delivered++; if ((delivered & 15) === 0) lags.push(now() - (msg.payload as { at: number }).at) } })()
        return sub
      })
      return subscriptions.length
    }
    case 'sub-close': for (const s of subscriptions.splice(0)) s.unsubscribe(); return null
    case 'count-reset': delivered = 0; lags = []; dropped = 0; return null
    case 'count': return { delivered, dropped, lag: summary(lags) }
    case 'publish': {
      // Paced at `rate` a second in 10 ms slices, each event stamped with its send time.
      const n = node as AgentNode
      const t0 = performance.now()
      let sent = 0
      const pad = 'x'.repeat(m.size)
      while (performance.now() - t0 < m.ms) {
        const due = Math.floor((performance.now() - t0) / 1000 * m.rate)
        while (sent < due) { await n.publish(m.topic, { at: now(), seq: sent, pad }); sent++ }
        await new Promise(resolve => setTimeout(resolve, 10))
      }
      return sent
    }
    case 'stop': layer?.bare.close(); await layer?.gateway.stop(); await node?.stop(); for (const ws of sockets) ws.terminate(); http.destroy(); return null
  }
  throw new Error(`unknown command ${m.cmd}`)
}

process.on('message', (m: Cmd) => {
  handle(m).then(
    (result) => { process.send?.({ id: m.id, result }) },
    (err) => { process.send?.({ id: m.id, error: (err as Error).message }) }
  )
})
process.on('disconnect', () => { void node?.stop().finally(() => process.exit(0)) })
