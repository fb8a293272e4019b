/**
 * Reliable delivery and dead letters together, as a user meets them (issue 14): an exactly-once
 * message to an agent that stays down runs out of retries and becomes a dead letter on the
 * sender; the agent comes back; `agentmesh dead-letters replay` (a real process, through the
 * sender's debug endpoint) sends it again under its original id, the agent runs it once, and a
 * second replay of the same message is answered from the agent's dedup window without running it.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { CLI, freePort, nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

async function cli (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [CLI, 'dead-letters', ...args], { encoding: 'utf8', timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr })
    })
  })
}

async function receiver (mesh: string, key: PrivateKey, port: number, runs: string[]): Promise<AgentNode> {
  const node = await createAgentNode(nodeOptions(mesh, { name: 'receiver', privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] }))
  node.handle('charge', (req: any, ctx) => { runs.push(ctx.envelope.id); return { charged: req.amount } })
  await node.start()
  return node
}

test('a message that ran out of retries is a dead letter on the sender, replayed from the CLI once its agent is back, run once', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const key = await generateKeyPair('Ed25519')
  const port = await freePort()
  const runs: string[] = []
  let r: AgentNode | undefined = await receiver(mesh, key, port, runs)
  const s = await createAgentNode(nodeOptions(mesh, {
    name: 'sender',
    debug: '127.0.0.1:0',
    retry: { maxRetries: 2, initialDelayMs: 50, maxDelayMs: 100, jitter: 0 },
    breaker: { failures: 0, resetMs: 1_000 },
    rpc: { timeoutMs: 1_000 }
  }))
  try {
    await s.start()
    await s.dial(r.addresses()[0])
    const peer = r.peerId
    await r.stop()
    r = undefined
    const err: any = await s.request(peer, 'charge', { amount: 5 }, { delivery: 'exactly-once', idempotencyKey: 'invoice-7' }).then(() => undefined, (e) => e)
    assert.ok(err !== undefined, 'the request failed while its agent was down')
    assert.equal(err.attempts, 3)
    assert.equal(typeof err.deadLetterId, 'string', `the error names its dead letter: ${String(err.message)}`)
    const debug = (s.debugUrl as string).replace(/^http:\/\//, '')

    const listed = await cli(['list', '--debug', debug, '--json'])
    assert.equal(listed.code, 0, listed.stderr)
    const letters = JSON.parse(listed.stdout).letters
    assert.equal(letters.length, 1)
    assert.equal(letters[0].id, err.deadLetterId)
    assert.equal(letters[0].reason, 'retries_exhausted')
    assert.equal(letters[0].attempts, 3)
    assert.equal(letters[0].peer, peer)
    const original = letters[0].envelope.id as string
    assert.equal(original, err.messageId)

    r = await receiver(mesh, key, port, runs)
    await s.dial(r.addresses()[0])
    const replayed = await cli(['replay', err.deadLetterId, '--debug', debug, '--json'])
    assert.equal(replayed.code, 0, replayed.stderr + replayed.stdout)
    assert.deepEqual(JSON.parse(replayed.stdout), [{ id: err.deadLetterId, status: 'resent' }])
    await waitFor(() => runs.length === 1 && s.delivery.outbox.size === 0, 'the replayed message delivered')
    assert.deepEqual(runs, [original], 'the agent ran it once, under the id it was first sent with')
    assert.equal(s.deadLetters.count, 0, 'a message delivered on replay leaves the dead letters')

    // The caller sends it again itself (same key): the agent answers from its dedup window.
    assert.deepEqual(await s.request(peer, 'charge', { amount: 5 }, { delivery: 'exactly-once', idempotencyKey: 'invoice-7' }), { charged: 5 })
    assert.deepEqual(runs, [original], 'not run a second time')
  } finally {
    await stopAll([s, r])
  }
})
