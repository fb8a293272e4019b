/**
 * Acknowledged tasks survive the loss of the coordinator and of the agent running them: five
 * agent processes on 127.0.0.1 run tasks submitted by this process's node; the coordinator is
 * killed with SIGKILL mid-task, then an agent holding a task. Every task must end completed
 * once: one completion in the whole mesh, one terminal status, and the new coordinator's table
 * agreeing with what the submitter saw.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { createAgentNode, type AgentNode, type TaskHandle, type TaskStatus } from '../../../surfaces/index.js'
import { join } from 'node:path'
import { agentTimings, nodeOptions, Proc, uniqueMesh, waitFor, withTempDir } from '../../helpers.js'

const AGENT = fileURLToPath(new URL('../../../harness/fixtures/task-agent.js', import.meta.url))
const TIMINGS = agentTimings(5)
/** Steps of 100 ms in each task of the first test. */
const STEPS = 80

function workerEnv (mesh: string, i: number, bootstrap: string[]): NodeJS.ProcessEnv {
  return {
    ...TIMINGS,
    AGENTMESH_NAME: `worker${i}`,
    AGENTMESH_MESH: mesh,
    AGENTMESH_LISTEN: '/ip4/127.0.0.1/tcp/0',
    AGENTMESH_BOOTSTRAP: bootstrap.join(','),
    AGENTMESH_MDNS: 'false',
    AGENTMESH_LOG_LEVEL: 'silent',
    // The lan timings above are this test's own; the mode it needs said (nodes are closed by default).
    AGENTMESH_SECURITY_MODE: 'open'
  }
}

/** Start `n` worker processes into `agents` (the first, then the rest bootstrapping from it); their "started" lines. */
async function startWorkers (agents: Proc[], n: number, env: (i: number, bootstrap: string[]) => NodeJS.ProcessEnv): Promise<{ first: any, started: any[] }> {
  agents.push(new Proc([AGENT], env(0, [])))
  const first = await agents[0].json(o => o.event === 'started', 'worker0 to start')
  for (let i = 1; i < n; i++) agents.push(new Proc([AGENT], env(i, first.addresses)))
  const started = await Promise.all(agents.map(async (a, i) => await a.json(o => o.event === 'started', `worker${i} to start`)))
  return { first, started }
}

test('tasks: the coordinator and then an executing agent are killed mid-task; every acknowledged task completes exactly once', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const agents: Proc[] = []
  let submitter: AgentNode | undefined
  try {
    const { first, started } = await startWorkers(agents, 5, (i, bootstrap) => workerEnv(mesh, i, bootstrap))
    const peerOf = new Map<string, Proc>(started.map((s, i) => [s.peerId as string, agents[i]]))

    // The submitter takes no part in elections and runs no tasks: what it sees is the user's view.
    submitter = await createAgentNode(nodeOptions(mesh, {
      name: 'submitter',
      bootstrap: first.addresses,
      membership: { heartbeatIntervalMs: 200, probeIntervalMs: 200, probeTimeoutMs: 300, silenceMs: 800, suspicionMinMs: 600, suspicionMaxMs: 1500 },
      coordination: { eligible: false }
    }))
    await submitter.start()
    const sub = submitter
    await waitFor(() => sub.peers().length === 5, 'the submitter to see the five workers', 45_000)
    const firstLeader = (await sub.coordinatorElected({ signal: AbortSignal.timeout(20_000) })).leader

    // 8 s a task: long enough that, on a loaded host, the victim below still has most of its
    // task ahead of it when killed (with 3 s ones, the victim's task once ended in the moment
    // before the kill, and nothing had to be placed again: a failure of the test, not the mesh).
    const handles: TaskHandle[] = await sub.submitTasks(Array.from({ length: 6 }, (_, i) => ({
      task_id: `job-${i}`, type: 'work', metadata: { steps: STEPS, stepMs: 100 }
    })))
    const seen = new Map<string, TaskStatus[]>()
    const watching = handles.map(async h => { const list: TaskStatus[] = []; seen.set(h.taskId, list); for await (const s of h.updates()) list.push(s) })
    // Three steps in: each task's checkpoint has been replicated to the voters (every 25 ms) by
    // then, so a task of the coordinator about to die has one to resume from.
    await waitFor(() => handles.every(h => h.latest?.status === 'running' && h.latest.progress >= 3 / STEPS), 'all six tasks past their third step', 20_000)

    // The coordinator dies mid-task, taking the tasks it ran itself with it.
    const old = peerOf.get(firstLeader) as Proc
    old.child.kill('SIGKILL')
    await waitFor(() => { const c = sub.coordinator(); return c.leader !== undefined && c.leader !== firstLeader }, 'a new coordinator', 20_000)
    const newLeader = sub.coordinator().leader as string

    // Then an agent holding a running task (not the new coordinator) dies too: the one whose
    // task is least far along, and not past 60% of it, so that it is still running at the kill.
    const victimTask = await (async () => {
      let found: TaskHandle | undefined
      await waitFor(() => {
        const running = handles.filter(h => h.latest?.status === 'running' && h.latest.agent !== undefined && h.latest.agent !== newLeader && h.latest.agent !== firstLeader && h.latest.progress <= 0.6)
        found = running.sort((a, b) => (a.latest?.progress ?? 0) - (b.latest?.progress ?? 0))[0]
        return found !== undefined
      }, 'a task under 60% done, running on an agent other than the coordinators', 20_000)
      return found as TaskHandle
    })()
    const victimPeer = victimTask.latest?.agent as string
    // The victim's task must have reported to the new coordinator (the submitter hears its
    // progress move on through it) so that its checkpoint is the new coordinator's to resume.
    const progressThen = victimTask.latest?.progress ?? 0
    await waitFor(() => (victimTask.latest?.progress ?? 0) >= progressThen + 2 / STEPS, 'the victim\'s task to report through the new coordinator', 20_000)
    const victim = peerOf.get(victimPeer) as Proc
    victim.child.kill('SIGKILL')

    const results = await Promise.all(handles.map(async h => await Promise.race([
      h.result(),
      new Promise((_resolve, reject) => setTimeout(() => { reject(new Error(`task ${h.taskId} did not finish: ${JSON.stringify(h.latest)}`)) }, 60_000).unref())
    ])))
    await Promise.all(watching)

    for (const [i, h] of handles.entries()) {
      const list = seen.get(h.taskId) as TaskStatus[]
      assert.equal(list.filter(s => ['completed', 'failed', 'cancelled'].includes(s.status)).length, 1, `${h.taskId}: one terminal status`)
      assert.deepEqual((results[i] as { steps: number }).steps, STEPS)
    }
    // One completion per task across every process, the killed ones included (their output
    // up to the kill is kept).
    // A worker's "end" line and its result reach this process by different paths (its stdout,
    // the mesh), so the line may come a moment after the result: wait for one per task first.
    const endLines = (): any[] => agents.flatMap(a => a.lines.map(l => { try { return JSON.parse(l) } catch { return {} } }))
      .filter(o => o.event === 'task' && o.phase === 'end')
    await waitFor(() => handles.every(h => endLines().some(e => e.task_id === h.taskId)), 'every task\'s end line from its worker', 10_000)
    const ends = endLines()
    for (const h of handles) assert.equal(ends.filter(e => e.task_id === h.taskId).length, 1, `${h.taskId} completed once in the mesh`)
    // Some task really moved: the dead agents' attempts were placed again, from their checkpoints.
    const starts = agents.flatMap(a => a.lines.map(l => { try { return JSON.parse(l) } catch { return {} } })).filter(o => o.event === 'task' && o.phase === 'start')
    const resumed = starts.filter(s => s.attempt > 1)
    assert.ok(resumed.length >= 1, 'at least one task was placed again after its agent died')
    assert.ok(resumed.some(s => s.from > 0), 'a re-placed task resumed from its checkpoint')
    // The coordinator in office now agrees with what the submitter saw.
    for (const h of handles) {
      const s = await h.status()
      assert.equal(s.status, 'completed')
    }
  } finally {
    await submitter?.stop()
    await Promise.all(agents.map(async a => { await a.stop() }))
  }
})

test('tasks: an agent killed mid-task and back with the same identity before anyone finds it offline loses nothing: the coordinator asks it, learns it no longer holds the task, and places it again', { timeout: 3 * 60_000 }, async () => {
  await withTempDir(async (dir) => {
    const mesh = uniqueMesh()
    const agents: Proc[] = []
    let submitter: AgentNode | undefined
    // Failure detection slow on purpose: the restart happens long before anyone could call the
    // agent offline, so only the coordinator's questions can find the lost attempt.
    const slowDetection = { AGENTMESH_MEMBERSHIP_SILENCE_MS: '30000', AGENTMESH_MEMBERSHIP_SUSPICION_MIN_MS: '30000', AGENTMESH_MEMBERSHIP_SUSPICION_MAX_MS: '60000' }
    try {
      const env = (i: number, bootstrap: string[]): NodeJS.ProcessEnv => ({
        ...workerEnv(mesh, i, bootstrap),
        ...slowDetection,
        AGENTMESH_COORDINATION_BOOTSTRAP_EXPECT: '3',
        AGENTMESH_IDENTITY: join(dir, `worker${i}.json`)
      })
      const { first, started } = await startWorkers(agents, 3, env)
      submitter = await createAgentNode(nodeOptions(mesh, { name: 'submitter', bootstrap: first.addresses, coordination: { eligible: false } }))
      await submitter.start()
      const sub = submitter
      await waitFor(() => sub.peers().length === 3, 'the submitter to see the three workers', 20_000)
      const leader = (await sub.coordinatorElected({ signal: AbortSignal.timeout(20_000) })).leader

      const handles = await sub.submitTasks(Array.from({ length: 3 }, (_, i) => ({ task_id: `long-${i}`, type: 'work', metadata: { steps: 40, stepMs: 100 } })))
      const reasons: string[] = []
      const watching = handles.map(async h => { for await (const s of h.updates()) if (s.reason !== undefined) reasons.push(s.reason) })
      let target: TaskHandle | undefined
      await waitFor(() => {
        target = handles.find(h => h.latest?.status === 'running' && h.latest.progress > 0 && h.latest.agent !== leader)
        return target !== undefined
      }, 'a task running on an agent that is not the coordinator', 20_000)
      const task = target as TaskHandle
      const victimIndex = started.findIndex(s => s.peerId === task.latest?.agent)
      const killedAttempt = task.latest?.attempt as number
      agents[victimIndex].child.kill('SIGKILL')
      await agents[victimIndex].exited()
      agents[victimIndex] = new Proc([AGENT], env(victimIndex, started.filter((_, i) => i !== victimIndex).flatMap(s => s.addresses)))
      const back = await agents[victimIndex].json(o => o.event === 'started', 'the killed worker to come back')
      assert.equal(back.peerId, started[victimIndex].peerId, 'same identity')

      const results = await Promise.all(handles.map(async h => await Promise.race([
        h.result(),
        new Promise((_resolve, reject) => setTimeout(() => { reject(new Error(`task ${h.taskId} did not finish: ${JSON.stringify(h.latest)}`)) }, 45_000).unref())
      ])))
      await Promise.all(watching)
      for (const r of results) assert.equal((r as { steps: number }).steps, 40)
      assert.ok((task.latest?.attempt ?? 0) > killedAttempt, `placed again: attempt ${String(task.latest?.attempt)} after ${killedAttempt}`)
      assert.ok(reasons.some(r => /does not hold attempt/.test(r)), `found by asking the agent: ${reasons.join(' | ')}`)
      assert.ok(!reasons.some(r => /was lost/.test(r)), 'not by failure detection')
    } finally {
      await submitter?.stop()
      await Promise.all(agents.map(async a => { await a.stop() }))
    }
  })
})
