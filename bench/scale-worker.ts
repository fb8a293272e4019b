/**
 * Several agents in one process for bench/scale.ts, driven over IPC (bench/forked-worker.ts):
 * `start` makes `count` agents bootstrapping from the seeds given, `status` tells what each
 * sees, `counters` what the process spent, `crash` closes one agent's transport under it (its
 * peers see a dead process: connections gone, probes unanswered), `stop` ends them all.
 */
import '../node/polyfills.js'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../node/index.js'

interface Cmd { id: number, cmd: string, [k: string]: any }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const MEMBERSHIP = ['$agentmesh/members', '$agentmesh/probe', '$agentmesh/member-gossip', '$agentmesh/member-sync']
const COORDINATION = ['$agentmesh/election', '$agentmesh/coordinator']

const agents: AgentNode[] = []
const crashed = new Set<AgentNode>()
const frames = new Map<AgentNode, () => number>()

function countFrames (node: AgentNode): () => number {
  const gs = node.libp2p.services.pubsub as unknown as { sendRpc: (id: unknown, rpc: unknown) => boolean }
  let n = 0
  const send = gs.sendRpc.bind(gs)
  gs.sendRpc = (id, rpc) => { n++; return send(id, rpc) }
  return () => n
}

function sum (subjects: string[]): number {
  let total = 0
  for (const a of agents) for (const subject of subjects) total += a.stats.get('housekeeping_messages_total', { subject })
  return total
}

async function handle (m: Cmd): Promise<unknown> {
  switch (m.cmd) {
    case 'start': {
      const base: CreateAgentNodeOptions = {
        mesh: m.mesh,
        mdns: false,
        preset: m.preset,
        security: { mode: 'open' },
        logLevel: 'silent',
        listen: ['/ip4/127.0.0.1/tcp/0'],
        connections: { inboundConnectionThreshold: 10_000 },
        monitoring: { metricsIntervalMs: 0 },
        meshAnnounceIntervalMs: 0,
        ...m.options
      }
      const seeds = m.seeds as string[]
      const out = []
      for (let i = 0; i < m.count; i++) {
        const index = (m.first as number) + i
        const bootstrap = seeds.length > 0 ? [seeds[index % seeds.length]] : []
        const node = await createAgentNode({ ...base, name: `a${index}`, ...(bootstrap.length > 0 ? { bootstrap } : {}) })
        await node.start()
        agents.push(node)
        frames.set(node, countFrames(node))
        out.push({ peerId: node.peerId, addr: node.addresses()[0] })
        // A burst of Noise handshakes times out on 2 cores.
        await sleep(m.gapMs ?? 30)
      }
      return out
    }
    case 'status':
      return agents.filter(a => !crashed.has(a)).map(a => ({
        peerId: a.peerId,
        alive: a.members().filter(x => x.state === 'alive').length,
        leader: a.coordination.leader,
        inOffice: a.coordination.inOffice,
        term: a.coordination.term,
        voters: a.coordination.voters().length,
        connections: a.libp2p.getConnections().length
      }))
    case 'counters': {
      const cpu = process.cpuUsage()
      return {
        membership: sum(MEMBERSHIP),
        coordination: sum(COORDINATION),
        frames: [...frames.values()].reduce((s, f) => s + f(), 0),
        cpuUs: cpu.user + cpu.system,
        rss: process.memoryUsage().rss,
        agents: agents.length - crashed.size
      }
    }
    case 'crash': {
      const a = agents.find(x => x.peerId === m.peerId)
      if (a === undefined) return false
      crashed.add(a)
      await a.libp2p.stop()
      return true
    }
    case 'stop':
      await Promise.all(agents.filter(a => !crashed.has(a)).map(async a => { await a.stop().catch(() => {}) }))
      setTimeout(() => process.exit(0), 100)
      return true
  }
  throw new Error(`unknown command ${m.cmd}`)
}

process.on('message', (m: Cmd) => {
  handle(m).then(
    (result) => { process.send?.({ id: m.id, result }) },
    (err: Error) => { process.send?.({ id: m.id, error: err.message }) }
  )
})
