/**
 * A hostile but admitted agent sends one neighbour full member exchanges of already-known
 * statements flat out (issue 13: each costs the receiver the parse and compare of every
 * statement, and the answer of its own full set; the signature budget covers new statements
 * only). The flooder is its own process (test/fixtures/member-flooder.ts); the three honest
 * agents run here. Over its budget the exchange is refused unparsed (RATE001), counted by peer and
 * audited; no honest agent is declared offline, and an honest agent's requests to the target
 * keep answering within the coordinator's request timeout.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'
import { createAgentNode, defineCommand, type AgentNode } from '../../surfaces/index.js'
import { AuditLog } from '../../node/audit.js'
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../../protocols/coordination/constants.js'
import { nodeOptions, Proc, sleep, stopAll, uniqueMesh, waitFor } from '../helpers.js'

const FLOODER = fileURLToPath(new URL('../fixtures/member-flooder.js', import.meta.url))
const FLOOD_MS = 12_000
const Echo = defineCommand('test.echo', { request: z.strictObject({ n: z.number() }), response: z.strictObject({ n: z.number() }) })
// The local preset's membership with suspicions long enough that a loaded host refutes in time:
// what would declare an agent offline here is the flood, not a slow machine.
const timings = { preset: 'local' as const, membership: { suspicionMinMs: 1_000, suspicionMaxMs: 3_000 } }

describe('a full-exchange flood by an admitted agent', () => {
  const nodes: AgentNode[] = []
  let flooder: Proc | undefined
  let target: AgentNode
  /** Every state an honest agent was seen in by another honest agent. */
  const seen: string[] = []

  before(async () => {
    const mesh = uniqueMesh()
    for (let i = 0; i < 3; i++) {
      const node = await createAgentNode(nodeOptions(mesh, { ...timings, name: `h${i}`, ...(i > 0 ? { bootstrap: [nodes[0].addresses()[0]] } : {}) }))
      await node.start()
      nodes.push(node)
    }
    target = nodes[0]
    target.handle(Echo, req => ({ n: req.n }))
    await waitFor(() => nodes.every(n => n.peers().length === 2), 'the three honest agents to see each other', 20_000)
    for (const n of nodes) {
      n.addEventListener('member:change', (e) => {
        const m = nodes.find(x => x.peerId === e.detail.peerId)
        if (m !== undefined) seen.push(`${n.name}>${m.name}:${e.detail.to}`)
      })
    }
    flooder = new Proc([FLOODER], {
      AGENTMESH_NAME: 'flooder',
      AGENTMESH_MESH: mesh,
      AGENTMESH_PRESET: 'local',
      AGENTMESH_SECURITY_MODE: 'open',
      AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
      AGENTMESH_BOOTSTRAP: target.addresses()[0],
      AGENTMESH_MDNS: 'false',
      AGENTMESH_LOG_LEVEL: 'silent',
      // Its own breaker would make it fail fast after a few refusals: a flooder has none.
      AGENTMESH_BREAKER_FAILURES: '0',
      FLOOD_TARGET: target.peerId,
      FLOOD_MS: String(FLOOD_MS),
      FLOOD_STATEMENTS: '3000',
      FLOOD_INFLIGHT: '4'
    })
  })

  after(async () => {
    await flooder?.stop()
    await stopAll(nodes)
  })

  it('is refused over its budget (RATE001, counted by peer, audited); no honest agent goes offline and requests keep answering', async () => {
    const proc = flooder as Proc
    const { peerId } = await proc.json(o => o.event === 'started', 'the flooder to start', 30_000)
    await proc.json(o => o.event === 'flooding', 'the flooder to start its flood', 30_000)
    // An honest agent's requests to the target, one after another, all through the flood.
    const failures: string[] = []
    let answered = 0
    const asker = nodes[1]
    const asking = (async () => {
      const end = Date.now() + FLOOD_MS
      for (let i = 0; Date.now() < end; i++) {
        try {
          const r = await asker.request(target.peerId, Echo, { n: i }, { timeoutMs: DEFAULT_REQUEST_TIMEOUT_MS })
          assert.equal(r.n, i)
          answered++
        } catch (err) {
          failures.push(`${(err as { code?: string }).code ?? ''} ${(err as Error).message}`)
        }
        await sleep(100)
      }
    })()
    const done = await proc.json(o => o.event === 'done', 'the flood to end', FLOOD_MS + 60_000)
    await asking
    assert.deepEqual(failures, [], 'every honest request answered within the timeout')
    assert.ok(answered > 0)
    // Paced under the rpc limits, so every refusal is the member view's: a burst of a few full
    // exchanges, then about one a second (16,384 statements per 5 s in the local preset).
    assert.ok(done.refused > 0, `the flood was refused over its budget: ${JSON.stringify(done)}`)
    assert.equal(done.other, 0, `no other failure: ${JSON.stringify(done)}`)
    // Counted by peer in /metrics, and audited as a limit breach.
    assert.ok(target.stats.get('rpc_rate_limited_total', { peer: peerId, limit: 'member_sync' }) > 0, 'counted by peer')
    const audit = target.services.find((s): s is AuditLog => s instanceof AuditLog) as AuditLog
    const breaches = audit.recent({ kind: 'limit.exceeded', peer: peerId })
    assert.ok(breaches.some(e => e.code === 'RATE001' && e.detail?.limit === 'member_sync'), 'audited as a limit breach')
    // No honest agent was declared offline or gone, and each is alive everywhere.
    await waitFor(() => nodes.every(n => nodes.every(m => m === n || n.members().find(x => x.peerId === m.peerId)?.state === 'alive')),
      'every honest agent alive in every honest agent\'s view', 15_000)
    assert.deepEqual(seen.filter(s => /:(offline|left)$/.test(s)), [], 'no honest agent was declared offline or gone')
  })
})
