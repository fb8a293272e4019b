/**
 * The audit trail, `allow` on commands and credentials that expire while connected (issue 13),
 * through real nodes of a closed mesh (credentials signed here, as `credential issue` does):
 * a stranger is refused and audited with its peer id; a non-coordinator's directive is refused
 * (CRD002) and audited with the request's envelope id; an agent that is no party to a task
 * cannot cancel it (TSK007, audited); a command allowed to role `ops` refuses an agent without
 * it (SEC002) and serves one with it; the audit file is JSON lines, mode 0600, and `/audit`
 * serves the entries with its filters. A credential issued for a few seconds gets its peer
 * disconnected while connected, and that node reports its own credential expired.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { AgentMeshError, createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../../surfaces/index.js'
import { AuditCoalescer, AuditLog, type AuditEntry } from '../../node/audit.js'
import { Stats } from '../../node/stats.js'
import { createLogger } from '../../node/log.js'
import { issueCredential, newOwnerKey } from '../../protocols/admission/credential.js'
import { DirectiveCommand } from '../../protocols/coordination/index.js'
import { ControlCommand } from '../../protocols/task/index.js'
import { askInOffice, nodeOptions, officeHolder, stopAll, uniqueMesh, waitFor, withTempDir } from '../helpers.js'

const code = (want: string) => (e: Error) => e instanceof AgentMeshError && e.code === want

/** A closed-mesh node: its own key, a credential of `owner` with `roles` for `ttlMs`, an audit log and a debug endpoint. */
async function member (
  dir: string, mesh: string, owner: PrivateKey, name: string, roles: string[], ttlMs: number, extra: CreateAgentNodeOptions = {}
): Promise<AgentNode> {
  const privateKey = await generateKeyPair('Ed25519')
  const now = Date.now()
  const subject = peerIdFromPrivateKey(privateKey).toString()
  const cred = await issueCredential(owner, { mesh, subject, roles, capabilities: [], issuedAt: now, expiresAt: now + ttlMs })
  const credential = join(dir, `${name}.cred.json`)
  await writeFile(credential, JSON.stringify(cred))
  const node = await createAgentNode(nodeOptions(mesh, {
    name,
    privateKey,
    preset: 'local',
    debug: '127.0.0.1:0',
    // A longer election timeout than the local preset's 300-600 ms: this test is about what is
    // audited, and on a loaded host three nodes in one process can stall past it and depose the
    // coordinator mid-test (its checks then say CRD002), as test/protocols/coordination/authority.test.ts found.
    coordination: { bootstrapExpect: 2, electionTimeoutMinMs: 2_000, electionTimeoutMaxMs: 4_000 },
    security: { mode: 'closed', credential, auditLog: join(dir, `${name}.audit.jsonl`), admissionTimeoutMs: 1_500 },
    ...extra
  }))
  await node.start()
  return node
}

function auditOf (node: AgentNode): AuditLog { return node.services.find(s => s instanceof AuditLog) as AuditLog }

const has = (node: AgentNode, match: (e: AuditEntry) => boolean): boolean => auditOf(node).recent({ limit: 1_000 }).some(match)

async function lines (path: string): Promise<AuditEntry[]> {
  return (await readFile(path, 'utf8')).split('\n').filter(l => l !== '').map(l => JSON.parse(l) as AuditEntry)
}

test('closed mesh: refusals of strangers, directives, task controls and commands are audited; allow serves the role it names', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const nodes: AgentNode[] = []
    try {
      const a0 = await member(dir, mesh, owner, 'a0', ['agent', 'coordinator'], 3_600_000)
      nodes.push(a0)
      const boot = { bootstrap: [a0.addresses()[0]] }
      const a1 = await member(dir, mesh, owner, 'a1', ['agent', 'coordinator'], 3_600_000, boot)
      nodes.push(a1)
      // a2 holds the role `ops` and may not coordinate: never the coordinator, never a voter.
      const a2 = await member(dir, mesh, owner, 'a2', ['agent', 'ops'], 3_600_000, boot)
      nodes.push(a2)
      await waitFor(() => nodes.every(n => n.peers().length === 2), 'the three agents to admit each other', 20_000)
      const leader = await officeHolder(nodes, 'a coordinator', 20_000)
      assert.ok(leader !== a2)
      assert.ok(has(a0, e => e.kind === 'admission.admitted' && e.peer === a1.peerId), 'a0 audited admitting a1')
      assert.ok(has(a0, e => e.kind === 'credential.loaded' && e.peer === a0.peerId), 'a0 audited its own credential')

      // allow: only a caller whose credential has the role `ops`.
      let served = 0
      a0.handle('deploy', () => { served++; return { ok: true } }, { allow: { roles: ['ops'] } })
      await assert.rejects(a1.request(a0.peerId, 'deploy', {}), code('SEC002'))
      assert.equal(served, 0, 'the handler never ran for a1')
      assert.deepEqual(await a2.request(a0.peerId, 'deploy', {}), { ok: true })
      assert.equal(served, 1)
      assert.throws(() => a0.handle('nobody', () => null, { allow: { roles: [] } }), code('CFG001'))
      assert.ok(a0.stats.get('messages_total', { status: 'forbidden' }) >= 1)

      // A stranger (no credential, open mode of its own): refused and audited with its peer id.
      const stranger = await createAgentNode(nodeOptions(mesh, { name: 'stranger', preset: 'local', security: { mode: 'open' } }))
      nodes.push(stranger)
      await stranger.start()
      await stranger.dial(a0.addresses()[0])
      await assert.rejects(stranger.request(a0.peerId, 'deploy', {}), code('SEC001'))
      await waitFor(() => has(a0, e => e.kind === 'admission.refused' && e.peer === stranger.peerId && e.code === 'SEC001'), 'the stranger\'s refusal audited')

      // A directive from a2, which does not coordinate: CRD002, audited with the request's envelope id.
      const directive = { directive_id: randomUUID(), timestamp: new Date().toISOString(), target_agent: a0.peerId, action: 'assign_task' as const, parameters: {}, term: a0.coordinator().term }
      await assert.rejects(a2.request(a0.peerId, DirectiveCommand, directive), code('CRD002'))
      const sent = a2.stats.messages.recent(100).find(m => m.direction === 'out' && m.subject === DirectiveCommand.name)
      assert.ok(sent !== undefined, 'a2 logged the directive it sent')
      await waitFor(() => has(a0, e => e.kind === 'directive.refused' && e.peer === a2.peerId && e.code === 'CRD002' && e.correlationId === sent.id), 'the directive refusal audited with its id')

      // A task of a0's: a2 (no party to it) cannot cancel it; a0, its submitter, can.
      const h = await a0.submitTask({ task_id: `t-${randomUUID()}`, type: 'nobody-runs-this' })
      const cancel = { type: 'task.control.cancel' as const, task_id: h.taskId, reason: 'mine now' }
      // Asked of whoever holds office now: CI's run once found the lease lapsed here (CRD002).
      const { answer: refused, holder } = await askInOffice(nodes.filter(n => n !== stranger), n => a2.request(n.peerId, ControlCommand, { ...cancel, command_id: 'c1' }))
      assert.ok(refused.type === 'task.control.reject' && refused.code === 'TSK007', JSON.stringify(refused))
      await waitFor(() => has(holder, e => e.kind === 'task.control.refused' && e.peer === a2.peerId && e.code === 'TSK007' && e.detail?.task_id === h.taskId),
        'the task control refusal audited on the coordinator')
      assert.equal((await h.cancel('still mine')).type, 'task.control.ack')

      // The file: JSON lines with these entries, private to the node's user.
      const file = join(dir, 'a0.audit.jsonl')
      await waitFor(async () => (await lines(file)).some(e => e.kind === 'directive.refused'), 'the directive refusal in a0\'s file')
      const written = await lines(file)
      assert.equal((await stat(file)).mode & 0o777, 0o600)
      for (const kind of ['credential.loaded', 'admission.admitted', 'admission.refused', 'command.forbidden', 'directive.refused']) {
        assert.ok(written.some(e => e.kind === kind && e.node === a0.peerId && typeof e.ts === 'string'), `${kind} in the file`)
      }
      assert.ok(written.some(e => e.kind === 'command.forbidden' && e.peer === a1.peerId && e.detail?.command === 'deploy' && typeof e.correlationId === 'string'))

      // /audit: newest first, filtered by kind (or its area) and peer.
      const base = a0.debugUrl as string
      const all = await (await fetch(`${base}/audit?limit=1000`)).json() as AuditEntry[]
      assert.ok(all.length >= 5)
      assert.ok(all.every((e, i) => i === 0 || e.ts <= all[i - 1].ts), 'newest first')
      const forbidden = await (await fetch(`${base}/audit?kind=command.forbidden`)).json() as AuditEntry[]
      assert.ok(forbidden.length >= 1 && forbidden.every(e => e.kind === 'command.forbidden' && e.peer === a1.peerId))
      const ofStranger = await (await fetch(`${base}/audit?kind=admission&peer=${stranger.peerId}`)).json() as AuditEntry[]
      assert.ok(ofStranger.length >= 1 && ofStranger.every(e => e.kind.startsWith('admission.') && e.peer === stranger.peerId))
      assert.equal((await (await fetch(`${base}/audit?limit=1`)).json() as unknown[]).length, 1)
      assert.ok(a0.stats.get('audit_events_total', { kind: 'command.forbidden' }) >= 1)
    } finally {
      await stopAll(nodes)
    }
  })
})

test('a credential that expires while its peer is connected gets it disconnected; the node reports its own as expired', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const owner = await newOwnerKey()
    const nodes: AgentNode[] = []
    try {
      const a0 = await member(dir, mesh, owner, 'a0', ['agent', 'coordinator'], 3_600_000, { coordination: { bootstrapExpect: 1 } })
      nodes.push(a0)
      // Long enough to start and be admitted on a loaded machine, short enough to wait for.
      const short = await member(dir, mesh, owner, 'short', ['agent'], 6_000, { bootstrap: [a0.addresses()[0]], coordination: { bootstrapExpect: 1 } })
      nodes.push(short)
      await waitFor(() => a0.peers().some(p => p.peerId === short.peerId), 'a0 to admit the short-lived agent', 6_000)
      assert.equal(short.health().security.credentialExpired, false)

      await waitFor(() => has(a0, e => e.kind === 'admission.expired' && e.peer === short.peerId), 'a0 to expel the agent whose credential expired', 15_000)
      await waitFor(() => !a0.peers().some(p => p.peerId === short.peerId), 'the expired agent gone from a0\'s peers', 10_000)
      await waitFor(() => short.health().security.credentialExpired === true, 'the agent to report its own credential expired', 10_000)
      assert.ok(has(short, e => e.kind === 'credential.expiring' && e.peer === short.peerId), 'warned before expiry (10% of its life)')
      assert.ok(has(short, e => e.kind === 'credential.expired'))
      // It redials (bootstrap) and shows the same credential: refused, so it stays out.
      await waitFor(() => has(a0, e => e.kind === 'admission.refused' && e.peer === short.peerId && /expired/.test(e.reason ?? '')), 'its reconnection refused', 20_000)
      assert.ok(!a0.peers().some(p => p.peerId === short.peerId))
    } finally {
      await stopAll(nodes)
    }
  })
})

test('the audit log writes a flood as one line per kind and peer per second, in order, to a private file', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const path = join(dir, 'sub', 'audit.jsonl')
    // An existing file with a wider mode is made private on open.
    await writeFile(join(dir, 'wide.jsonl'), '', { mode: 0o644 })
    const stats = new Stats()
    const log = createLogger('silent', { peer_id: 'me', agent: 'me' })
    const wide = new AuditLog({ node: 'n', path: join(dir, 'wide.jsonl'), keep: 10, stats, log })
    await wide.start()
    assert.equal((await stat(join(dir, 'wide.jsonl'))).mode & 0o777, 0o600)
    await wide.stop()

    const audit = new AuditLog({ node: 'me', path, keep: 50, stats, log })
    audit.record({ kind: 'credential.loaded', peer: 'me' })
    await audit.start()
    for (let i = 0; i < 5_000; i++) audit.record({ kind: 'limit.exceeded', peer: 'flooder', correlationId: `m${i}`, code: 'RATE001' })
    audit.record({ kind: 'command.forbidden', peer: 'other', code: 'SEC002' })
    await audit.stop()
    const written = await lines(path)
    assert.deepEqual(written.map(e => e.kind), ['credential.loaded', 'limit.exceeded', 'command.forbidden', 'limit.exceeded'])
    assert.equal(written[1].correlationId, 'm0')
    // The rest of the flood, counted on one line with the last one's correlation id.
    assert.equal(written[3].detail?.repeated, 4_999)
    assert.equal(written[3].correlationId, 'm4999')
    assert.equal(stats.get('audit_events_total', { kind: 'limit.exceeded' }), 5_000)
    assert.deepEqual(audit.recent({ peer: 'flooder' }).map(e => e.detail?.repeated ?? 1), [4_999, 1])
    assert.equal(audit.recent({ kind: 'limit' }).length, 2)
    assert.equal((await stat(path)).mode & 0o777, 0o600)
  })
})

test('the audit aggregation: the first event of a window is written, the rest summed once a second while it lasts', { timeout: 3 * 60_000 }, () => {
  const c = new AuditCoalescer()
  const e = { kind: 'directive.refused' as const, peer: 'p' }
  assert.equal(c.offer(e, 0), true)
  assert.equal(c.offer(e, 10), false)
  assert.equal(c.offer({ ...e, peer: 'q' }, 20), true, 'another peer has its own window')
  assert.deepEqual(c.due(500), [], 'nothing before the second is over')
  const [sum] = c.due(1_000)
  assert.equal(sum.detail?.repeated, 1)
  assert.equal(c.offer(e, 1_100), false, 'the flood goes on in a new window')
  assert.equal(c.due(2_000)[0].detail?.repeated, 1)
  assert.deepEqual(c.due(3_000), [])
  assert.equal(c.open, 0, 'quiet windows close')
  assert.equal(c.offer(e, 3_001), true)
})

test('the audit trail keeps every keyring change of one operator in one second, each with its op; a refusal flood beside them is still summed', { timeout: 60_000 }, () => {
  const audit = new AuditLog({ node: 'me', keep: 50, stats: new Stats(), log: createLogger('silent', { peer_id: 'me', agent: 'me' }) })
  for (const op of ['install', 'use', 'remove']) audit.record({ kind: 'keyring.changed', peer: 'operator', detail: { op } })
  for (let i = 0; i < 3; i++) audit.record({ kind: 'keyring.refused', peer: 'operator', code: 'MSG001' })
  // At once, before any window closes: what /audit serves the moment the third command is answered.
  assert.deepEqual(audit.recent({ kind: 'keyring.changed' }).map(e => e.detail?.op), ['remove', 'use', 'install'])
  assert.equal(audit.recent({ kind: 'keyring.refused' }).length, 1, 'refusals are still aggregated')
})
