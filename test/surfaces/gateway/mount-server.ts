/**
 * A small node:http server that serves gateway mounts the way surfaces/gateway/mount.ts says the
 * gateway's server does: each request (and each WebSocket upgrade) is offered to the mounts in
 * turn, the first that owns the path answers; a path nobody owns is a 404. It authenticates no
 * one (every caller is loopback) and counts what the mounts count, so a test can check it.
 */
import { createServer, type Server } from 'node:http'
import { randomUUID } from 'node:crypto'
import { pino } from 'pino'
import type { AgentNode } from '../../../surfaces/index.js'
import { MeshOperations } from '../../../surfaces/operations/index.js'
import type { GatewayCaller, GatewayContext, Mount, MountFactory } from '../../../surfaces/gateway/mount.js'

export interface MountServer {
  url: string
  ops: MeshOperations
  /** Requests counted by the mounts, as 'route status' -> how many. */
  counts: Map<string, number>
  stop: () => Promise<void>
}

export async function serveMounts (node: AgentNode, factories: MountFactory[], options: { maxBodyBytes?: number } = {}): Promise<MountServer> {
  const ops = new MeshOperations(node)
  ops.start()
  const counts = new Map<string, number>()
  let url = ''
  const ctx: GatewayContext = {
    ops,
    log: pino({ level: 'silent' }),
    baseUrl: () => url,
    count: (route, status) => { counts.set(`${route} ${status}`, (counts.get(`${route} ${status}`) ?? 0) + 1) },
    maxBodyBytes: options.maxBodyBytes ?? 1024 * 1024
  }
  const mounts: Mount[] = factories.map(f => f(ctx))
  const caller: GatewayCaller = { via: 'loopback', label: 'loopback' }
  const server: Server = createServer((req, res) => {
    void (async () => {
      const u = new URL(req.url ?? '/', url)
      const correlationId = randomUUID()
      for (const m of mounts) if (await m.request({ req, res, url: u, caller, correlationId })) return
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'MSG001', name: 'NotFound', message: `no route ${u.pathname}` } }))
    })().catch(() => { res.destroy() })
  })
  server.on('upgrade', (req, socket, head) => {
    const u = new URL(req.url ?? '/', url)
    for (const m of mounts) if (m.upgrade?.(req, socket, head, u, caller) === true) return
    socket.end('HTTP/1.1 404 Not Found\r\n\r\n')
  })
  await new Promise<void>(resolve => { server.listen(0, '127.0.0.1', resolve) })
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`
  return {
    url,
    ops,
    counts,
    stop: async () => {
      await Promise.all(mounts.map(async m => { await m.close() }))
      ops.stop()
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}
