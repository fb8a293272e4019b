/**
 * What the gateway's tests use as their clients: a mesh of agent processes with a gateway node
 * started from the CLI, and a WebSocket client that speaks the gateway's frames (ws-frames.ts)
 * over the `ws` package, as any program without libp2p would.
 */
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { CLI, Proc, agentTimings, uniqueMesh, waitFor } from '../../helpers.js'

export const GATEWAY_AGENT = fileURLToPath(new URL('../../fixtures/gateway-agent.js', import.meta.url))

export interface GatewayMesh {
  mesh: string
  agents: Proc[]
  gateway: Proc
  /** http://127.0.0.1:port of the gateway, its debug endpoint, and its libp2p address. */
  base: string
  debug: string
  address: string
  stop: () => Promise<void>
}

/**
 * Three agent processes (test/fixtures/gateway-agent.ts: "square", tasks "add" and "wait") and a
 * gateway node started as `agentmesh start --gateway 127.0.0.1:0 --debug 127.0.0.1:0`, its other
 * settings from `env` (AGENTMESH_GATEWAY_*); resolves once the gateway lists the three agents and
 * a coordinator is in office.
 */
export async function startGatewayMesh (env: Record<string, string> = {}): Promise<GatewayMesh> {
  const mesh = uniqueMesh()
  const common = { ...agentTimings(3), AGENTMESH_MESH: mesh, AGENTMESH_SECURITY_MODE: 'open', AGENTMESH_MDNS: 'false', AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0', AGENTMESH_LOG_LEVEL: 'warn' }
  const procs: Proc[] = []
  const stop = async (): Promise<void> => { await Promise.all(procs.map(async p => { await p.stop() })) }
  try {
    const first = new Proc([GATEWAY_AGENT], { ...common, AGENTMESH_NAME: 'a1' })
    procs.push(first)
    const a1 = await first.json(o => o.event === 'started', 'a1 started', 30_000)
    const boot = a1.addresses[0] as string
    for (const name of ['a2', 'a3']) procs.push(new Proc([GATEWAY_AGENT], { ...common, AGENTMESH_NAME: name, AGENTMESH_BOOTSTRAP: boot }))
    await Promise.all(procs.slice(1).map(async p => await p.json(o => o.event === 'started', 'an agent started', 30_000)))
    const gateway = new Proc([CLI, 'start', '--open', '--json', '--name', 'gw', '--mesh', mesh, '--no-mdns', '--no-data-dir', '--log-level', 'warn',
      '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', boot, '--gateway', '127.0.0.1:0', '--debug', '127.0.0.1:0'], { ...agentTimings(3), ...env })
    procs.push(gateway)
    const ready = await gateway.json(o => o.event === 'ready', 'the gateway node ready', 30_000)
    const base = ready.gateway as string
    await waitFor(async () => {
      const agents = await getJson(`${base}/v1/agents`).catch(() => undefined)
      const coordinator = await getJson(`${base}/v1/coordinator`).catch(() => undefined)
      return agents?.agents?.length === 4 && coordinator?.inOffice === true
    }, 'the gateway to see three agents and a coordinator', 60_000)
    return { mesh, agents: procs.slice(0, 3), gateway, base, debug: ready.debug, address: ready.addresses[0], stop }
  } catch (err) {
    await stop()
    throw err
  }
}

export async function getJson (url: string, init: RequestInit = {}): Promise<any> {
  const res = await fetch(url, { signal: AbortSignal.timeout(30_000), ...init })
  return await res.json()
}

/** A POST with a JSON body; answers the status, the parsed body and the headers. */
export async function post (url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, headers: Headers }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(60_000)
  })
  return { status: res.status, body: await res.json(), headers: res.headers }
}

/** A WebSocket client of /v1/ws: operations answered by id, and every frame kept. */
export class WsClient {
  readonly frames: any[] = []
  private next = 1
  private readonly waiters = new Map<number, (frame: any) => void>()

  private constructor (readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data))
      this.frames.push(frame)
      if ((frame.type === 'result' || frame.type === 'error' || frame.type === 'pong') && typeof frame.id === 'number') this.waiters.get(frame.id)?.(frame)
    })
  }

  static async open (url: string, options: WebSocket.ClientOptions = {}): Promise<WsClient> {
    const ws = new WebSocket(url, options)
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => { resolve() })
      ws.once('error', reject)
      ws.once('unexpected-response', (_req, res) => { reject(new Error(`upgrade refused: ${String(res.statusCode)}`)) })
    })
    return new WsClient(ws)
  }

  /** Sends an operation and resolves with its answer frame (a result, an error or a pong). */
  async call (op: string, fields: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<any> {
    const id = this.next++
    const answer = new Promise<any>((resolve, reject) => {
      const t = setTimeout(() => { reject(new Error(`no answer to ${op} #${id} within ${timeoutMs} ms`)) }, timeoutMs)
      this.waiters.set(id, (frame) => { clearTimeout(t); this.waiters.delete(id); resolve(frame) })
    })
    this.ws.send(JSON.stringify({ op, id, ...fields }))
    return await answer
  }

  /** Frames of a type that match, once there are at least `n`. */
  async frameCount (match: (f: any) => boolean, n: number, what: string, timeoutMs = 30_000): Promise<any[]> {
    await waitFor(() => this.frames.filter(match).length >= n, what, timeoutMs)
    return this.frames.filter(match)
  }

  close (): void { this.ws.terminate() }
}
