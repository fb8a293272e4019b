// The examples run as a user runs them, so they never rot.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { join } from 'node:path'
import { DIST, Proc } from './helpers.js'

test('examples/embed-agent: typed request and a broadcast between two embedded agents', async () => {
  const p = new Proc([join(DIST, 'examples/embed-agent.js')])
  assert.equal(await p.exited(30_000), 0, p.stderr)
  assert.ok(p.lines.includes('bob asked alice: 2 + 3 = 5'), p.lines.join('\n'))
  assert.ok(p.lines.includes('alice heard on greetings: "hello from bob" from bob'), p.lines.join('\n'))
})

test('examples/local-mesh (the README\'s first command): five agent processes hear and answer each other and elect a coordinator', async () => {
  const p = new Proc([join(DIST, 'examples/local-mesh.js'), '--agents', '5', '--duration', '9'])
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
})
