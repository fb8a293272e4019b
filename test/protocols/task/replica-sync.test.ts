/**
 * Anti-entropy of the voters' task replicas (protocols/task/replica-sync.ts, issue 46): a voter
 * that missed replication batches gets the records it lacks or holds older from the
 * coordinator's digest comparison, without a takeover or a voter-set change. First the
 * comparison alone, on random tables (the seed printed); then real nodes on 127.0.0.1, a voter
 * stopped while tasks run and started again on its data directory.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { listForDigest, repairsFor, replicaDigest, versionKey } from '../../../protocols/task/replica-sync.js'
import type { PrunedMark, TaskRecord } from '../../../protocols/task/schemas.js'
import { seededRandom } from '../../../harness/random.js'
import { uniqueMesh } from '../../../harness/process.js'
import { LOADED_HOST_ELECTIONS, nodeOptions, stopAll, waitFor, withTempDir } from '../../helpers.js'

/** Just what the comparison reads of a record. */
const rec = (id: string, term: number, version: number): TaskRecord => ({ spec: { task_id: id }, term, version }) as unknown as TaskRecord

test('replica digest: random replicas brought level with the table in a few comparisons; nothing listed once level; a mark drops only a copy from before it', { timeout: 30_000 }, () => {
  const seed = Number(process.env.REPLICA_SYNC_SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`seed ${seed} (replay: REPLICA_SYNC_SEED=${seed})`)
  const random = seededRandom(seed)
  const int = (n: number): number => Math.floor(random() * n)
  for (let trial = 0; trial < 200; trial++) {
    // The coordinator's table: up to 3,000 records (more than one answer lists when far behind).
    const table = new Map<string, TaskRecord>()
    const size = trial < 5 ? 2_500 + int(500) : int(300)
    for (let i = 0; i < size; i++) table.set(`t${trial}-${i}`, rec(`t${trial}-${i}`, 5 + int(3), 1 + int(20)))
    // Pruned at the coordinator, marked; the voter may still hold a copy from before the mark, or one written after it.
    const marks = new Map<string, PrunedMark>()
    const replica = new Map<string, TaskRecord>()
    for (const r of table.values()) {
      const roll = random()
      if (roll < 0.6) replica.set(r.spec.task_id, r)
      else if (roll < 0.8) replica.set(r.spec.task_id, rec(r.spec.task_id, r.term as number, Math.max(0, r.version - 1 - int(3))))
      else if (roll < 0.85) replica.set(r.spec.task_id, rec(r.spec.task_id, (r.term as number) - 1, r.version + 5))
      // else: the voter lacks it
    }
    const after: string[] = []
    for (let i = 0; i < int(20); i++) {
      const id = `p${trial}-${i}`
      const m = { task_id: id, term: 5, version: 3, at: 0 }
      marks.set(id, m)
      const newer = random() < 0.3
      if (newer) after.push(id)
      replica.set(id, rec(id, 5, newer ? 4 : 1 + int(3)))
    }
    // A copy the coordinator neither holds nor marked (the takeover refused it): left alone.
    replica.set(`x${trial}`, rec(`x${trial}`, 4, 1))

    let comparisons = 0
    for (; comparisons < 20; comparisons++) {
      let sent = 0
      for (let round = 0; round < 4; round++) {
        const salt = int(2 ** 32).toString(16).padStart(8, '0')
        const listed = listForDigest(replica.values(), replicaDigest(table.values(), salt), salt, random)
        assert.ok(listed !== undefined)
        const fix = repairsFor(table, id => marks.get(id), listed.entries, listed.buckets)
        for (const r of fix.records) {
          const held = replica.get(r.spec.task_id)
          if (held === undefined || versionKey(held) < versionKey(r)) replica.set(r.spec.task_id, r)
        }
        for (const m of fix.marks) {
          const held = replica.get(m.task_id)
          assert.ok(held !== undefined && versionKey(held) <= versionKey(m), `seed ${seed}: a mark sent over a copy written after it`)
          replica.delete(m.task_id)
        }
        sent += fix.records.length + fix.marks.length
        if (!listed.more) break
      }
      if (sent === 0) break
    }
    for (const r of table.values()) assert.equal(versionKey(replica.get(r.spec.task_id) ?? rec('', 0, 0)), versionKey(r), `seed ${seed}, trial ${trial}: ${r.spec.task_id} level with the table`)
    for (const id of marks.keys()) assert.equal(replica.has(id), after.includes(id), `seed ${seed}, trial ${trial}: ${id} dropped only when from before its mark`)
    assert.ok(replica.has(`x${trial}`), 'a copy neither held nor marked is left alone')
    assert.ok(comparisons <= (size > 1_000 ? 6 : 2), `seed ${seed}, trial ${trial}: ${comparisons} comparisons for ${size} records`)
  }
  // Level: the answer lists nothing (a bucket with a copy the coordinator neither holds nor marked aside).
  const level = new Map([['a', rec('a', 3, 2)], ['b', rec('b', 3, 9)]])
  const salt = '0badf00d'
  assert.deepEqual(listForDigest(level.values(), replicaDigest(level.values(), salt), salt, Math.random), { entries: [], buckets: [], more: false })
  assert.equal(listForDigest(level.values(), 'zz', salt, Math.random), undefined, 'sums that are not a digest')
  // A record changed a moment ago is left to replication's batch on its way.
  const behind = listForDigest([], replicaDigest(level.values(), salt), salt, Math.random)
  assert.ok(behind !== undefined)
  assert.deepEqual(repairsFor(level, () => undefined, behind.entries, behind.buckets, r => r.spec.task_id !== 'b').records.map(r => r.spec.task_id), ['a'])
})

test('a voter stopped while tasks ran, started again on its data directory, gets their records from the coordinator without a new term', { timeout: 4 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    // The loaded host's election timeouts: a new term would bring the records by a takeover instead.
    const opts = (i: number, bootstrap: string[] = []): Parameters<typeof createAgentNode>[0] => nodeOptions(mesh, {
      name: `n${i}`, dataDir: join(dir, `n${i}`), preset: 'local', coordination: { bootstrapExpect: 3, ...LOADED_HOST_ELECTIONS }, bootstrap
    })
    const nodes: Array<AgentNode | undefined> = []
    try {
      const first = await createAgentNode(opts(0))
      await first.start()
      nodes.push(first)
      for (const i of [1, 2]) {
        const n = await createAgentNode(opts(i, [first.addresses()[0]]))
        await n.start()
        nodes.push(n)
      }
      const live = (): AgentNode[] => nodes.filter((n): n is AgentNode => n !== undefined)
      await waitFor(() => live().every(n => n.peers().length === 2), 'three nodes to see each other', 60_000)
      await waitFor(() => live().filter(n => n.coordinator().inOffice).length === 1 && live().every(n => n.coordinator().voters.length === 3), 'a coordinator and three voters', 60_000)
      const leader = live().find(n => n.coordinator().inOffice) as AgentNode
      const term = leader.coordinator().term
      const away = live().find(n => n !== leader) as AgentNode
      const awayAt = nodes.indexOf(away)
      for (const n of live()) if (n !== away) n.onTask('work', async (ctx) => ctx.task.metadata.n)
      await away.stop()
      nodes[awayAt] = undefined

      const submitter = live().find(n => n !== leader) as AgentNode
      const handles = await submitter.submitTasks(Array.from({ length: 6 }, (_, i) => ({ task_id: `w${i}`, type: 'work', metadata: { n: i } })))
      assert.deepEqual(await Promise.all(handles.map(async h => await h.result())), [0, 1, 2, 3, 4, 5])
      await waitFor(() => leader.tasks.snapshot().table.counts.completed === 6, 'the coordinator\'s table to hold six completed tasks', 30_000)

      const back = await createAgentNode(opts(awayAt, [leader.addresses()[0]]))
      nodes[awayAt] = back
      assert.equal(back.peerId, away.peerId, 'the same identity, from its data directory')
      await back.start()
      await waitFor(() => back.tasks.snapshot().table.counts.completed === 6, 'the voter back to hold the six completed tasks', 60_000).catch((err: Error) => {
        throw new Error(`${err.message}: it holds ${JSON.stringify(back.tasks.snapshot().table.counts)}; the coordinator's comparisons ${JSON.stringify(leader.tasks.snapshot().table.replica_sync)}`)
      })
      assert.equal(leader.coordinator().term, term, 'no new term: the records came by the comparison, not a takeover')
      assert.ok(leader.coordinator().inOffice)
      // Counted once the voter's answer is back, which may come after the test saw the records land.
      await waitFor(() => leader.tasks.snapshot().table.replica_sync.records_sent >= 6, 'the coordinator to count the six records sent', 15_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${JSON.stringify(leader.tasks.snapshot().table.replica_sync)}`)
      })
    } finally {
      await stopAll(nodes)
    }
  })
})
