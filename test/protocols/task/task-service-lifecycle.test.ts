/**
 * TaskService and ResourceService as services, with no network: start() and stop() twice (and
 * stop() before start()) are safe, the listeners they add to the office and the member view are
 * added once and removed on stop, and a member going offline is acted on by the services
 * themselves (no node in between).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TypedEventEmitter } from 'main-event'
import type { RpcService } from '../../../protocols/rpc/index.js'
import type { NegotiationService } from '../../../protocols/negotiation/index.js'
import type { Office, OfficeEvents } from '../../../protocols/coordination/office.js'
import type { MemberSourceEvents } from '../../../protocols/discovery/member-source.js'
import type { Member } from '../../../protocols/discovery/members.js'
import { TaskService } from '../../../protocols/task/index.js'
import { ResourceService } from '../../../protocols/resource/index.js'
import { NotCoordinatorError } from '../../../protocols/core/errors.js'
import { generateKeyPair } from '@libp2p/crypto/keys'

/** Signs the submissions of this node's tasks (none are submitted here, but the service needs one). */
const KEY = await generateKeyPair('Ed25519')

class FakeOffice extends TypedEventEmitter<OfficeEvents> implements Office {
  inOffice = true
  term = 1
  leader: string | undefined = 'self'
  voters = (): string[] => ['self']
  admits = (): boolean => true
  fencing = (): 'ok' => 'ok'
  coordinator = async (): Promise<string> => 'self'
}

class FakeMembers extends TypedEventEmitter<MemberSourceEvents> {
  list: Member[] = []
  members = (): Member[] => this.list
}

function fakeRpc (): RpcService & { live: number } {
  const rpc = {
    live: 0,
    handle: () => { rpc.live++; return () => { rpc.live-- } },
    request: async () => { throw new Error('no network in this test') }
  }
  return rpc as unknown as RpcService & { live: number }
}

function build (): { office: FakeOffice, members: FakeMembers, rpc: RpcService & { live: number }, resources: ResourceService, tasks: TaskService } {
  const office = new FakeOffice()
  const members = new FakeMembers()
  const rpc = fakeRpc()
  const caps = new Map([['self', { cpu_cores: 1, memory_gb: 1, storage_gb: 0 }], ['w1', { cpu_cores: 2, memory_gb: 1, storage_gb: 0 }]])
  const resources = new ResourceService({ self: 'self', rpc, office, members, capacities: () => caps, publish: () => {}, requestTimeoutMs: 500 })
  const negotiation = { onCallForProposals: () => () => {}, contractNet: async () => ({}) } as unknown as NegotiationService
  const tasks = new TaskService({
    self: 'self',
    rpc,
    resources: { cpu_cores: 1, memory_gb: 1, storage_gb: 0 },
    office,
    members,
    publish: () => {},
    requestTimeoutMs: 500,
    resourceManager: resources,
    negotiation,
    privateKey: KEY
  })
  return { office, members, rpc, resources, tasks }
}

test('start and stop twice, and stop before start, are safe; listeners come and go with them', { timeout: 3 * 60_000 }, () => {
  const { office, members, rpc, resources, tasks } = build()
  tasks.stop()
  resources.stop()
  for (let i = 0; i < 2; i++) { resources.start(); tasks.start() }
  assert.equal(office.listenerCount('coordinator:change'), 1, 'TaskService listens to the office once')
  assert.equal(members.listenerCount('member:change'), 2, 'the scheduler and the resource manager listen once each')
  const handlers = rpc.live
  assert.ok(handlers > 0)
  tasks.start()
  assert.equal(rpc.live, handlers, 'a second start registers nothing more')
  for (let i = 0; i < 2; i++) { tasks.stop(); resources.stop() }
  assert.equal(office.listenerCount('coordinator:change'), 0)
  assert.equal(members.listenerCount('member:change'), 0)
  assert.equal(rpc.live, 0, 'every handler unregistered')
  // And again after a stop.
  resources.start()
  tasks.start()
  assert.equal(members.listenerCount('member:change'), 2)
  tasks.stop()
  resources.stop()
})

test('a member going offline loses its allocations on the manager (the service listens itself); not when out of office', { timeout: 3 * 60_000 }, async () => {
  const { office, members, resources } = build()
  resources.start()
  try {
    await resources.ready()
    const denied: string[] = []
    resources.addEventListener('denied', (e) => { denied.push(e.detail.reason) })
    const a = resources.grant('t1', 'self', { cpu_cores: 2, memory_gb: 0, storage_gb: 0 }, ['w1'])
    assert.equal(a.type, 'resource.allocated')
    const change = (to: 'offline' | 'left'): void => {
      members.safeDispatchEvent('member:change', { detail: { peerId: 'w1', name: 'w1', from: 'alive', to, incarnation: 1 } })
    }
    office.inOffice = false
    change('left')
    assert.equal(resources.pool.allocations.size, 1, 'out of office, the table is not this node\'s to change')
    office.inOffice = true
    change('offline')
    assert.equal(resources.pool.allocations.size, 0, 'released when its agent went offline')
    assert.deepEqual(denied, [])
  } finally {
    resources.stop()
  }
})

test('the executor refuses a second handler for a type with a typed error (CFG001)', { timeout: 3 * 60_000 }, () => {
  const { tasks } = build()
  tasks.executor.onTask('work', () => 1)
  assert.throws(() => tasks.executor.onTask('work', () => 2), (e: Error & { code?: string }) => e.code === 'CFG001')
})

test('a takeover that fails while the node stays in office (its lease lapsed a moment) is tried again, not left half done', { timeout: 3 * 60_000 }, async () => {
  const { resources, tasks } = build()
  let calls = 0
  const ready = resources.ready.bind(resources)
  // The resource manager's readiness fails once, as it does when the lease lapses mid-takeover.
  resources.ready = async () => {
    calls++
    if (calls === 1) throw new NotCoordinatorError('this node is not the coordinator in office, so not the resource manager')
    await ready()
  }
  const errors: string[] = []
  tasks.addEventListener('error', (e) => { errors.push(e.detail.error.message) })
  resources.start()
  tasks.start()
  try {
    tasks.scheduler.officeCheck()
    const settled = (): boolean => calls >= 2 && !tasks.scheduler.snapshot(1).taking_over
    for (const end = Date.now() + 5_000; Date.now() < end && !settled();) await new Promise(resolve => setTimeout(resolve, 50))
    assert.ok(calls >= 2, 'the takeover ran again')
    assert.equal(tasks.scheduler.snapshot(1).taking_over, false)
    assert.equal(tasks.scheduler.snapshot(1).leading, true, 'and this node leads its term')
    assert.deepEqual(errors.slice(0, 1), ['this node is not the coordinator in office, so not the resource manager'])
  } finally {
    tasks.stop()
    resources.stop()
  }
})

test('a manager in office again in a later term rebuilds its table from nothing: the units of an earlier term\'s allocations that nobody holds now are free again', { timeout: 60_000 }, async () => {
  const { office, resources } = build()
  resources.start()
  const errors: Error[] = []
  resources.addEventListener('error', (e) => { errors.push(e.detail.error) })
  try {
    await resources.ready()
    const both = { cpu_cores: 2, memory_gb: 0, storage_gb: 0 }
    assert.equal(resources.grant('t1', 'self', both, ['w1']).type, 'resource.allocated')
    assert.equal(resources.grant('t2', 'self', both, ['w1']).type, 'resource.denied', 'w1\'s two cores are t1\'s')
    // Elected again: no agent and no record says t1 holds anything now (the test's rpc reaches no agent).
    office.term++
    await resources.ready()
    const t2 = resources.grant('t2', 'self', both, ['w1'])
    assert.equal(t2.type, 'resource.allocated', 'w1\'s cores are free in the new term\'s table')
    // And a held allocation put back (as the scheduler does from a running task's record) is refused only on a unit held now.
    assert.equal(resources.restore({ task_id: 't3', agent: 'w1', holder: 'self', resources: [{ resource_id: 'w1/cpu/0', kind: 'cpu', amount: 1 }] }), false, 't2 holds that core')
    assert.equal(errors.length, 1, 'the refused restore is reported')
  } finally {
    resources.stop()
  }
})
