// HyParView's views driving real nodes (connections.graph 'views', issue 46, experimental): twelve
// agents joined through one seed keep small active views over one connected graph, fewer
// connections than a full mesh, and still see every other agent and one coordinator; an agent that
// stops is repaired around.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { IDLE_MS, ViewExchange } from '../../../protocols/discovery/view-links.js'
import { nodeOptions, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const N = 12
const ACTIVE = 3
/** Connections made for a single exchange (a neighbour request to a reserve peer, a member exchange) and not yet idle. */
const TRANSIENT = 4
/**
 * Swaps at most every 10 s (the default is 30 s): twelve agents with views of three once filled
 * them as a clique of four and the other eight (CI, 2026-11-29), which a swap joins again.
 */
const SWAP_MS = 10_000

const viewOf = (n: AgentNode): string[] => n.internals.views?.active() ?? []
const alive = (n: AgentNode): number => n.members().filter(m => m.state === 'alive').length
const connectedAgents = (n: AgentNode, agents: readonly AgentNode[]): number => {
  const ids = new Set(agents.map(a => a.peerId))
  return new Set(n.libp2p.getConnections().filter(c => c.status === 'open').map(c => c.remotePeer.toString()).filter(p => ids.has(p))).size
}

/** Whether every agent reaches every other over the active views (the graph gossip travels on). */
function connectedGraph (agents: readonly AgentNode[]): boolean {
  const byId = new Map(agents.map(a => [a.peerId, a]))
  const seen = new Set([agents[0].peerId])
  const queue = [agents[0]]
  while (queue.length > 0) {
    for (const p of viewOf(queue.pop() as AgentNode)) {
      const next = byId.get(p)
      if (next !== undefined && !seen.has(p)) { seen.add(p); queue.push(next) }
    }
  }
  return seen.size === agents.length
}

const describe = (agents: readonly AgentNode[]): string =>
  agents.map(a => `${a.name}: view [${viewOf(a).map(p => agents.find(x => x.peerId === p)?.name ?? '?').join(' ')}], ${connectedAgents(a, agents)} connected, ${alive(a)} alive`).join('; ')

/**
 * Starts `n` agents on views (active views of ACTIVE, reserves of 8) in a mesh of their own, each
 * after the first through it, into `agents` as they start (so that a caller's `finally` stops
 * those started when one fails).
 */
async function throughOneSeed (agents: AgentNode[], n: number, prefix: string, viewSwapMs: number): Promise<void> {
  const mesh = uniqueMesh()
  const opts = (name: string, bootstrap: string[] = []): Parameters<typeof createAgentNode>[0] =>
    nodeOptions(mesh, { name, bootstrap, connections: { graph: 'views', activeView: ACTIVE, passiveView: 8, viewSwapMs } })
  for (let i = 0; i < n; i++) {
    const a = await createAgentNode(opts(`${prefix}${i}`, i === 0 ? [] : [agents[0].addresses()[0]]))
    await a.start()
    agents.push(a)
  }
}

test('views: twelve agents through one seed keep active views of at most three over a connected graph and fewer connections than a full mesh, every agent seen and one coordinator; a stopped agent is repaired around', { timeout: 3 * 60_000 }, async () => {
  const agents: AgentNode[] = []
  try {
    await throughOneSeed(agents, N, 'v', SWAP_MS)
    await waitFor(() => agents.every(a => alive(a) === N - 1), 'every agent to see the eleven others alive', 60_000)
      .catch((err: Error) => { throw new Error(`${err.message}: ${describe(agents)}`) })
    await waitFor(() => {
      const leaders = new Set(agents.map(a => a.coordinator().leader))
      return leaders.size === 1 && !leaders.has(undefined)
    }, 'one coordinator that every agent follows', 60_000)
    // Views settle: every agent has a neighbour and none more than ACTIVE, over one connected graph.
    // Not asserted, because a loaded host breaks them (the option is experimental, docs/benchmarks.md):
    // that every link is held by both ends at one instant, and that every agent's connections come
    // down to its view (an agent short of a neighbour asks every full one in turn, and held all 11).
    await waitFor(() => agents.every(a => viewOf(a).length >= 1 && viewOf(a).length <= ACTIVE) && connectedGraph(agents),
      'active views of one to three over a connected graph', 60_000).catch((err: Error) => { throw new Error(`${err.message}: ${describe(agents)}`) })
    // Connections: the join wave's are let go once idle (IDLE_MS); on average an agent that is no
    // voter then holds fewer than a full mesh's.
    const { voters } = agents[0].coordinator()
    const others = agents.filter(a => !voters.includes(a.peerId))
    const mean = (): number => others.reduce((s, a) => s + connectedAgents(a, agents), 0) / others.length
    await waitFor(() => mean() < ACTIVE + TRANSIENT, `agents that are no voter to hold ${ACTIVE + TRANSIENT} connections or fewer on average`, IDLE_MS + 30_000)
      .catch((err: Error) => { throw new Error(`${err.message} (${mean()}): ${describe(agents)}`) })
    console.log(`connections after the join: ${describe(agents)}`)

    // An agent that is not a voter stops: its neighbours repair their views from the reserve, and
    // the rest still form one graph and see each other.
    const coordinator = agents[0].coordinator()
    const gone = agents.find(a => a !== agents[0] && !coordinator.voters.includes(a.peerId) && coordinator.leader !== a.peerId) as AgentNode
    await gone.stop()
    const rest = agents.filter(a => a !== gone)
    await waitFor(() => rest.every(a => !viewOf(a).includes(gone.peerId) && viewOf(a).length >= 1) && connectedGraph(rest),
      `${gone.name}'s neighbours to repair their views`, 60_000).catch((err: Error) => { throw new Error(`${err.message}: ${describe(rest)}`) })
    await waitFor(() => rest.every(a => a.member(gone.peerId)?.state !== 'alive'), `every agent to hold ${gone.name} gone`, 60_000)
    // Waited for, not read once: on a loaded host another agent may be suspect a moment to one of
    // them (the loop saw v10 hold 9 of the 10 alive at the instant gone was held gone by all).
    await waitFor(() => rest.every(a => alive(a) === N - 2), `every agent to hold the ${N - 2} others alive`, 60_000)
      .catch((err: Error) => { throw new Error(`${err.message}: ${describe(rest)}`) })
  } finally {
    await stopAll(agents)
  }
})

test('views: swaps through real nodes: agents with full views trade neighbours for reserve peers over the wire (swap, swap-reply, a disconnect to each neighbour traded), and the views stay symmetric, bounded and one graph', { timeout: 3 * 60_000 }, async () => {
  // viewSwapMs 1 s: a full view also swaps at random every 20 s on average (randomSwapMs), so
  // seven agents with views of three make several within a minute. The state machine's rules are
  // tested in simulation (hyparview.test.ts); here the messages go through the shell: its schema,
  // the strangers it drops from them, the connections it opens and lets go.
  const agents: AgentNode[] = []
  const views = (what: 'in' | 'out' | 'failed' | 'unknown', type: string): number => agents.reduce((s, a) => s + a.stats.get('view_messages_total', { what, type }), 0)
  const symmetric = (): boolean => agents.every(a => viewOf(a).every(p => viewOf(agents.find(x => x.peerId === p) as AgentNode).includes(a.peerId)))
  try {
    await throughOneSeed(agents, 7, 's', 1_000)
    await waitFor(() => agents.every(a => alive(a) === agents.length - 1), 'every agent to see the six others alive', 60_000)
      .catch((err: Error) => { throw new Error(`${err.message}: ${describe(agents)}`) })
    await waitFor(() => views('in', 'swap-reply') >= 2, 'two swaps answered', 120_000)
      .catch((err: Error) => { throw new Error(`${err.message} (swaps sent ${views('out', 'swap')}, answered ${views('in', 'swap-reply')}): ${describe(agents)}`) })
    assert.ok(views('in', 'swap') >= 2, 'the swaps were received as such')
    assert.ok(views('in', 'disconnect') >= 2, 'the neighbours traded told so')
    assert.equal(views('unknown', 'swap') + views('unknown', 'swap-reply'), 0, 'from members only')
    await waitFor(() => symmetric() && agents.every(a => viewOf(a).length >= 1 && viewOf(a).length <= ACTIVE) && connectedGraph(agents),
      'views symmetric, of one to three, over one graph', 60_000).catch((err: Error) => { throw new Error(`${err.message}: ${describe(agents)}`) })
    assert.ok(agents.every(a => alive(a) === agents.length - 1), describe(agents))
  } finally {
    await stopAll(agents)
  }
})

test('views: an insider\'s joins sent again and again over the wire are walked out once, and its walk\'s last hops naming an agent end in a view once', { timeout: 3 * 60_000 }, async () => {
  // The state machine's limits are tested in simulation (hyparview.test.ts); here an admitted
  // agent writes the messages itself, through rpc, as a modified agent would.
  const agents: AgentNode[] = []
  const out = (a: AgentNode, type: string): number => a.stats.get('view_messages_total', { what: 'out', type })
  try {
    await throughOneSeed(agents, 5, 'i', 0)
    await waitFor(() => agents.every(a => alive(a) === agents.length - 1), 'every agent to see the four others alive', 60_000)
    // The join wave's own walks over first: no walk passed through any agent for 2 s.
    const walks = (): number => agents.reduce((n, a) => n + out(a, 'forward-join'), 0)
    for (let last = -1; last !== walks();) { last = walks(); await new Promise(resolve => setTimeout(resolve, 2_000)) }
    const [target, insider] = [agents[0], agents[1]]
    const before = out(target, 'forward-join')
    for (let i = 0; i < 10; i++) await insider.internals.rpc.request(target.peerId, ViewExchange, { type: 'join' })
    // A join's walks: one for views of three (hyparview.ts joinWalks), sent at once.
    const walked = out(target, 'forward-join') - before
    assert.ok(walked <= 1, `${walked} walks for 10 joins from one agent`)
    // A walk's last hop naming an agent not in the target's view, from a neighbour of the target:
    // the agent, a newcomer to the target's member view (Newcomers, fed by its member:change), is
    // taken. Then again and again, the agent named letting the target go each time (a disconnect),
    // so that each walk would find room for it: not taken again.
    const neighbour = agents.find(a => a !== target && a !== insider && viewOf(target).includes(a.peerId))
    const named = agents.find(a => a !== target && a !== neighbour && !viewOf(target).includes(a.peerId))
    assert.ok(neighbour !== undefined && named !== undefined, describe(agents))
    const asked = out(target, 'neighbour')
    await neighbour.internals.rpc.request(target.peerId, ViewExchange, { type: 'forward-join', peer: named.peerId, ttl: 0 })
    assert.ok(viewOf(target).includes(named.peerId), `a newcomer is taken at the walk's end: ${describe(agents)}`)
    for (let i = 0; i < 9; i++) {
      await named.internals.rpc.request(target.peerId, ViewExchange, { type: 'disconnect' }).catch(() => {})
      await neighbour.internals.rpc.request(target.peerId, ViewExchange, { type: 'forward-join', peer: named.peerId, ttl: 0 }).catch(() => {})
    }
    assert.ok(out(target, 'neighbour') - asked <= 1, `${out(target, 'neighbour') - asked} neighbour requests for 10 walks naming one agent`)
  } finally {
    await stopAll(agents)
  }
})
