// Joining through one seed (protocols/discovery/bootstrap.ts) and dialling agents held offline
// (protocols/discovery/reconnect.ts): real nodes on 127.0.0.1; the reconnect's rounds fed by hand.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { BootstrapDialer } from '../../../protocols/discovery/bootstrap.js'
import { Reconnector } from '../../../protocols/discovery/reconnect.js'
import { freePort, nodeOptions, sleep, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const bootstrapOf = (n: AgentNode): BootstrapDialer => n.services.find((s): s is BootstrapDialer => s instanceof BootstrapDialer) as BootstrapDialer

test('nine agents given three seeds each join through one of them, and all twelve see each other; a stopped seed\'s agents stay in the mesh', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const nodes: AgentNode[] = []
  try {
    const seeds: AgentNode[] = []
    for (let i = 0; i < 3; i++) {
      const s = await createAgentNode(nodeOptions(mesh, { name: `seed${i}`, preset: 'local', ...(i > 0 ? { bootstrap: [seeds[0].addresses()[0]] } : {}) }))
      await s.start()
      seeds.push(s)
      nodes.push(s)
    }
    const all = seeds.map(s => s.addresses()[0])
    for (let i = 0; i < 9; i++) {
      const n = await createAgentNode(nodeOptions(mesh, { name: `a${i}`, preset: 'local', bootstrap: all }))
      await n.start()
      nodes.push(n)
    }
    await waitFor(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === 11), 'all twelve alive to each other', 30_000)
    const agents = nodes.slice(3)
    for (const a of agents) assert.equal(bootstrapOf(a).joinedThrough.length, 1, `${a.name} joined through one seed`)
    // The seed most agents joined through stops: they stay connected to the others.
    const ids = seeds.map(s => s.peerId)
    const counts = ids.map(id => agents.filter(a => bootstrapOf(a).joinedThrough[0] === id).length)
    const gone = counts.indexOf(Math.max(...counts))
    await seeds[gone].stop()
    const rest = nodes.filter(n => n !== seeds[gone])
    await waitFor(() => rest.every(n => n.members().filter(m => m.state === 'alive').length === 10), 'the eleven others alive to each other without the seed', 30_000)
      .catch((err: Error) => {
        const seen = rest.map(n => `${n.name}: ${n.members().filter(m => m.state !== 'alive' || m.peerId === seeds[gone].peerId).map(m => `${m.name} ${m.state}`).join(', ')} (${n.peers().length} peers)`)
        throw new Error(`${err.message}; ${seeds[gone].name} stopped; not alive as each sees it: ${seen.join('; ')}`)
      })
  } finally {
    await stopAll(nodes)
  }
})

test('reconnect: one agent held offline and not connected is dialled a round; none when it is connected, left alone, or the interval is 0', { timeout: 3 * 60_000 }, async () => {
  const dialled: string[] = []
  let offline = ['x', 'y']
  const connected = new Set(['y'])
  const r = new Reconnector({ intervalMs: 40, candidates: () => offline, connected: p => connected.has(p), dial: async p => { dialled.push(p); throw new Error('unreachable') }, dialTimeoutMs: 1_000 })
  r.start()
  await waitFor(() => dialled.length >= 3, 'three rounds', 5_000)
  assert.deepEqual([...new Set(dialled)], ['x'], 'only the offline agent not connected')
  offline = []
  await sleep(150)
  const before = dialled.length
  await sleep(200)
  assert.equal(dialled.length, before, 'nobody offline: no dial')
  r.stop()
  const off = new Reconnector({ intervalMs: 0, candidates: () => ['x'], connected: () => false, dial: async p => { dialled.push(`off:${p}`) }, dialTimeoutMs: 1_000 })
  off.start()
  await sleep(200)
  off.stop()
  assert.equal(dialled.some(p => p.startsWith('off:')), false)
})

test('reconnect with perRound and repickAfterMs: two different peers a round, none picked again within its time', { timeout: 3 * 60_000 }, async () => {
  const rounds: string[][] = []
  let current: string[] = []
  const r = new Reconnector({
    intervalMs: 40,
    candidates: () => ['x', 'y', 'z'],
    perRound: 2,
    repickAfterMs: 60_000,
    connected: () => false,
    dial: async p => { current.push(p); if (current.length === 1) queueMicrotask(() => { rounds.push(current); current = [] }) },
    dialTimeoutMs: 1_000
  })
  r.start()
  await waitFor(() => rounds.length >= 2, 'two rounds', 5_000)
  await sleep(300) // rounds enough for any repick to show
  r.stop()
  const all = rounds.flat()
  assert.equal(rounds[0].length, 2, 'two dials in the first round')
  assert.notEqual(rounds[0][0], rounds[0][1], 'to two different peers')
  assert.deepEqual([...all].sort(), ['x', 'y', 'z'], 'each peer dialled once, the third in a later round')
  assert.deepEqual(r.counts, { attempts: 3, connected: 3 })
})

test('six seeds started at once, each given all six addresses (its own too), end in one mesh', { timeout: 3 * 60_000 }, async () => {
  // Each joins through the first of them to answer: pairs or triples that joined each other alone
  // are joined up by the look over the seeds its member view does not know.
  const mesh = uniqueMesh()
  const ports = await Promise.all(Array.from({ length: 6 }, async () => await freePort()))
  const addrs = ports.map(p => `/ip4/127.0.0.1/tcp/${p}`)
  const nodes = await Promise.all(ports.map(async (p, i) => await createAgentNode(nodeOptions(mesh, {
    name: `s${i}`, preset: 'local', listen: [addrs[i]], bootstrap: addrs
  }))))
  try {
    await Promise.all(nodes.map(async n => { await n.start() }))
    await waitFor(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === 5), 'all six alive to each other', 30_000)
    for (const n of nodes) assert.ok(bootstrapOf(n).joinedThrough.length <= 1, `${n.name} holds at most one seed as joined through`)
  } finally {
    await stopAll(nodes)
  }
})
