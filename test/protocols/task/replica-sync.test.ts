/**
 * Anti-entropy of the voters' task replicas (protocols/task/replica-sync.ts, issue 46): a voter
 * that missed replication batches gets the records it lacks or holds older from the
 * coordinator's digest comparison, without a takeover or a voter-set change. First the
 * comparison alone, on random tables (the seed printed); then real nodes on 127.0.0.1, a voter
 * stopped while tasks run and started again on its data directory. (A late mark over a record
 * written after it: test/protocols/task/task-pruned.test.ts.)
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { REPAIR_MAX_RECORDS, later, listForDigest, repairsFor, replicaDigest, type Listing, type Scope } from '../../../protocols/task/replica-sync.js'
import { REPLICA_LISTED_CHARS, REPLICA_LISTED_MAX, type PrunedMark, type TaskRecord } from '../../../protocols/task/schemas.js'
import { seededRandom } from '../../../harness/random.js'
import { uniqueMesh } from '../../../harness/process.js'
import { LOADED_HOST_ELECTIONS, nodeOptions, officeHolder, stopAll, waitFor, withTempDir } from '../../helpers.js'

/** Just what the comparison reads of a record. */
const rec = (id: string, term: number, version: number): TaskRecord => ({ spec: { task_id: id }, term, version }) as unknown as TaskRecord
const keyOf = (r: TaskRecord | undefined): string => r === undefined ? 'none' : `${r.term ?? 0}.${r.version}`

/**
 * Comparisons as the coordinator runs them (rounds, the repair budget), the voter applying what it
 * is sent as its table would (newer by term, then version; a mark drops a copy from before it).
 * Returns how many comparisons sent something (the last one that did, counted from one).
 */
type Table = Map<string, TaskRecord>
function bringLevel (table: Table, marks: Map<string, PrunedMark>, replica: Table, random: () => number, seed: number): number {
  let comparisons = 0
  let idle = 0
  for (; comparisons < 60; comparisons++) {
    let sent = 0
    const budget = { left: REPAIR_MAX_RECORDS }
    const scope = (s: Scope): { listing: Listing, sent: number } => {
      const salt = Math.floor(random() * 2 ** 32).toString(16).padStart(8, '0')
      const listing = listForDigest(replica.values(), replicaDigest(table.values(), salt, s), salt, random, s)
      assert.ok(listing !== undefined)
      assert.ok(listing.entries.length <= REPLICA_LISTED_MAX && JSON.stringify(listing).length <= REPLICA_LISTED_CHARS + 1_000, `seed ${seed}: a listing of ${listing.entries.length} entries`)
      const fix = repairsFor(table, id => marks.get(id), listing, () => true, budget.left, s)
      for (const r of fix.records) {
        const held = replica.get(r.spec.task_id)
        if (held === undefined || later(r.term ?? 0, r.version, held.term ?? 0, held.version)) replica.set(r.spec.task_id, r)
      }
      for (const m of fix.marks) {
        const held = replica.get(m.task_id)
        assert.ok(held !== undefined && !later(held.term ?? 0, held.version, m.term, m.version), `seed ${seed}: a mark sent over a copy written after it`)
        replica.delete(m.task_id)
      }
      budget.left -= fix.records.length
      sent += fix.records.length + fix.marks.length
      return { listing, sent: fix.records.length + fix.marks.length }
    }
    for (let round = 0; round < 4 && budget.left > 0; round++) {
      const top = scope({})
      let any = top.sent
      for (const bucket of (top.listing.differing ?? []).slice(0, 8)) if (budget.left > 0) any += scope({ bucket }).sent
      if (!top.listing.more || any === 0) break
    }
    if (sent === 0) idle++
    else idle = 0
    // Done once level, and nothing sent for a while (a comparison lists buckets from a random one: marks may be left).
    if (idle >= 3 && !replicaBehind(table, replica)) break
  }
  return comparisons - idle + 1
}

const replicaBehind = (table: Table, replica: Table): boolean => [...table.values()].some(r => keyOf(replica.get(r.spec.task_id)) !== keyOf(r))

test('replica digest: random replicas brought level with the table; nothing listed once level; a mark drops only a copy from before it; large buckets by sub-bucket', { timeout: 60_000 }, () => {
  const seed = Number(process.env.REPLICA_SYNC_SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`seed ${seed} (replay: REPLICA_SYNC_SEED=${seed})`)
  const random = seededRandom(seed)
  const int = (n: number): number => Math.floor(random() * n)
  for (let trial = 0; trial < 120; trial++) {
    // Mostly small tables; a few far behind (more than one comparison's budget), one whose buckets
    // hold more than 1,000 each (compared by sub-bucket), one of long ids (the listing's size bound).
    const size = trial === 0 ? 70_000 : trial < 4 ? 2_500 + int(3_000) : int(300)
    const pad = trial === 4 ? 'y'.repeat(100) : ''
    const table = new Map<string, TaskRecord>()
    for (let i = 0; i < size; i++) { const id = `t${trial}-${pad}${i}`; table.set(id, rec(id, 5 + int(3), 1 + int(20))) }
    const marks = new Map<string, PrunedMark>()
    const replica = new Map<string, TaskRecord>()
    // The voter: most records level; some older (a version behind, or an earlier term with a higher version); some missing.
    const behind = trial === 0 ? 0.002 : 0.4
    for (const r of table.values()) {
      const roll = random()
      const id = r.spec.task_id
      if (roll >= behind) replica.set(id, r)
      else if (roll < behind / 2) replica.set(id, rec(id, r.term as number, Math.max(0, r.version - 1 - int(3))))
      else if (roll < behind * 0.7) replica.set(id, rec(id, (r.term as number) - 1, r.version + 5))
    }
    // Pruned at the coordinator, marked; the voter may still hold a copy from before the mark, or one written after it.
    const after: string[] = []
    for (let i = 0; i < int(20); i++) {
      const id = `p${trial}-${i}`
      marks.set(id, { task_id: id, term: 5, version: 3, at: 0 })
      const newer = random() < 0.3
      if (newer) after.push(id)
      // After the mark (term 5, version 3): a later version of its term, or any of a later term; before it: the opposite.
      const half = random() < 0.5
      replica.set(id, newer ? (half ? rec(id, 5, 4 + int(3)) : rec(id, 6, 1 + int(3))) : (half ? rec(id, 5, 1 + int(3)) : rec(id, 4, 1 + int(9))))
    }
    // A copy the coordinator neither holds nor marked (the takeover refused it): left alone.
    replica.set(`x${trial}`, rec(`x${trial}`, 4, 1))

    const comparisons = bringLevel(table, marks, replica, random, seed)
    for (const r of table.values()) assert.equal(keyOf(replica.get(r.spec.task_id)), keyOf(r), `seed ${seed}, trial ${trial}: ${r.spec.task_id} level with the table`)
    for (const id of marks.keys()) assert.equal(replica.has(id), after.includes(id), `seed ${seed}, trial ${trial}: ${id} dropped only when from before its mark`)
    assert.ok(replica.has(`x${trial}`), 'a copy neither held nor marked is left alone')
    const bound = size > 50_000 ? 6 : size > 1_000 ? 6 : 2
    assert.ok(comparisons <= bound, `seed ${seed}, trial ${trial}: ${comparisons} comparisons for ${size} records`)
  }
  // Level: the answer lists nothing.
  const level = new Map([['a', rec('a', 3, 2)], ['b', rec('b', 3, 9)]])
  const salt = '0badf00d'
  assert.deepEqual(listForDigest(level.values(), replicaDigest(level.values(), salt), salt, Math.random), { entries: [], buckets: [], more: false })
  assert.equal(listForDigest(level.values(), 'zz', salt, Math.random), undefined, 'sums that are not a digest')
  // A record sent a moment ago is left to replication's batch on its way; the budget bounds a comparison.
  const empty = listForDigest([], replicaDigest(level.values(), salt), salt, Math.random)
  assert.ok(empty !== undefined)
  assert.deepEqual(repairsFor(level, () => undefined, empty, id => id !== 'b').records.map(r => r.spec.task_id), ['a'])
  assert.equal(repairsFor(level, () => undefined, empty, () => true, 1).records.length, 1)
  // Term before version, with versions past 2^32: the earlier term's copy is older whatever its version.
  assert.ok(later(6, 4, 5, 2 ** 33) && !later(5, 2 ** 33, 6, 4))
  const big = new Map([['z', rec('z', 6, 4)]])
  const stale = listForDigest([rec('z', 5, 2 ** 33)], replicaDigest(big.values(), salt), salt, Math.random)
  assert.ok(stale !== undefined)
  assert.deepEqual(repairsFor(big, () => undefined, stale).records.map(keyOf), ['6.4'])
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
      await waitFor(() => live().every(n => n.coordinator().voters.length === 3), 'three voters', 60_000)
      const leader = await officeHolder(live(), 'a coordinator followed by both others', 60_000)
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
