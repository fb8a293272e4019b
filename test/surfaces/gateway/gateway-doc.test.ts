/**
 * docs/gateway.md as printed, against the agent a newcomer has: an `agentmesh start` node (which
 * answers echo and info only) named a2, with its gateway. Issue 44: the doc called `square`,
 * which only the tests' agents have, so its first command answered CMD001 on a CLI agent.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { CLI, DIST, Proc, uniqueMesh } from '../../helpers.js'
import { WsClient } from './gateway-client.js'

test('docs/gateway.md\'s curl commands and its WebSocket request frame answer as printed from a CLI agent', { timeout: 3 * 60_000 }, async () => {
  const doc = await readFile(join(DIST, '..', 'docs', 'gateway.md'), 'utf8')
  const curls = (/```sh\n([^`]*)```/.exec(doc)?.[1] ?? '').split('\n').filter(l => l.startsWith('curl '))
  assert.ok(curls.some(l => l.includes('-XPOST')), 'the doc calls a command')
  const frame = /→ (\{ "op": "request".*\})\s+←/.exec(doc)?.[1]
  assert.ok(frame !== undefined, 'the doc shows a request frame')
  const a2 = new Proc([CLI, 'start', '--open', '--json', '--name', 'a2', '--mesh', uniqueMesh(), '--no-mdns', '--no-data-dir', '--log-level', 'warn',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--gateway', '127.0.0.1:0'])
  try {
    const ready = await a2.json(o => o.event === 'ready', 'a2 ready', 30_000)
    const hostPort = (ready.gateway as string).replace('http://', '')
    for (const line of curls) {
      // curl [-XPOST] [-H header] [-d 'body'] url [# comment]: what the doc's lines use.
      const body = /-d '([^']*)'/.exec(line)?.[1]
      const url = /(127\.0\.0\.1:8080\S*)/.exec(line)?.[1].replace('127.0.0.1:8080', `http://${hostPort}`) as string
      const res = await fetch(url, body !== undefined ? { method: 'POST', headers: { 'content-type': 'application/json' }, body } : {})
      assert.equal(res.status, 200, `${line}: ${await res.clone().text()}`)
      // A command's answer is the body itself (echo: what was sent).
      if (body !== undefined) assert.deepEqual(await res.json(), JSON.parse(body), line)
    }
    const ws = await WsClient.open(`ws://${hostPort}/v1/ws`)
    try {
      // The client numbers its frames itself: the doc's id is left to it.
      const { op, id: _id, ...fields } = JSON.parse(frame)
      const answer = await ws.call(op, fields)
      assert.equal(answer.type, 'result', JSON.stringify(answer))
      assert.deepEqual(answer.result.result, fields.payload)
    } finally {
      ws.close()
    }
  } finally {
    await a2.stop()
  }
})
