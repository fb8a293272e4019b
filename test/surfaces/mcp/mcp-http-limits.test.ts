/**
 * The bounds of `agentmesh mcp --http` (docs/mcp.md, "HTTP: who may call"): a body over 2 MiB is
 * refused 413 while one of exactly 2 MiB is served; past 64 requests at once the next is answered
 * 503 with Retry-After, and once one of them ends a request is served again. The 64 are tool calls
 * of a command the agent never answers, so they stay open as long as the test wants.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http'
import { MAX_HTTP_BODY_BYTES, MAX_HTTP_IN_FLIGHT } from '../../../surfaces/mcp/constants.js'
import { CLI, Proc, startMesh, stopAll, waitFor } from '../../helpers.js'

const HEADERS = { 'content-type': 'application/json', accept: 'application/json, text/event-stream' }

/** A POST of `body` to the MCP endpoint: its request (to end it early) and its response once the headers came. */
function post (url: string, body: string): { req: ClientRequest, res: Promise<IncomingMessage> } {
  let req!: ClientRequest
  const res = new Promise<IncomingMessage>((resolve, reject) => {
    req = httpRequest(url, { method: 'POST', headers: { ...HEADERS, 'content-length': Buffer.byteLength(body) } }, resolve)
    req.on('error', reject)
    req.end(body)
  })
  return { req, res }
}

/** The status and body of a POST that ends. */
async function answer (url: string, body: string): Promise<{ status: number, body: string, retryAfter?: string }> {
  const res = await post(url, body).res
  let text = ''
  for await (const chunk of res) text += String(chunk)
  return { status: res.statusCode ?? 0, body: text, ...(res.headers['retry-after'] !== undefined ? { retryAfter: String(res.headers['retry-after']) } : {}) }
}

/** A JSON-RPC tools/call of exactly `bytes` bytes (its padding in an argument the tool does not know). */
function sized (bytes: number): string {
  const message = (pad: string): string => JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'list_agents', arguments: {}, _meta: { pad } } })
  const body = message('x'.repeat(bytes - message('').length))
  assert.equal(Buffer.byteLength(body), bytes)
  return body
}

test('MCP over HTTP: a body past 2 MiB is 413, one of 2 MiB is served; the 65th request at once is 503 with Retry-After, served again once one ends', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(1, () => ({ preset: 'local', coordination: { bootstrapExpect: 1, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 } }))
  nodes[0].handle('hang', async () => await new Promise(() => {}))
  const p = new Proc([CLI, 'mcp', '--mesh', nodes[0].config.mesh, '--no-mdns', '--preset', 'local', '--bootstrap', nodes[0].addresses()[0], '--open', '--http', '127.0.0.1:0', '--json'])
  const held: Array<ReturnType<typeof post>> = []
  try {
    const ready = await p.json(o => o.event === 'ready', 'the ready line', 30_000)
    const url = ready.url as string

    // 413 past the bound; exactly at it, served (an answer of the tool, 200).
    assert.equal(MAX_HTTP_BODY_BYTES, 2 * 1024 * 1024)
    const tooLarge = await answer(url, sized(MAX_HTTP_BODY_BYTES + 1))
    assert.equal(tooLarge.status, 413, tooLarge.body)
    assert.match(tooLarge.body, /Payload Too Large/)
    const atLimit = await answer(url, sized(MAX_HTTP_BODY_BYTES))
    assert.equal(atLimit.status, 200, atLimit.body.slice(0, 500))
    assert.match(atLimit.body, /"agents"/, 'the tool answered')

    // 64 calls held open by an agent that never answers: the 65th is 503, with Retry-After.
    assert.equal(MAX_HTTP_IN_FLIGHT, 64)
    await waitFor(async () => /"n0"/.test((await answer(url, sized(1000))).body), 'the MCP node to see the agent')
    const hang = JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'tools/call', params: { name: 'call_command', arguments: { agent: 'n0', command: 'hang', payload: {}, timeoutMs: 150_000 } } })
    for (let i = 0; i < MAX_HTTP_IN_FLIGHT; i++) held.push(post(url, hang))
    const opened = await Promise.all(held.map(async h => (await h.res).statusCode))
    assert.ok(opened.every(s => s === 200), `the 64 calls are open event streams: ${JSON.stringify(opened)}`)
    const busy = await answer(url, sized(1000))
    assert.equal(busy.status, 503, busy.body)
    assert.equal(busy.retryAfter, '1')
    assert.match(busy.body, /too many requests at once/)

    // One ends (its client goes away): there is room again.
    held.shift()?.req.destroy()
    await waitFor(async () => (await answer(url, sized(1000))).status === 200, 'a request served again once one of the 64 ended')
  } finally {
    for (const h of held) h.req.destroy()
    await p.stop()
    await stopAll(nodes)
  }
})
