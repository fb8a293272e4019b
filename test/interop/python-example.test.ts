/**
 * examples/python-agent/agent.py, the standard-library Python agent, as a user runs it: started
 * against a node's gateway, it subscribes to `wordcount.jobs` over the gateway's WebSocket; jobs
 * published by another agent are answered on `wordcount.results` (the word count, or an error for
 * a job without text), each by the job event's id; after --max-jobs it says so and exits 0.
 * Needs only python3.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { collect, startMesh, stopAll, waitFor } from '../helpers.js'
import { skipWithout } from '../requirements.js'
import { ROOT } from './python.js'

test('python example agent: jobs published on the mesh answered through the gateway\'s WebSocket, then a clean exit', { timeout: 3 * 60_000 }, async (t) => {
  if (skipWithout(t, 'python3')) return
  const nodes = await startMesh(2, (i) => i === 0 ? { gateway: { listen: '127.0.0.1:0' } } : {})
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  const agent = spawn('python3', [join(ROOT, 'examples/python-agent/agent.py'), '--gateway', nodes[0].gatewayUrl as string, '--max-jobs', '3', '--name', 'py-1'], { env: clean, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: any[] = []
  let stderr = ''
  createInterface({ input: agent.stdout }).on('line', (l) => { lines.push(JSON.parse(l)) })
  agent.stderr.on('data', (d) => { stderr += String(d) })
  const exited = new Promise<number | null>(resolve => { agent.once('exit', (code) => { resolve(code) }) })
  try {
    await waitFor(() => lines.some(l => l.event === 'ready') || agent.exitCode !== null, 'the agent\'s ready line', 30_000)
    assert.deepEqual(lines[0], { event: 'ready', topic: 'wordcount.jobs' }, stderr)

    // The jobs come from another agent than the gateway's node: a node is not sent its own events.
    const results = collect(nodes[1], 'wordcount.results')
    await nodes[1].waitForSubscribers('wordcount.jobs')
    await nodes[0].waitForSubscribers('wordcount.results')
    const jobs = [
      await nodes[1].publish('wordcount.jobs', { text: 'the quick brown fox' }),
      await nodes[1].publish('wordcount.jobs', { text: '' }),
      await nodes[1].publish('wordcount.jobs', { nothing: true })
    ]
    await waitFor(() => results.length >= 3, 'three answers on wordcount.results', 30_000)
      .catch((err: Error) => { throw new Error(`${err.message}: the agent printed ${JSON.stringify(lines)}; stderr: ${stderr}`) })
    const byJob = new Map(results.map(m => [(m.payload as any).job, m.payload as any]))
    const ids = jobs.map(j => j.id)
    assert.deepEqual(byJob.get(ids[0]), { job: ids[0], by: 'py-1', words: 4 })
    assert.deepEqual(byJob.get(ids[1]), { job: ids[1], by: 'py-1', words: 0 })
    assert.deepEqual(byJob.get(ids[2]), { job: ids[2], by: 'py-1', error: 'a job is {"text": "..."}' })

    // After its three jobs it ends on its own, saying so.
    assert.equal(await exited, 0, stderr)
    assert.deepEqual(lines.at(-1), { event: 'done', answered: 3 })
  } finally {
    if (agent.exitCode === null) agent.kill('SIGKILL')
    await stopAll(nodes)
  }
})
