/**
 * A caller's signal withdraws a reliable message (docs/delivery.md, "Rejected with the caller's
 * abort reason"): the call rejects with an AbortError carrying
 * the reason's message, the message leaves the outbox, is never
 * retried, is not dead-lettered, and is not resent by the sender restarted from its data
 * directory. A message sent beside it and not withdrawn is the control: it is delivered, so a
 * receiver that never saw the withdrawn one could have.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../../../surfaces/index.js'
import { freePort, nodeOptions, sleep, stopAll, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

/** Short retries: a few attempts a second, so "never retried" is seen over many retry periods. */
const fast: CreateAgentNodeOptions = {
  retry: { maxRetries: 100, initialDelayMs: 100, maxDelayMs: 300, jitter: 0.2 },
  breaker: { failures: 0, resetMs: 1_000 },
  rpc: { timeoutMs: 2_000 }
}

/** A receiver on a fixed port with a fixed identity (a restart is the same agent); `jobs` lists every job its handler ran. */
async function receiver (mesh: string, key: PrivateKey, port: number, jobs: unknown[]): Promise<AgentNode> {
  const node = await createAgentNode(nodeOptions(mesh, { name: 'receiver', privateKey: key, listen: [`/ip4/127.0.0.1/tcp/${port}`] }))
  node.handle('work', (req: any) => { jobs.push(req.job); return { done: req.job } })
  await node.start()
  return node
}

test('a reliable message withdrawn by its caller\'s signal while retrying: rejected with the reason, out of the outbox, never retried, not dead-lettered, not resent after a restart', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const key = await generateKeyPair('Ed25519')
    const port = await freePort()
    const jobs: unknown[] = []
    let r: AgentNode | undefined = await receiver(mesh, key, port, jobs)
    const senderOptions = nodeOptions(mesh, { name: 'sender', dataDir: join(dir, 'sender'), ...fast })
    let s: AgentNode | undefined = await createAgentNode(senderOptions)
    try {
      await s.start()
      await s.dial(r.addresses()[0])
      const peer = r.peerId
      await r.stop()
      r = undefined

      const retries = new Map<string, number>()
      s.delivery.addEventListener('retry', (e) => { retries.set(e.detail.id, (retries.get(e.detail.id) ?? 0) + 1) })
      const caller = new AbortController()
      const withdrawn = s.request(peer, 'work', { job: 'withdrawn' }, { delivery: 'at-least-once', signal: caller.signal })
      const kept = s.request(peer, 'work', { job: 'kept' }, { delivery: 'at-least-once' })
      // Awaited below; handled here too, so an assertion failing first is what the test reports.
      kept.catch(() => {})
      const sender = s
      await waitFor(() => sender.delivery.outbox.size === 2, 'both messages in the outbox')
      const idOf = (job: string): string => {
        const e = sender.delivery.outbox.entries().find(x => (x.payload as any).job === job)
        assert.ok(e !== undefined, `${job} in the outbox`)
        return e.id
      }
      const withdrawnId = idOf('withdrawn')
      const keptId = idOf('kept')
      await waitFor(() => (retries.get(withdrawnId) ?? 0) >= 2, 'the message to be retrying (two retries) while the receiver is down')

      const reason = new Error('the caller changed its mind')
      caller.abort(reason)
      await assert.rejects(withdrawn, (e: any) => e.name === 'AbortError' && e.code === 'ABORT_ERR' && e.message === reason.message)
      assert.deepEqual(s.delivery.outbox.entries().map(e => e.id), [keptId], 'only the message not withdrawn is left in the outbox')
      const retriesAtWithdrawal = retries.get(withdrawnId)

      // The receiver back: the kept message is delivered; the withdrawn one, over many retry periods, never.
      r = await receiver(mesh, key, port, jobs)
      assert.deepEqual(await kept, { done: 'kept' })
      await sleep(3_000)
      assert.deepEqual(jobs, ['kept'], 'the receiver ran the kept message only')
      assert.equal(retries.get(withdrawnId), retriesAtWithdrawal, 'no retry of the withdrawn message after its withdrawal')
      assert.equal(s.deadLetters.list().total, 0, 'a withdrawn message is not a dead letter')
      const outcomes = s.stats.snapshot().delivery_outcomes_total ?? []
      assert.ok(outcomes.some(o => o.labels.outcome === 'failed' && o.value === 1), `the withdrawal counted as failed: ${JSON.stringify(outcomes)}`)

      // The sender restarted on its data directory resends nothing: the withdrawal reached the disk.
      await s.stop()
      s = undefined
      s = await createAgentNode(senderOptions)
      await s.start()
      assert.equal(s.delivery.outbox.size, 0, 'the outbox on disk holds nothing after the restart')
      await s.dial(r.addresses()[0])
      await sleep(2_000)
      assert.deepEqual(jobs, ['kept'], 'nothing was resent after the restart')
    } finally {
      await stopAll([s, r])
    }
  })
})
