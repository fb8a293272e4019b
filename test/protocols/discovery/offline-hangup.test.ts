// Connections follow the failure detector (protocols/discovery/offline-hangup.ts): a connection to an agent
// held offline past the grace is asked (a ping) and closed if it does not answer; one that
// refutes within the grace, or that left, is not; one that answers is kept and asked again later.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { peerIdFromString } from '@libp2p/peer-id'
import { OfflineHangUp } from '../../../protocols/discovery/offline-hangup.js'
import type { MemberChange } from '../../../protocols/discovery/member-table.js'
import { createAgentNode } from '../../../surfaces/index.js'
import { CLI, nodeOptions, Proc, sleep, uniqueMesh, waitFor } from '../../helpers.js'

/** A member view fed by hand: `tell` sets an agent's state and says so as the view does. */
function handView (): { view: any, state: Map<string, string>, tell: (peerId: string, to: MemberChange['to']) => void } {
  const view = new EventTarget() as EventTarget & { addEventListener: any, removeEventListener: any }
  const state = new Map<string, string>()
  const tell = (peerId: string, to: MemberChange['to']): void => {
    state.set(peerId, to)
    view.dispatchEvent(new CustomEvent('member:change', { detail: { peerId, name: peerId, from: 'alive', to, incarnation: 1 } }))
  }
  return { view, state, tell }
}

test('an agent still offline after the grace is hung up on once; one back alive within it, or one that left, is not', { timeout: 3 * 60_000 }, async () => {
  const { view, state, tell } = handView()
  const hung: string[] = []
  const h = new OfflineHangUp({ changes: view, stateOf: p => state.get(p), hangUp: p => { hung.push(p) }, afterMs: 100 })
  h.start()
  tell('dead', 'offline')
  tell('dead', 'offline') // told twice: still one hang-up
  tell('flaky', 'offline')
  tell('gone', 'left')
  await sleep(30)
  tell('flaky', 'alive')
  await waitFor(() => hung.length >= 1, 'the dead agent to be hung up on', 5_000)
  await sleep(200)
  assert.deepEqual(hung, ['dead'])
  // Stopped: a declaration pending then is dropped with it.
  tell('late', 'offline')
  h.stop()
  await sleep(200)
  assert.deepEqual(hung, ['dead'])
})

test('a connection that still answers is kept and asked again each grace while the agent stays offline; one that does not answer, or throws, is closed', { timeout: 3 * 60_000 }, async () => {
  const { view, state, tell } = handView()
  const hung: string[] = []
  const asked: string[] = []
  const answering = new Set(['busy'])
  const h = new OfflineHangUp({
    changes: view,
    stateOf: p => state.get(p),
    hangUp: p => { hung.push(p) },
    answers: async p => {
      asked.push(p)
      if (p === 'broken') throw new Error('stream reset')
      return answering.has(p)
    },
    afterMs: 100
  })
  h.start()
  tell('busy', 'offline')
  tell('silent', 'offline')
  tell('broken', 'offline')
  await waitFor(() => asked.filter(p => p === 'busy').length >= 3, 'the busy agent to be asked three times', 5_000)
  assert.deepEqual(hung.sort(), ['broken', 'silent'])
  // It stops answering: closed at the next asking.
  answering.delete('busy')
  await waitFor(() => hung.includes('busy'), 'the busy agent, silent now, to be hung up on', 5_000)
  // Back alive: never asked again.
  tell('other', 'offline')
  tell('other', 'alive')
  await sleep(300)
  assert.equal(asked.includes('other'), false)
  h.stop()
  // Off (afterMs 0): nothing is ever asked or closed.
  const off = new OfflineHangUp({ changes: view, stateOf: p => state.get(p), hangUp: p => { hung.push(`off:${p}`) }, afterMs: 0 })
  off.start()
  tell('dead', 'offline')
  await sleep(200)
  off.stop()
  assert.equal(hung.some(p => p.startsWith('off:')), false)
})

test('a paused agent: offline, then its unanswered connection closed; resumed, connected and alive again', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const a = await createAgentNode(nodeOptions(mesh, { name: 'watcher', preset: 'local', membership: { hangUpAfterMs: 1_000 } }))
  await a.start()
  const b = new Proc([CLI, 'start', '--open', '--json', '--no-mdns', '--preset', 'local', '--mesh', mesh, '--name', 'sleeper',
    '--listen', '/ip4/127.0.0.1/tcp/0', '--bootstrap', a.addresses()[0]])
  try {
    const ready = await b.json(o => o.event === 'ready', 'the sleeper ready')
    const id = peerIdFromString(ready.peerId)
    const stateOf = (): string | undefined => a.members().find(m => m.peerId === ready.peerId)?.state
    await waitFor(() => stateOf() === 'alive', 'the sleeper alive at the watcher')
    b.child.kill('SIGSTOP')
    await waitFor(() => stateOf() === 'offline', 'the paused sleeper offline at the watcher')
    // Closed by the hang-up, not by libp2p (its own ping runs every 5 min): the grace, then a
    // ping given 15 s.
    await waitFor(() => a.libp2p.getConnections(id).length === 0, 'the connection to the paused sleeper closed', 45_000)
    b.child.kill('SIGCONT')
    await waitFor(() => stateOf() === 'alive' && a.libp2p.getConnections(id).length > 0, 'the resumed sleeper connected and alive again', 30_000)
  } finally {
    b.child.kill('SIGCONT')
    await b.stop()
    await a.stop()
  }
})
