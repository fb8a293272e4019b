/**
 * The membership and coordination traffic of an idle mesh, agents in this one process (so the
 * counts are exact and the CPU is one number): what `npm run bench:scale -- --traffic 10,30,50`
 * prints. Nothing but the mesh's own housekeeping runs: no topic, no request, no task.
 *
 * Per agent and second, over a window after the mesh converged (every agent sees every other
 * alive and follows one coordinator):
 * - housekeeping messages in and out, as each node counts them (housekeeping_messages_total:
 *   member gossip, probes, member sync, election requests and answers, coordinator announcements),
 *   split into membership and coordination;
 * - gossipsub frames sent (every RPC gossipsub writes to a peer: messages, relays and control);
 * - connections held, connections opened (either end counts it: one connection counts twice, as
 *   both ends pay for its handshake), and HyParView messages sent (`connections.graph` views);
 * - the process's CPU divided by the agents (% of one core).
 */
import { Session } from 'node:inspector/promises'
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../surfaces/index.js'

const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }

export interface TrafficOptions {
  preset: 'local' | 'lan' | 'wan'
  settleMs: number
  windowMs: number
  convergeMs: number
  extra?: CreateAgentNodeOptions
  /** A folder: the window at rest is profiled (V8 CPU profile) into it. */
  profile?: string
}

export interface TrafficRow {
  agents: number
  convergedS: number | null
  membershipPerS: number
  coordinationPerS: number
  gossipFramesPerS: number
  /** HyParView messages sent (0 on the dialer graph). */
  viewMessagesPerS: number
  connections: number
  /** Connections opened per agent and second at rest, as each end counts them. */
  connectionsOpenedPerS: number
  cpuPctPerAgent: number
  /** Where convergence stood at the end: the fewest members one agent saw alive, agents following a leader, voters. */
  minAlive: number
  following: number
  voters: number
}

const MEMBERSHIP_SUBJECTS = ['$agentmesh/members', '$agentmesh/probe', '$agentmesh/member-gossip', '$agentmesh/member-sync', '$agentmesh/member-digest', '$agentmesh/member-sums', '$agentmesh/member-patch']
const COORDINATION_SUBJECTS = ['$agentmesh/election', '$agentmesh/coordinator']

/** Count every RPC gossipsub sends from this node (a bench's measurement, not the node's code). */
function countGossipFrames (node: AgentNode): () => number {
  const gs = node.libp2p.services.pubsub as unknown as { sendRpc: (id: unknown, rpc: unknown) => boolean }
  let frames = 0
  const send = gs.sendRpc.bind(gs)
  gs.sendRpc = (id, rpc) => { frames++; return send(id, rpc) }
  return () => frames
}

/** Count the connections a node opens or accepts. */
function countOpened (node: AgentNode): () => number {
  let opened = 0
  node.libp2p.addEventListener('connection:open', () => { opened++ })
  return () => opened
}

function housekeeping (node: AgentNode, subjects: string[]): number {
  return subjects.reduce((sum, subject) => sum + node.stats.get('housekeeping_messages_total', { subject }), 0)
}

/** Every agent sees every other alive, and all follow one coordinator in office. */
export function converged (nodes: AgentNode[]): boolean {
  const n = nodes.length
  const inOffice = nodes.filter(x => x.coordination.inOffice)
  if (inOffice.length !== 1) return false
  const leader = inOffice[0].peerId
  return nodes.every(x => (x === inOffice[0] || x.coordination.leader === leader) &&
    x.members().filter(m => m.state === 'alive').length === n - 1)
}

export async function startAgents (n: number, o: TrafficOptions): Promise<AgentNode[]> {
  const mesh = `scale${process.pid}x${Math.floor(Math.random() * 1e6)}`
  const base: CreateAgentNodeOptions = {
    mesh,
    mdns: false,
    preset: o.preset,
    security: { mode: 'open' },
    logLevel: 'silent',
    listen: ['/ip4/127.0.0.1/tcp/0'],
    connections: { inboundConnectionThreshold: 10_000 },
    monitoring: { metricsIntervalMs: 0 },
    ...o.extra
  }
  const nodes: AgentNode[] = []
  for (let i = 0; i < n; i++) {
    // Each bootstraps from one of the first three, as a deployment lists a few seeds.
    const seeds = nodes.slice(0, 3).map(x => x.addresses()[0])
    const node = await createAgentNode({ ...base, name: `s${i}`, ...(seeds.length > 0 ? { bootstrap: [seeds[i % seeds.length]] } : {}) })
    await node.start()
    nodes.push(node)
    // A burst of Noise handshakes times out on 2 cores.
    await sleep(20)
  }
  return nodes
}

export async function measureTraffic (n: number, o: TrafficOptions): Promise<TrafficRow> {
  const t0 = Date.now()
  const nodes = await startAgents(n, o)
  const frames = nodes.map(countGossipFrames)
  const opened = nodes.map(countOpened)
  const end = Date.now() + o.convergeMs
  while (Date.now() < end && !converged(nodes)) await sleep(100)
  const convergedS = converged(nodes) ? (Date.now() - t0) / 1000 : null
  await sleep(o.settleMs)
  const read = (): { m: number, c: number, f: number, v: number, o: number, cpu: NodeJS.CpuUsage, at: number } => ({
    m: nodes.reduce((s, x) => s + housekeeping(x, MEMBERSHIP_SUBJECTS), 0),
    c: nodes.reduce((s, x) => s + housekeeping(x, COORDINATION_SUBJECTS), 0),
    f: frames.reduce((s, f) => s + f(), 0),
    v: nodes.reduce((s, x) => s + x.stats.get('view_messages_total', { what: 'out' }), 0),
    o: opened.reduce((s, f) => s + f(), 0),
    cpu: process.cpuUsage(),
    at: performance.now()
  })
  const session = o.profile !== undefined ? new Session() : undefined
  if (session !== undefined) {
    session.connect()
    await session.post('Profiler.enable')
    await session.post('Profiler.start')
  }
  const a = read()
  await sleep(o.windowMs)
  const b = read()
  if (session !== undefined && o.profile !== undefined) {
    const { profile } = await session.post('Profiler.stop')
    await mkdir(o.profile, { recursive: true })
    await writeFile(join(o.profile, `rest-${n}-${Date.now()}.cpuprofile`), JSON.stringify(profile))
    session.disconnect()
  }
  const seconds = (b.at - a.at) / 1000
  const per = (x: number): number => Math.round(x / seconds / n * 10) / 10
  const cpu = process.cpuUsage(a.cpu)
  const connections = nodes.reduce((s, x) => s + x.libp2p.getConnections().length, 0) / n
  const row: TrafficRow = {
    agents: n,
    convergedS: convergedS === null ? null : Math.round(convergedS * 10) / 10,
    membershipPerS: per(b.m - a.m),
    coordinationPerS: per(b.c - a.c),
    gossipFramesPerS: per(b.f - a.f),
    viewMessagesPerS: Math.round((b.v - a.v) / seconds / n * 100) / 100,
    connections: Math.round(connections * 10) / 10,
    connectionsOpenedPerS: Math.round((b.o - a.o) / seconds / n * 100) / 100,
    cpuPctPerAgent: Math.round((cpu.user + cpu.system) / 1e6 / seconds / n * 100 * 100) / 100,
    minAlive: Math.min(...nodes.map(x => x.members().filter(m => m.state === 'alive').length)),
    following: nodes.filter(x => x.coordination.leader !== undefined).length,
    voters: Math.max(...nodes.map(x => x.coordination.voters().length))
  }
  await Promise.all(nodes.map(async x => { await x.stop().catch(() => {}) }))
  return row
}
