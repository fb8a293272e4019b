/**
 * The durable task table (issue 14): five agent processes, each with its own data directory and
 * identity, are all killed with SIGKILL and started again on the same directories. Every task
 * acknowledged before the kill is still known and ends exactly once: the ones that had completed
 * do not run again, the ones running resume (from their checkpoints, replicated with their
 * progress) and complete once, the ones waiting on a dependency run after it.
 *
 * The agents are harness/fixtures/task-agent.ts processes (the CLI's `start` registers no task
 * handler); they print a line for every attempt's start and end, so the test counts what ran
 * where across both lives of every process.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'
import { createAgentNode, type AgentNode, type TaskStatus } from '../../../surfaces/index.js'
import { agentTimings, freePort, nodeOptions, Proc, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

const AGENT = fileURLToPath(new URL('../../../harness/fixtures/task-agent.js', import.meta.url))
const N = 5
const TIMINGS = agentTimings(N)
const MEMBERSHIP = { heartbeatIntervalMs: 200, probeIntervalMs: 200, probeTimeoutMs: 300, silenceMs: 800, suspicionMinMs: 600, suspicionMaxMs: 1500 }

const parsed = (procs: Proc[]): any[] => procs.flatMap(p => p.lines.map(l => { try { return JSON.parse(l) } catch { return {} } }))

test('tasks: kill -9 all five agents and start them again on their data directories; every acknowledged task is still known and ends once', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const ports = await Promise.all(Array.from({ length: N }, async () => await freePort()))
    const dataDir = (i: number): string => join(dir, `w${i}`, 'data')
    const env = (i: number, bootstrap: string[]): NodeJS.ProcessEnv => ({
      ...TIMINGS,
      AGENTMESH_NAME: `w${i}`,
      AGENTMESH_MESH: mesh,
      // Fixed ports: the second life is found at the addresses of the first.
      AGENTMESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
      AGENTMESH_BOOTSTRAP: bootstrap.join(','),
      AGENTMESH_MDNS: 'false',
      AGENTMESH_LOG_LEVEL: 'silent',
      AGENTMESH_SECURITY_MODE: 'open',
      AGENTMESH_IDENTITY: join(dir, `w${i}`, 'identity.json'),
      AGENTMESH_DATA_DIR: dataDir(i)
    })
    const first: Proc[] = []
    const second: Proc[] = []
    let submitter: AgentNode | undefined
    const submitterIdentity = join(dir, 'submitter.json')
    const newSubmitter = async (bootstrap: string[]): Promise<AgentNode> => {
      // The same identity both times: the tasks' submitter, who may read their status.
      const node = await createAgentNode(nodeOptions(mesh, { name: 'submitter', identity: submitterIdentity, bootstrap, membership: MEMBERSHIP, coordination: { eligible: false } }))
      await node.start()
      return node
    }
    try {
      first.push(new Proc([AGENT], env(0, [])))
      // Each start checks its store in a child process first: on a loaded host that takes seconds.
      const w0 = await first[0].json(o => o.event === 'started', 'w0 to start', 60_000)
      for (let i = 1; i < N; i++) first.push(new Proc([AGENT], env(i, w0.addresses)))
      const started = await Promise.all(first.map(async (p, i) => await p.json(o => o.event === 'started', `w${i} to start`, 60_000)))
      const addresses = started.map(s => s.addresses[0] as string)

      submitter = await newSubmitter(addresses)
      const sub = submitter
      await waitFor(() => sub.peers().length === N, 'the submitter to see the five agents', 45_000)
      await sub.coordinatorElected({ signal: AbortSignal.timeout(30_000) })

      // Completed before the kill: they must not run again after it.
      const quick = await sub.submitTasks(Array.from({ length: 8 }, (_, i) => ({ task_id: `quick-${i}`, type: 'work', metadata: { steps: 1, stepMs: 10 } })))
      await Promise.all(quick.map(async h => await h.result()))
      // Running at the kill (50 steps of 200 ms: far from done), and waiting on them.
      const long = await sub.submitTasks(Array.from({ length: 6 }, (_, i) => ({ task_id: `long-${i}`, type: 'work', metadata: { steps: 50, stepMs: 200 } })))
      const after = await sub.submitTasks([0, 1].map(i => ({ task_id: `after-${i}`, type: 'work', dependencies: [`long-${i}`], metadata: { steps: 1, stepMs: 10 } })))
      const ids = [...quick, ...long, ...after].map(h => h.taskId)
      await waitFor(() => long.every(h => h.latest?.status === 'running' && h.latest.progress > 0), 'every long task running, a step done', 30_000)

      // The whole mesh dies at once, with no chance to flush anything.
      await submitter.stop()
      submitter = undefined
      for (const p of first) p.child.kill('SIGKILL')
      await Promise.all(first.map(async p => await p.exited()))
      for (let i = 0; i < N; i++) assert.ok(existsSync(join(dataDir(i), 'store')), `w${i} has a store in its data directory`)
      for (let i = 0; i < N; i++) second.push(new Proc([AGENT], env(i, addresses.filter((_, j) => j !== i))))
      const again = await Promise.all(second.map(async (p, i) => await p.json(o => o.event === 'started', `w${i} to start again`, 60_000))).catch((err: Error) => {
        // A port taken between the two lives (CI-like run, once: "address already in use"): who holds it, where `ss` is.
        const held = ports.map(port => spawnSync('ss', ['-Hltnp', `sport = :${port}`], { encoding: 'utf8' }).stdout?.trim() ?? '').filter(x => x !== '')
        throw new Error(`${err.message}; listening on the agents' ports now: ${held.join(' | ') || 'nothing (or no ss)'}`)
      })
      assert.deepEqual(again.map(s => s.peerId), started.map(s => s.peerId), 'the same identities')
      submitter = await newSubmitter(addresses)
      const sub2 = submitter
      await waitFor(() => sub2.peers().length === N, 'the new submitter to see the five agents', 45_000)
      await sub2.coordinatorElected({ signal: AbortSignal.timeout(60_000) })

      // Every acknowledged task is known to the new coordinator, and runs to its end.
      const statuses = new Map<string, TaskStatus>()
      await waitFor(async () => {
        for (const id of ids) {
          if (statuses.get(id)?.status === 'completed') continue
          try { statuses.set(id, await sub2.tasks.client.query(id)) } catch (err) {
            // Unknown (TSK001) would be a lost task: fail at once rather than wait.
            if ((err as { code?: string }).code === 'TSK001') throw err
          }
        }
        return ids.every(id => statuses.get(id)?.status === 'completed')
      }, 'every task completed after the restart', 90_000)

      // One end per task across both lives of every process: nothing ran to an end twice.
      const all = [...first, ...second]
      const ends = (): any[] => parsed(all).filter(o => o.event === 'task' && o.phase === 'end')
      await waitFor(() => ids.every(id => ends().some(e => e.task_id === id)), 'every task\'s end line', 10_000)
      const lives = (id: string): string => JSON.stringify([first, second].map(life => parsed(life).filter(o => o.event === 'task' && o.task_id === id)))
      for (const id of ids) assert.equal(ends().filter(e => e.task_id === id).length, 1, `${id} ran to an end once: ${lives(id)}`)
      const restarted = parsed(second).filter(o => o.event === 'task' && o.phase === 'start')
      for (const s of restarted) assert.ok(!String(s.task_id).startsWith('quick-'), `${String(s.task_id)} had completed before the kill and ran again`)
      assert.ok(restarted.some(s => String(s.task_id).startsWith('long-') && s.from > 0), 'a task running at the kill resumed from its checkpoint')
      for (const id of ids.filter(x => x.startsWith('long-'))) {
        const s = statuses.get(id) as TaskStatus
        assert.equal((s.result as { steps: number }).steps, 50, `${id} ran all its steps`)
        assert.ok(s.attempt > 1, `${id} was placed again after the restart (attempt ${s.attempt})`)
      }
    } finally {
      await submitter?.stop()
      await Promise.all([...first, ...second].map(async p => { await p.stop() }))
    }
  })
})
