/**
 * node dist/bench/connection-cost.js: the CPU a connection costs, both ends in this one process,
 * over and above what the nodes use at rest: 20 nodes each dial 5 of 10 others, then 5 s for
 * what follows the connections (identify, subscriptions; for agents, the card exchange, member
 * statements and full exchanges, the election's messages). For vanilla libp2p (bench/vanilla.ts:
 * TCP, Noise, yamux, identify, ping, gossipsub with one topic) and for agentmesh agents (lan
 * preset, open mesh). The figures behind "What a connection costs" in docs/benchmarks.md.
 *
 * `--only vanilla|agents` measures one side; `--profile DIR` writes a CPU profile of each side's
 * connection phase (the dials and the 5 s after) to DIR, for bench/profile-summary.ts.
 */
import { mkdirSync } from 'node:fs'
import { benchArgs } from './args.js'
import { multiaddr } from '@multiformats/multiaddr'
import { createVanilla } from './vanilla.js'
import { createAgentNode } from '../surfaces/index.js'
import { phaseProfile } from './phase-profile.js'

const A = 10
const B = 20
const K = 5
const sleep = async (t: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, t)) }
const cpuMs = (): number => { const c = process.cpuUsage(); return (c.user + c.system) / 1000 }

interface Side { addr: () => string, dial: (addr: string) => Promise<unknown>, stop: () => Promise<void> }

const { values } = benchArgs({ options: { only: { type: 'string' }, profile: { type: 'string' } } })
if (values.profile !== undefined) mkdirSync(values.profile, { recursive: true })

async function measure (side: string, make: (i: number) => Promise<Side>): Promise<{ restMsPerS: number, msPerConnection: number }> {
  const nodes: Side[] = []
  try {
    for (let i = 0; i < A + B; i++) nodes.push(await make(i))
    await sleep(3_000)
    let c0 = cpuMs()
    await sleep(5_000)
    const restMsPerS = (cpuMs() - c0) / 5
    if (values.profile !== undefined) await phaseProfile({ on: true })
    c0 = cpuMs()
    const t0 = performance.now()
    await Promise.all(nodes.slice(A).flatMap((b, j) => Array.from({ length: K }, async (_, i) => await b.dial(nodes[(j + i) % A].addr()))))
    await sleep(5_000)
    const wallS = (performance.now() - t0) / 1000
    if (values.profile !== undefined) await phaseProfile({ file: `${values.profile}/connections-${side}.cpuprofile` })
    return { restMsPerS: Math.round(restMsPerS * 10) / 10, msPerConnection: Math.round((cpuMs() - c0 - restMsPerS * wallS) / (B * K) * 10) / 10 }
  } finally {
    await Promise.all(nodes.map(async n => { await n.stop() }))
  }
}

// The bench's vanilla baseline (bench/vanilla.ts), subscribed to one topic as the agents are.
const run = (side: string): boolean => values.only === undefined || values.only === side
const vanilla = !run('vanilla') ? undefined : await measure('vanilla', async () => {
  const n = await createVanilla()
  n.services.pubsub.subscribe('t')
  return { addr: () => n.getMultiaddrs()[0].toString(), dial: async (a) => await n.dial(multiaddr(a)), stop: async () => { await n.stop() } }
})
const mesh = `conncost${process.pid}`
const agents = !run('agents') ? undefined : await measure('agents', async (i) => {
  const options = { mesh, name: `c${i}`, mdns: false, preset: 'lan' as const, security: { mode: 'open' as const }, logLevel: 'silent' as const }
  const quiet = { listen: ['/ip4/127.0.0.1/tcp/0'], monitoring: { metricsIntervalMs: 0 }, meshAnnounceIntervalMs: 0 }
  const a = await createAgentNode({ ...options, ...quiet, connections: { targetPeers: 0, inboundConnectionThreshold: 10_000 } })
  await a.start()
  return { addr: () => a.addresses()[0], dial: async (x) => await a.dial(x), stop: async () => { await a.stop() } }
})
console.table([...(vanilla !== undefined ? [{ nodes: 'vanilla libp2p', ...vanilla }] : []), ...(agents !== undefined ? [{ nodes: 'agentmesh agents', ...agents }] : [])])
