// The examples run as a user runs them, so they never rot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DIST, Proc } from './helpers.js'

test('examples/embed-agent (the README\'s calc.ts in one process): an agent found by capability, a typed request, an alert heard', async () => {
  const p = new Proc([join(DIST, 'examples/embed-agent.js')])
  assert.equal(await p.exited(30_000), 0, p.stderr)
  assert.deepEqual(p.lines, ['bob asked alice: 2 + 3 = 5', 'alice heard alert high from bob'])
})

test('examples/local-mesh (the README\'s first command): five agent processes hear and answer each other, elect a coordinator and run a task pipeline', async () => {
  const p = new Proc([join(DIST, 'examples/local-mesh.js'), '--agents', '5', '--duration', '12'])
  assert.equal(await p.exited(40_000), 0, p.stderr)
  const out = p.lines.join('\n')
  const debugUrls = p.lines.filter(l => /^ {2}agent-\d +http:\/\/127\.0\.0\.1:\d+\/health/.test(l))
  assert.equal(debugUrls.length, 5, out)
  for (let i = 1; i <= 5; i++) {
    const others = [1, 2, 3, 4, 5].filter(j => j !== i)
    // Every agent hears the status broadcasts of every other one, and gets an answer from someone.
    for (const j of others) assert.match(out, new RegExp(`^agent-${i} +heard agent-${j}:`, 'm'), `agent-${i} heard agent-${j}`)
    assert.match(out, new RegExp(`^agent-${i} +asked agent-\\d: \\d+² = \\d+`, 'm'), `agent-${i} got an answer`)
  }
  assert.deepEqual(p.lines.filter(l => /failed with/.test(l)), [], 'no request failed')
  // They elected a coordinator among themselves, and it said so.
  assert.match(out, /^agent-\d +elected coordinator \(term \d+\)$/m)
  // The first agent's pipeline: two sums, then the sum of their results on whichever agent.
  assert.match(out, /^agent-1 +pipeline 1: \(1\+1\) on agent-\d, \(1\+2\) on agent-\d, total 5 on agent-\d \(/m, out)
})

test('examples/pipeline: three worker processes run a pipeline with dependencies, in order, to its result', async () => {
  const p = new Proc([join(DIST, 'examples/pipeline.js')])
  assert.equal(await p.exited(60_000), 0, p.stderr)
  const out = p.lines.join('\n')
  assert.match(out, /^pipeline result: 103$/m, out)
  const at = (re: RegExp): number => p.lines.findIndex(l => re.test(l))
  assert.ok(at(/^fetch +completed/) < at(/^square +running/) && at(/^fetch +completed/) < at(/^keep-even +running/), out)
  assert.ok(at(/^square +completed/) < at(/^sum +running/) && at(/^keep-even +completed/) < at(/^sum +running/), out)
  assert.doesNotMatch(p.stderr, /"level":(40|50)/, 'no warnings or errors logged')
})

test('examples/auction: the cheapest bid in time wins, the late one is refused', async () => {
  const p = new Proc([join(DIST, 'examples/auction.js')])
  assert.equal(await p.exited(30_000), 0, p.stderr)
  const out = p.lines.join('\n')
  assert.match(out, /^awarded to bo at 9/m, out)
  assert.match(out, /^late: dee$/m, out)
  assert.match(out, /^dee +hears: late$/m, out)
  assert.match(out, /^ada +hears: rejected$/m, out)
})

test('examples/model-rollout: 20 MiB of weights reach four agents with the announced hash', async () => {
  const p = new Proc([join(DIST, 'examples/model-rollout.js')])
  assert.equal(await p.exited(60_000), 0, p.stderr)
  const out = p.lines.join('\n')
  const hash = /^trainer announced ranker v7: 20971520 bytes, sha256 ([0-9a-f]{12})…$/m.exec(out)?.[1]
  assert.ok(hash !== undefined, out)
  for (let i = 1; i <= 4; i++) assert.match(out, new RegExp(`^agent-${i} applied ranker v7: 20 MiB, sha256 ${hash}…$`, 'm'))
  assert.match(out, /^rolled out to 4\/4 agents in \d+ ms$/m)
})
