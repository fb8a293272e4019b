// The surfaces, built over a node from outside (AgentNode.attach), on one HTTP server
// (surfaces/http): the debug endpoint and the gateway given the same host:port share it, each
// answering its own paths with its own token, and the port closes when the node stops; the MCP
// endpoint mounts beside a debug endpoint the same way; on separate ports (or port 0) each
// surface has a server of its own.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { connect, createServer } from 'node:net'
import { createAgentNode } from '../../../surfaces/index.js'
import { createAgentNode as createRuntimeNode } from '../../../node/create-node.js'
import { HttpServer, HttpServers, type HttpMount } from '../../../surfaces/http/server.js'
import { CLI, Proc, freePort, nodeOptions, uniqueMesh } from '../../helpers.js'

const GATEWAY_TOKEN = 'gateway-token-0123456789'
const DEBUG_TOKEN = 'debug-token-0123456789'

test('attach: the runtime alone serves nothing; what is attached starts after its services and stops before them, and only before start', { timeout: 3 * 60_000 }, async () => {
  const node = await createRuntimeNode(nodeOptions(uniqueMesh(), { name: 'bare', debug: '127.0.0.1:0', gateway: { listen: '127.0.0.1:0' } }))
  const seen: string[] = []
  node.attach({
    start: () => { seen.push(`start: node ${node.started ? 'started' : 'starting'}, ${node.addresses().length > 0 ? 'listening' : 'not listening'}`) },
    stop: () => { seen.push(`stop: node ${node.started ? 'started' : 'stopping'}, ${node.addresses().length > 0 ? 'listening' : 'not listening'}`) }
  })
  await node.start()
  try {
    assert.equal(node.debugUrl, undefined, 'node/create-node.ts builds no debug endpoint')
    assert.equal(node.gatewayUrl, undefined, 'nor a gateway')
    assert.throws(() => { node.attach({ start: () => {}, stop: () => {} }) }, /cannot attach to a node that is started/)
    const last = node.services.at(-1) as { start: () => void }
    assert.equal(typeof last.start, 'function', 'the attached part is last in the start order')
  } finally {
    await node.stop()
  }
  assert.deepEqual(seen, ['start: node starting, listening', 'stop: node stopping, listening'])
})

test('surfaces: the debug endpoint and the gateway on one host:port share one server, each with its paths and its token', { timeout: 3 * 60_000 }, async () => {
  const port = await freePort()
  const listen = `127.0.0.1:${port}`
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'shared', debug: listen, debugToken: DEBUG_TOKEN, gateway: { listen, token: GATEWAY_TOKEN } }))
  await node.start()
  try {
    assert.equal(node.debugUrl, `http://${listen}`)
    assert.equal(node.gatewayUrl, `http://${listen}`)
    const base = `http://${listen}`
    // The debug endpoint's paths, with its token only.
    assert.equal((await fetch(`${base}/health`)).status, 401)
    assert.equal((await fetch(`${base}/health`, { headers: { authorization: `Bearer ${GATEWAY_TOKEN}` } })).status, 401)
    const health = await fetch(`${base}/health`, { headers: { authorization: `Bearer ${DEBUG_TOKEN}` } })
    assert.equal(health.status, 200)
    assert.equal((await health.json() as { peerId: string }).peerId, node.peerId)
    // The gateway's, with its token only.
    assert.equal((await fetch(`${base}/v1/coordinator`, { headers: { authorization: `Bearer ${DEBUG_TOKEN}` } })).status, 401)
    assert.equal((await fetch(`${base}/v1/coordinator`, { headers: { authorization: `Bearer ${GATEWAY_TOKEN}` } })).status, 200)
    const card = await fetch(`${base}/.well-known/agent-card.json`, { headers: { authorization: `Bearer ${GATEWAY_TOKEN}` } })
    assert.equal(card.status, 200, 'the A2A card is the gateway\'s')
    // A path no one owns is the debug endpoint's 404, which lists its routes.
    const unknown = await fetch(`${base}/nowhere`, { headers: { authorization: `Bearer ${DEBUG_TOKEN}` } })
    assert.equal(unknown.status, 404)
    assert.ok(Array.isArray((await unknown.json() as { routes: unknown }).routes))
  } finally {
    await node.stop()
  }
  await assert.rejects(fetch(`http://${listen}/health`), 'no port left open once the node stopped')
})

test('surfaces: on port 0, the debug endpoint and the gateway each get a port of their own', { timeout: 3 * 60_000 }, async () => {
  const node = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'apart', debug: '127.0.0.1:0', gateway: { listen: '127.0.0.1:0' } }))
  await node.start()
  try {
    assert.notEqual(node.debugUrl, node.gatewayUrl)
    assert.equal((await fetch(`${node.debugUrl as string}/health`)).status, 200)
    assert.equal((await fetch(`${node.gatewayUrl as string}/v1/coordinator`)).status, 200)
    // Alone on its port, the gateway answers every path itself (its own 404).
    const other = await fetch(`${node.gatewayUrl as string}/health`)
    assert.equal(other.status, 404)
    assert.equal(typeof (await other.json() as { error: unknown }).error, 'object', 'the gateway\'s error body, not the debug endpoint\'s')
  } finally {
    await node.stop()
  }
})

test('surfaces: `agentmesh mcp --http` and `--debug` on one host:port share one server: /mcp the MCP endpoint, the rest the debug endpoint', { timeout: 3 * 60_000 }, async () => {
  const seed = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'seed', preset: 'local' }))
  await seed.start()
  const listen = `127.0.0.1:${await freePort()}`
  const p = new Proc([CLI, 'mcp', '--mesh', seed.config.mesh, '--no-mdns', '--preset', 'local', '--bootstrap', seed.addresses()[0], '--open', '--http', listen, '--debug', listen, '--json'])
  try {
    const ready = await p.json(o => o.event === 'ready', 'the ready line', 30_000)
    assert.equal(ready.url, `http://${listen}/mcp`)
    assert.equal(ready.debug, `http://${listen}`)
    assert.equal((await fetch(`http://${listen}/health`)).status, 200)
    const init = await fetch(ready.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream' },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'test', version: '1' } } })
    })
    assert.equal(init.status, 200)
    assert.match(await init.text(), /"protocolVersion"/)
    assert.equal((await fetch(ready.url)).status, 405, 'stateless: GET /mcp is the MCP endpoint\'s 405')
  } finally {
    p.child.kill('SIGINT')
    await p.exited(15_000)
    await seed.stop()
  }
})

/**
 * Sends one POST on a raw connection and, once its answer is in, how long the server leaves the
 * connection idle before it closes it (undefined: still open after `ms`).
 */
async function idleClosedAfter (url: string, body: string, ms: number): Promise<{ status: string, closedAfterMs?: number }> {
  const { hostname, port, pathname } = new URL(url)
  const socket = connect(Number(port), hostname)
  try {
    return await new Promise((resolve, reject) => {
      let text = ''
      let answeredAt: number | undefined
      let status = ''
      socket.on('error', reject)
      socket.on('data', (d: Buffer) => {
        text += d.toString()
        // The whole answer: its head, and as many body bytes as content-length says.
        const head = text.indexOf('\r\n\r\n')
        const length = /content-length: (\d+)/i.exec(text)
        if (answeredAt === undefined && head >= 0 && length !== null && Buffer.byteLength(text.slice(head + 4)) >= Number(length[1])) {
          answeredAt = Date.now()
          status = text.slice(0, text.indexOf('\r\n'))
          setTimeout(() => { resolve({ status }) }, ms)
        }
      })
      socket.on('end', () => { resolve(answeredAt === undefined ? { status: `closed before an answer: ${text.slice(0, 200)}` } : { status, closedAfterMs: Date.now() - answeredAt }) })
      socket.write(`POST ${pathname} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`)
    })
  } finally {
    socket.destroy()
  }
}

test('http server: `agentmesh mcp --http` alone keeps an idle keep-alive connection past undici\'s 4 s, so the client ends it, not a server whose loop stalled', { timeout: 3 * 60_000 }, async () => {
  const seed = await createAgentNode(nodeOptions(uniqueMesh(), { name: 'seed', preset: 'local' }))
  await seed.start()
  const p = new Proc([CLI, 'mcp', '--mesh', seed.config.mesh, '--no-mdns', '--preset', 'local', '--bootstrap', seed.addresses()[0], '--open', '--http', '127.0.0.1:0', '--json'])
  try {
    const ready = await p.json(o => o.event === 'ready', 'the ready line', 30_000)
    // With 1 s (the MCP endpoint's own, until it took the shared server's 65 s) it closed at ~2 s,
    // and a request sent as its loop stalled past that was reset.
    const idle = await idleClosedAfter(ready.url, JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }), 6_000)
    assert.deepEqual(idle, { status: 'HTTP/1.1 200 OK' }, 'answered, and still open 6 s later')
  } finally {
    p.child.kill('SIGINT')
    await p.exited(15_000)
    await seed.stop()
  }
})

test('http server: mounts by path, the one without paths takes the rest, listening from the first open to the last close', { timeout: 3 * 60_000 }, async () => {
  const port = await freePort()
  const servers = new HttpServers()
  const server = servers.at('127.0.0.1', port)
  assert.equal(servers.at('127.0.0.1', port), server, 'one server per host:port')
  assert.notEqual(servers.at('127.0.0.1', 0), servers.at('127.0.0.1', 0), 'port 0: a server each')
  const mount = (name: string, paths?: string[]): HttpMount => ({
    ...(paths !== undefined ? { paths } : {}),
    request: (_req, res) => { res.end(name) },
    listenError: (err) => err
  })
  const mcp = mount('mcp', ['/mcp'])
  const debug = mount('debug')
  assert.equal(await server.open(debug), `http://127.0.0.1:${port}`)
  assert.equal(await server.open(mcp), `http://127.0.0.1:${port}`)
  const get = async (path: string): Promise<string> => await (await fetch(`http://127.0.0.1:${port}${path}`)).text()
  assert.equal(await get('/mcp'), 'mcp')
  assert.equal(await get('/mcp/x'), 'mcp')
  assert.equal(await get('/mcpx'), 'debug')
  assert.equal(await get('/health'), 'debug')
  await server.close(debug)
  assert.equal(await get('/health'), 'mcp', 'alone, a mount takes every path')
  await server.close(mcp)
  await assert.rejects(fetch(`http://127.0.0.1:${port}/mcp`), 'closed with its last mount')
  // A port taken: the mount's own error.
  const taken = new HttpServer('127.0.0.1', port)
  const blocker = createServer()
  await new Promise<void>(resolve => { blocker.listen(port, '127.0.0.1', () => { resolve() }) })
  try {
    await assert.rejects(taken.open({ request: () => {}, listenError: (err) => new Error(`mine: ${err.message}`) }), /^Error: mine: /)
  } finally {
    blocker.close()
  }
})

test('the HTTP server holds at most maxConnections at once over its mounts\' own streams: one past it is closed as it comes, the ones held still answer', { timeout: 60_000 }, async () => {
  const port = await freePort()
  // Two for requests, and one a mount holds open by a limit of its own (a WebSocket, an event stream).
  const server = new HttpServer('127.0.0.1', port, 2)
  const mount: HttpMount = { request: (_req, res) => { res.end('ok') }, listenError: (err) => err, streams: 1 }
  await server.open(mount)
  const sockets: Array<ReturnType<typeof connect>> = []
  try {
    // Three idle connections, each with a request answered on it (so the server has taken it).
    const ask = async (s: ReturnType<typeof connect>): Promise<string> => await new Promise<string>((resolve, reject) => {
      let got = ''
      const onData = (b: Buffer): void => { got += b.toString(); if (got.endsWith('ok')) { s.off('data', onData); resolve(got) } }
      s.on('data', onData)
      s.once('error', reject)
      s.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n')
    })
    for (let i = 0; i < 3; i++) {
      const s = connect(port, '127.0.0.1')
      sockets.push(s)
      assert.match(await ask(s), /^HTTP\/1.1 200/)
    }
    // The fourth is closed by the server before it answers anything.
    const fourth = connect(port, '127.0.0.1')
    sockets.push(fourth)
    let got = ''
    const closed = await new Promise<boolean>((resolve) => {
      const limit = setTimeout(() => { resolve(false) }, 10_000)
      fourth.on('data', (b: Buffer) => { got += b.toString() })
      fourth.on('close', () => { clearTimeout(limit); resolve(true) })
      fourth.on('error', () => {})
      fourth.on('connect', () => { fourth.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n') })
    })
    assert.ok(closed, `the connection past the cap was still open after 10 s (answered: ${JSON.stringify(got.slice(0, 40))})`)
    assert.equal(got, '', 'nothing answered past the cap')
    assert.match(await ask(sockets[0]), /^HTTP\/1.1 200/, 'a held connection still answers')
  } finally {
    for (const s of sockets) s.destroy()
    await server.close(mount)
  }
})
