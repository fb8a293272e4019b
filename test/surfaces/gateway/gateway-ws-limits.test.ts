/**
 * The gateway WebSocket's bounds (docs/gateway.md, "WebSocket at /v1/ws"), each at its edge and
 * each shown to let through again what it refused once there is room: gateway.wsMaxConnections
 * (the upgrade past it refused, 503), gateway.wsMaxSubscriptions (RATE001), 256 operations in
 * flight per connection (RATE001), a frame over gateway.maxBodyBytes (the socket closed, 1009)
 * while a frame of exactly that size is served. The slow client's drop is in gateway.test.ts.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { WS_MAX_IN_FLIGHT } from '../../../surfaces/gateway/constants.js'
import { startMesh, stopAll, waitFor } from '../../helpers.js'
import { WsClient } from './gateway-client.js'

const MAX_BODY = 4096
const MAX_SUBSCRIPTIONS = 3
const MAX_CONNECTIONS = 3

test('gateway WebSocket limits: connections past wsMaxConnections 503, subscriptions past wsMaxSubscriptions and operations past 256 in flight RATE001, a frame past maxBodyBytes closes 1009', { timeout: 3 * 60_000 }, async () => {
  const nodes = await startMesh(2, (i) => i === 0
    ? { gateway: { listen: '127.0.0.1:0', maxBodyBytes: MAX_BODY, wsMaxSubscriptions: MAX_SUBSCRIPTIONS, wsMaxConnections: MAX_CONNECTIONS } }
    : {})
  const clients: WsClient[] = []
  try {
    // An agent command that answers when the test says so: operations stay in flight meanwhile.
    let release!: () => void
    const gate = new Promise<void>(resolve => { release = resolve })
    let held = 0
    nodes[1].handle('hold', async (req: any) => { held++; await gate; return { n: req.n } })
    const wsUrl = `${(nodes[0].gatewayUrl as string).replace(/^http/, 'ws')}/v1/ws`
    const open = async (): Promise<WsClient> => { const c = await WsClient.open(wsUrl); clients.push(c); return c }

    // Connections: MAX_CONNECTIONS served, the next upgrade refused 503; one closed makes room.
    const [c1, c2, c3] = [await open(), await open(), await open()]
    await assert.rejects(WsClient.open(wsUrl), /upgrade refused: 503/)
    assert.equal((await c1.call('ping')).type, 'pong', 'the connections served go on')
    const closed = new Promise(resolve => { c3.ws.once('close', resolve) })
    c3.ws.close()
    await closed
    let c4: WsClient | undefined
    await waitFor(async () => { c4 = await WsClient.open(wsUrl).catch(() => undefined); return c4 !== undefined }, 'a connection served again once one closed')
    clients.push(c4 as WsClient)

    // Subscriptions: MAX_SUBSCRIPTIONS held, the next RATE001; one dropped makes room.
    for (let i = 1; i <= MAX_SUBSCRIPTIONS; i++) assert.equal((await c1.call('subscribe', { topic: `t${i}` })).type, 'result', `subscription ${i}`)
    const over = await c1.call('subscribe', { topic: 'one-too-many' })
    assert.deepEqual([over.type, over.error.code], ['error', 'RATE001'], JSON.stringify(over))
    assert.match(over.error.message, /wsMaxSubscriptions/)
    assert.equal((await c1.call('unsubscribe', { topic: 't1' })).type, 'result')
    assert.equal((await c1.call('subscribe', { topic: 'one-too-many' })).type, 'result', 'subscribed once one was dropped')

    // In flight: 256 requests held by the agent, the 257th refused at once; answered, there is room again.
    assert.equal(WS_MAX_IN_FLIGHT, 256)
    const pending = Array.from({ length: WS_MAX_IN_FLIGHT }, async (_, n) => await c2.call('request', { agent: 'n1', command: 'hold', payload: { n } }, 120_000))
    // Some at the agent first (it runs only so many of one peer's requests at once; the rest wait
    // at the gateway, in flight all the same): on a loaded host none had reached it when the 257th
    // was refused, and "held > 0" read as false (a run of the suite at load 10).
    await waitFor(() => held > 0, 'the agent to hold requests', 60_000)
    const refused = await c2.call('request', { agent: 'n1', command: 'hold', payload: { n: 'extra' } })
    assert.deepEqual([refused.type, refused.error.code], ['error', 'RATE001'], JSON.stringify(refused))
    const pong = await c2.call('ping')
    assert.equal(pong.type, 'pong', 'a ping is not an operation in flight: answered meanwhile')
    release()
    const answers = await Promise.all(pending)
    assert.deepEqual(answers.map(a => a.result?.result?.n), Array.from({ length: WS_MAX_IN_FLIGHT }, (_, n) => n), 'every request in flight answered')
    const after = await c2.call('request', { agent: 'n1', command: 'hold', payload: { n: 'after' } })
    assert.deepEqual(after.result?.result, { n: 'after' }, 'served again once the answers came')

    // Frames: one of exactly maxBodyBytes is served; one byte more closes the socket with 1009.
    const c = c4 as WsClient
    const frame = (id: number, bytes: number): string => {
      const bare = JSON.stringify({ op: 'publish', id, topic: 'big', payload: { pad: '' } })
      return JSON.stringify({ op: 'publish', id, topic: 'big', payload: { pad: 'x'.repeat(bytes - bare.length) } })
    }
    const atLimit = frame(9001, MAX_BODY)
    assert.equal(Buffer.byteLength(atLimit), MAX_BODY)
    c.ws.send(atLimit)
    await waitFor(() => c.frames.some(f => f.id === 9001), 'the answer to a frame of exactly maxBodyBytes')
    assert.equal(c.frames.find(f => f.id === 9001).type, 'result', JSON.stringify(c.frames.find(f => f.id === 9001)))
    const code = new Promise<number>(resolve => { c.ws.once('close', (n) => { resolve(n) }) })
    const overLimit = frame(9002, MAX_BODY + 1)
    assert.equal(Buffer.byteLength(overLimit), MAX_BODY + 1)
    c.ws.send(overLimit)
    assert.equal(await code, 1009, 'a frame past maxBodyBytes closes the socket with 1009')
    assert.equal(c.frames.some(f => f.id === 9002), false, 'and is not served')
    assert.equal((await c1.call('ping')).type, 'pong', 'the other clients go on')
  } finally {
    for (const c of clients) c.close()
    await stopAll(nodes)
  }
})
