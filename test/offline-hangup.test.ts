// Connections follow the failure detector (discovery/offline-hangup.ts): an agent held offline
// past the grace is hung up on; one that refutes within it, or that left, is not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { OfflineHangUp } from '../discovery/offline-hangup.js'
import type { MemberChange } from '../discovery/member-table.js'
import { sleep, waitFor } from './helpers.js'

test('an agent still offline after the grace is hung up on once; one back alive within it, or one that left, is not', async () => {
  const view = new EventTarget() as EventTarget & { addEventListener: any, removeEventListener: any }
  const state = new Map<string, string>()
  const hung: string[] = []
  const h = new OfflineHangUp({ changes: view, stateOf: p => state.get(p), hangUp: p => { hung.push(p) }, afterMs: 100 })
  const tell = (peerId: string, to: MemberChange['to']): void => {
    state.set(peerId, to)
    view.dispatchEvent(new CustomEvent('member:change', { detail: { peerId, name: peerId, from: 'alive', to, incarnation: 1 } }))
  }
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
