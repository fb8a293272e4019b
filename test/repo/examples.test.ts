// The examples run as a user runs them, so they never rot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { execFile } from 'node:child_process'
import { DIST, Proc, waitFor } from '../helpers.js'

test('examples/embed-agent (the README\'s calc.ts in one process): an agent found by capability, a typed request, an alert heard', { timeout: 3 * 60_000 }, async () => {
  const p = new Proc([join(DIST, 'examples/embed-agent.js')])
  assert.equal(await p.exited(30_000), 0, p.stderr)
  assert.deepEqual(p.lines, ['bob asked alice: 2 + 3 = 5', 'alice heard alert high from bob'])
})

// The demo's output, in the shapes the README shows.
const SUMMARY = /^agent-(\d+) +last 10 s: heard (\d+) events? from (\d+) agents?, answered (\d+) requests?, got (\d+) answers?(?: \(mean [\d.]+ ms\))?(, .* failed)?$/
const PIPELINE = /^agent-1 +pipeline (\d+): \((\d+)\+1\) on agent-\d, \((\d+)\+2\) on agent-\d, total (\d+) on agent-\d \([\d.]+ s\)$/m
const ENDPOINT = /^ {2}(agent-\d+) +(http:\/\/127\.0\.0\.1:\d+)\/health +pid (\d+) +12D3KooW\w+$/

/** The endpoints block under the header at `at`: each agent's name, debug URL and pid, and the commands to try. */
function endpointsBlock (lines: string[], at: number): { agents: Array<{ name: string, url: string, pid: number }>, live?: string, tries: string[] } {
  const agents: Array<{ name: string, url: string, pid: number }> = []
  let i = at + 1
  for (let m = ENDPOINT.exec(lines[i] ?? ''); m !== null; m = ENDPOINT.exec(lines[++i] ?? '')) agents.push({ name: m[1], url: m[2], pid: Number(m[3]) })
  const live = /^Live page: (http\S+\/) /.exec(lines[i] ?? '')?.[1]
  const tries: string[] = []
  if (lines[i + 1] === 'Try:') for (i += 2; lines[i]?.startsWith('  ') === true; i++) tries.push(lines[i].trim())
  return { agents, live, tries }
}

/** A line's shape: its numbers and peer ids left out, so the README's sample can be compared with a run. */
const shape = (line: string): string => line.replace(/12D3KooW\S*/g, 'ID').replace(/\d+(\.\d+)?/g, 'N').trimEnd()

/** The README's sample of the demo's output: the first block after its paragraph, less the elisions. */
async function readmeSample (): Promise<string[]> {
  const readme = await readFile(join(DIST, '..', 'README.md'), 'utf8')
  const after = readme.slice(readme.indexOf('Node 20 or 22. The demo'))
  const block = /```\n([^`]*)```/.exec(after)?.[1] ?? ''
  return block.split('\n').filter(l => l.trim() !== '' && l.trim() !== '...')
}

/** Runs a printed command as a user pastes it: through a shell, from the directory the demo ran in. */
async function shell (command: string): Promise<{ code: number, stdout: string, stderr: string }> {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('AGENTMESH_')))
  return await new Promise(resolve => {
    execFile('sh', ['-c', command], { env, timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

test('examples/local-mesh (the README\'s first command): five agent processes hear and answer each other, elect a coordinator, run a pipeline, ' +
  'print a few lines per 10 s, print the endpoints and working commands after start-up and again on Ctrl-C, and leave no process', { timeout: 5 * 60_000 }, async () => {
  const t0 = Date.now()
  const p = new Proc([join(DIST, 'examples/local-mesh.js'), '--agents', '5'])
  const pids: number[] = []
  const out = (): string => p.lines.join('\n')
  const alive = (pid: number): boolean => { try { process.kill(pid, 0); return true } catch { return false } }
  try {
    const header = (re: RegExp): number => p.lines.findIndex(l => re.test(l))
    // The block's last line, not 'Try:': the lines under it may come in a later chunk (a CI run parsed
    // the block with its 'kill' line not yet read).
    await waitFor(() => p.lines.some(l => l.startsWith('Ctrl-C stops the mesh.')) || p.child.exitCode !== null, 'the endpoints after start-up', 60_000)
    const first = endpointsBlock(p.lines, header(/^agentmesh: 5 agents in mesh "demo-\d+", each its own process:$/))
    pids.push(...first.agents.map(a => a.pid))
    assert.deepEqual(first.agents.map(a => a.name), ['agent-1', 'agent-2', 'agent-3', 'agent-4', 'agent-5'], out())
    assert.equal(first.live, `${first.agents[0].url}/`, out())

    // Each agent, by its summaries: heard every other one, answered requests and got answers.
    const summaries = (): Array<{ agent: number, from: number, answered: number, got: number, failed?: string }> => p.lines.flatMap(l => {
      const m = SUMMARY.exec(l)
      return m === null ? [] : [{ agent: Number(m[1]), from: Number(m[3]), answered: Number(m[4]), got: Number(m[5]), failed: m[6] }]
    })
    const heardAndAnswered = (i: number): boolean => {
      const own = summaries().filter(s => s.agent === i)
      return own.some(s => s.from === 4) && own.some(s => s.answered > 0) && own.some(s => s.got > 0)
    }
    await waitFor(() => [1, 2, 3, 4, 5].every(heardAndAnswered) && PIPELINE.test(out()), 'every agent to hear and answer, and a pipeline', 60_000)
      .catch((err: Error) => { throw new Error(`${err.message}\n${out()}\n${p.stderr}`) })
    assert.deepEqual(summaries().filter(s => s.failed !== undefined), [], 'no request failed')
    // They elected a coordinator among themselves, and it said so.
    assert.match(out(), /^agent-\d +elected coordinator \(term \d+\)$/m)
    // The first agent's pipeline: two sums, then the sum of their results on whichever agent.
    const [, round, a, b, total] = (PIPELINE.exec(out()) ?? []).map(Number)
    assert.deepEqual([a, b, total], [round, round, 2 * round + 3], out())
    // Short: the old demo printed about 20 lines per agent per 10 s (a line per message heard or answered).
    const agentLines = p.lines.filter(l => /^agent-\d/.test(l)).length
    const bound = 3 * 5 * Math.ceil((Date.now() - t0) / 10_000)
    assert.ok(agentLines <= bound, `${agentLines} agent lines in ${Date.now() - t0} ms, over ${bound}:\n${out()}`)

    // Every command printed under "Try:" works as pasted.
    const [curl, status, request, kill] = first.tries
    assert.equal(curl, `curl ${first.agents[0].url}/peers`)
    const peers = await (await fetch(`${first.agents[0].url}/peers`)).json() as Array<{ name: string }>
    assert.deepEqual(peers.map(x => x.name).sort(), ['agent-2', 'agent-3', 'agent-4', 'agent-5'])
    const table = await shell(status)
    assert.equal(table.code, 0, table.stderr)
    for (const a of first.agents) assert.match(table.stdout, new RegExp(`^${a.name}\\b`, 'm'), table.stdout)
    const answer = await shell(request)
    assert.equal(answer.code, 0, answer.stderr)
    assert.deepEqual(JSON.parse(answer.stdout), { square: 144, by: 'agent-2' })
    // The kill hint stops the last agent: it exits cleanly and the others see it leave.
    assert.equal(kill, `kill ${first.agents[4].pid}`)
    assert.equal((await shell(kill)).code, 0)
    await waitFor(() => p.lines.includes('agent-5  stopped (exit 0)') && /^agent-\d +sees agent-5 leave$/m.test(out()), 'agent-5 to stop and be seen leaving', 20_000)

    // Ctrl-C: the endpoints of the agents still running, last; the agents stop; exit 0.
    p.child.kill('SIGINT')
    assert.equal(await p.exited(30_000), 0, p.stderr)
    const at = header(/^agentmesh: Ctrl-C: stopping mesh "demo-\d+", which ran at:$/)
    assert.ok(at > 0, out())
    const again = endpointsBlock(p.lines, at)
    assert.deepEqual(again.agents, first.agents.slice(0, 4), out())
    assert.equal(again.live, first.live)
    assert.deepEqual(again.tries, [], 'no commands to try once the mesh is stopping: none would work')
    assert.ok(p.lines.slice(at).every(l => !/^agent-\d/.test(l)), `nothing from the agents after the endpoints:\n${out()}`)
    assert.equal(p.lines.at(-1), 'agentmesh: 4 agents stopped (agent-5 had stopped already)', out())
    assert.deepEqual(pids.filter(alive), [], 'no agent process left')

    // The README shows lines of the shapes this run printed (the run did what the sample shows).
    const printed = new Set(p.lines.map(shape))
    const sample = await readmeSample()
    assert.ok(sample.length > 10, 'the README has a sample of the demo\'s output')
    assert.deepEqual(sample.filter(l => !printed.has(shape(l))), [], `README lines the demo does not print:\n${out()}`)
  } finally {
    await p.stop('SIGKILL')
    for (const pid of pids.filter(alive)) process.kill(pid, 'SIGKILL')
  }
})

test('examples/pipeline: three worker processes run a pipeline with dependencies, each task once, to the result only that order gives', { timeout: 3 * 60_000 }, async () => {
  const p = new Proc([join(DIST, 'examples/pipeline.js')])
  assert.equal(await p.exited(60_000), 0, p.stderr)
  const out = p.lines.join('\n')
  assert.match(out, /^pipeline result: 103$/m, out)
  // In order, and each once: 103 is the sum of the squares of 1-6 (91) and of the even ones (12),
  // so sum ran on both its dependencies' results, and they on fetch's. Not the order of status
  // lines: the example follows statuses, and a handler done within one update shows 'assigned'
  // then 'completed' (beside two CPU burners keep-even did); nor of the workers' lines, relayed
  // through a pipe each.
  for (const task of ['fetch', 'square', 'keep-even', 'sum']) {
    assert.equal(p.lines.filter(l => l.includes(` ran ${task} (`)).length, 1, `${task} ran once:\n${out}`)
  }
  // The example runs open (it says why), and each of its nodes says so: the one warning expected.
  const warnings = p.stderr.split('\n').filter(l => /"level":(40|50)/.test(l) && !/"msg":"open mode: /.test(l))
  assert.deepEqual(warnings, [], 'no other warnings or errors logged')
})

test('examples/auction: the cheapest bid in time wins, the late one is refused', { timeout: 3 * 60_000 }, async () => {
  const p = new Proc([join(DIST, 'examples/auction.js')])
  assert.equal(await p.exited(30_000), 0, p.stderr)
  const out = p.lines.join('\n')
  assert.match(out, /^awarded to bo at 9/m, out)
  assert.match(out, /^late: dee$/m, out)
  assert.match(out, /^dee +hears: late$/m, out)
  assert.match(out, /^ada +hears: rejected$/m, out)
})

test('examples/model-rollout: 20 MiB of weights reach four agents with the announced hash', { timeout: 3 * 60_000 }, async () => {
  const p = new Proc([join(DIST, 'examples/model-rollout.js')])
  assert.equal(await p.exited(60_000), 0, p.stderr)
  const out = p.lines.join('\n')
  const hash = /^trainer announced ranker v7: 20971520 bytes, sha256 ([0-9a-f]{12})…$/m.exec(out)?.[1]
  assert.ok(hash !== undefined, out)
  for (let i = 1; i <= 4; i++) assert.match(out, new RegExp(`^agent-${i} applied ranker v7: 20 MiB, sha256 ${hash}…$`, 'm'))
  assert.match(out, /^rolled out to 4\/4 agents in \d+ ms$/m)
})
