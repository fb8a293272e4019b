/**
 * Several agents in one process for bench/scale.ts, driven over IPC (bench/forked-worker.ts):
 * `start` makes `count` agents bootstrapping from the seeds given, `status` tells what each
 * sees, `counters` what the process spent (and its RSS before any agent: `rssBase`), `crash`
 * closes one agent's transport under it (its peers see a dead process: connections gone, probes
 * unanswered), `subscribe` / `publish` / `latencies` run a broadcast (every agent subscribes,
 * one publishes at a given rate, each receiver keeps send-to-receipt times: one machine, one
 * clock), `stop` ends them all.
 */
import '../node/polyfills.js'
import { peerIdFromString } from '@libp2p/peer-id'
import { createAgentNode, type AgentNode, type CreateAgentNodeOptions } from '../surfaces/index.js'
import { BootstrapDialer } from '../protocols/discovery/bootstrap.js'
import { connect } from 'node:net'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { execFileSync } from 'node:child_process'
import { multiaddr } from '@multiformats/multiaddr'
import { phaseProfile } from './phase-profile.js'
import { MemberSync } from '../protocols/discovery/member-wire.js'
import { MESH_TOPIC } from '../protocols/discovery/mesh-map.js'
import { RpcService } from '../protocols/rpc/index.js'
import { REJECT_REASONS } from '../protocols/coordination/election-types.js'

interface Cmd { id: number, cmd: string, [k: string]: any }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }
const MEMBERSHIP = ['$agentmesh/members', '$agentmesh/probe', '$agentmesh/member-gossip', '$agentmesh/member-sync', '$agentmesh/member-digest', '$agentmesh/member-sums', '$agentmesh/member-patch']
const COORDINATION = ['$agentmesh/election', '$agentmesh/coordinator']
/** HyParView's message types (protocols/discovery/hyparview.ts ViewMessage), as view_messages_total labels them. */
const VIEW_TYPES = ['join', 'forward-join', 'neighbour', 'neighbour-reply', 'disconnect', 'shuffle', 'shuffle-reply', 'swap', 'swap-reply'] as const

/** Connections opened by this process's agents, either way (bench:scale --progress). */
const opened = { count: 0 }
/** Dials to a peer not connected (bench:scale --progress): by the code that asked, and how long each took (ms). */
const dials = { by: new Map<string, number>(), ms: [] as number[], failed: 0 }

/** Requests to a peer not connected (each opens a connection): by command and message type (bench:scale --progress). */
const freshRequests = new Map<string, number>()

/**
 * The event loop's delay since the last progress line (bench:scale --progress): a process whose
 * loop turns take seconds accepts its seeds' joiners that late (their dials time out queued).
 */
const loopDelay = monitorEventLoopDelay({ resolution: 20 })

/** Inbound connections' upgrade, TCP accepted to the connection's open event (Noise, yamux), ms (bench:scale --progress): at the seeds and the others. */
const upgrades = { seeds: [] as number[], others: [] as number[] }

/** The loop's delay p99 and max (ms) since the last call, then forgotten. */
function loopFigures (): { p99: number, max: number } {
  const f = { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) }
  loopDelay.reset()
  return f
}

/** Who dials peers this agent has no connection to: the nearest frame of agentmesh's own code that asked (not the rpc layer); and which requests did. */
function traceDials (node: AgentNode): void {
  const rpc = node.services.find((s): s is RpcService => s instanceof RpcService)
  if (rpc !== undefined) {
    const r = rpc as unknown as { request: (peer: string, command: { name: string } | string, payload: unknown, ...rest: unknown[]) => Promise<unknown> }
    const inner = r.request.bind(rpc)
    r.request = async (peer, command, payload, ...rest) => {
      if (node.libp2p.getConnections().every(c => c.remotePeer.toString() !== peer)) {
        const type = (payload as { type?: unknown } | undefined)?.type
        const key = `${typeof command === 'string' ? command : command.name}${typeof type === 'string' ? ` ${type}` : ''}`
        freshRequests.set(key, (freshRequests.get(key) ?? 0) + 1)
      }
      return await inner(peer, command, payload, ...rest)
    }
  }
  const l = node.libp2p as unknown as Record<'dial' | 'dialProtocol', (peer: unknown, ...rest: unknown[]) => Promise<unknown>>
  for (const name of ['dial', 'dialProtocol'] as const) {
    const inner = l[name].bind(l)
    l[name] = async (peer, ...rest) => {
      const id = typeof (peer as { toString?: unknown }).toString === 'function' ? String(peer) : ''
      const fresh = !id.startsWith('/') && node.libp2p.getConnections().every(c => c.remotePeer.toString() !== id)
      if (!fresh) return await inner(peer, ...rest)
      // Deep enough to get past libp2p's and the rpc layer's frames to the code that asked.
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 40
      const stack = new Error().stack ?? ''
      Error.stackTraceLimit = limit
      const frame = stack.split('\n').slice(2).find(f => f.includes('/dist/') && !/rpc\/(index|framed-stream|outgoing|channel|pacer)\.js|node\/member-connections\.js|scale-worker/.test(f)) ?? name
      const where = /\/dist\/([^:]+):(\d+)/.exec(frame)
      const key = where !== null ? `${where[1]}:${where[2]}` : frame.trim().slice(0, 60)
      dials.by.set(key, (dials.by.get(key) ?? 0) + 1)
      const t0 = performance.now()
      try {
        return await inner(peer, ...rest)
      } catch (err) {
        dials.failed++
        throw err
      } finally {
        dials.ms.push(performance.now() - t0)
      }
    }
  }
}

// Taken before any agent exists: what one more agent costs is (rss - rssBase) / agents.
const rssBase = process.memoryUsage().rss
const agents: AgentNode[] = []
/** Bootstrap dials that failed, per agent: how many, and the last error (why an agent never joined). */
const dialErrors = new Map<AgentNode, { count: number, last: string }>()
const crashed = new Set<AgentNode>()
/** The member view's parts a full exchange uses (private there: the bench reaches in to tell why news did not come). */
interface SyncParts { syncSet: () => unknown[], init: { rpc: RpcService }, receive: (p: string, st: unknown[], full: boolean) => void }
/** Per agent: when it first followed each leader (Date.now()). */
const followed = new Map<AgentNode, Map<string, number>>()
const frames = new Map<AgentNode, () => number>()
/** The broadcast under way: each receiver's send-to-receipt times (ms) and the ids it got. */
const heard = { latencies: [] as number[], received: 0, duplicates: 0, stops: [] as Array<() => void> }

function countFrames (node: AgentNode): () => number {
  const gs = node.libp2p.services.pubsub as unknown as { sendRpc: (id: unknown, rpc: unknown) => boolean }
  let n = 0
  const send = gs.sendRpc.bind(gs)
  gs.sendRpc = (id, rpc) => { n++; return send(id, rpc) }
  return () => n
}

/**
 * Whether this agent can publish to its neighbours: peers it holds an outbound gossipsub stream to
 * (gossipsub sends only over one, and makes it once per connection), and the subscribers of the mesh
 * map's topic it knows. An agent missing from the map with no outbound stream says its posts go nowhere.
 */
function gossipFacts (a: AgentNode): Record<string, number> {
  const conns = a.libp2p.getConnections().filter(c => c.status === 'open')
  const peersWith = (direction: string): number => new Set(conns.filter(c => c.streams.some(s => s.direction === direction && s.protocol?.startsWith('/meshsub/') === true)).map(c => c.remotePeer.toString())).size
  const t = a.topicPeers(MESH_TOPIC.name)
  return { peers: new Set(conns.map(c => c.remotePeer.toString())).size, outbound: peersWith('outbound'), inbound: peersWith('inbound'), mapSubscribers: t.subscribers.length }
}

/** An agent's election as it stands (what to read when a mesh does not converge): role, voters (last 6 characters), set version, lease. */
function electionFacts (s: ReturnType<AgentNode['coordination']['status']>): Record<string, unknown> {
  return {
    role: s.role,
    voters: s.voters.map(v => v.slice(-6)),
    version: s.voterSetVersion,
    quorum: `${s.quorum.reachable}/${s.quorum.size}`,
    ...(s.leaseRemainingMs !== undefined ? { leaseMs: s.leaseRemainingMs } : {}),
    ...(s.lastLeaderContactMsAgo !== undefined ? { leaderMsAgo: s.lastLeaderContactMsAgo } : {})
  }
}

/** What an agent refused or hung up on, by kind (the seeds' are printed when agents stay out). */
function refusals (a: AgentNode): Record<string, number> {
  const out: Record<string, number> = {}
  for (const reason of ['per_host', 'inbound', 'per_peer', 'cooldown', 'revoked']) {
    const n = a.stats.get('connections_refused_total', { reason })
    if (n > 0) out[reason] = n
  }
  for (const name of ['rpc_flooders_disconnected_total', 'gossip_flooders_disconnected_total', 'stream_flooders_disconnected_total', 'rpc_rate_limited_total'] as const) {
    const n = a.stats.get(name)
    if (n > 0) out[name] = n
  }
  return out
}

/** Inbound connections libp2p is upgrading for this agent (its connection manager's count; at 10 it takes no new one). */
function pendingInbound (a: AgentNode): number | undefined {
  const inside = a.libp2p as unknown as { components: { connectionManager: { incomingPendingConnections?: number } } }
  return inside.components.connectionManager.incomingPendingConnections
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
      const given = m.seeds as string[]
      const out: Array<{ peerId: string, addr: string }> = []
      for (let i = 0; i < m.count; i++) {
        const index = (m.first as number) + i
        // The seeds themselves (no seeds given) bootstrap from those started before them: without
        // it the first three were strangers to each other and the mesh three islands that never met.
        const seeds = given.length > 0 ? given : out.map(o => o.addr)
        const bootstrap = seeds.length > 0 ? [seeds[index % seeds.length]] : []
        // --page: the first agent serves the debug endpoint whose live page is measured.
        const debug = m.debugFirst === true && index === 0 ? { debug: '127.0.0.1:0' } : {}
        const node = await createAgentNode({ ...base, ...debug, name: `a${index}`, ...(bootstrap.length > 0 ? { bootstrap } : {}) })
        node.addEventListener('bootstrap:error', (e) => { dialErrors.set(node, { count: (dialErrors.get(node)?.count ?? 0) + 1, last: e.detail.error.message.slice(0, 120) }) })
        await node.start()
        agents.push(node)
        frames.set(node, countFrames(node))
        // --progress only: the wrapper runs on every dial, and a plain run measures the code alone.
        if (m.progress === true) {
          loopDelay.enable()
          const isSeed = m.seeding === true
          node.libp2p.addEventListener('connection:open', (e) => {
            opened.count++
            const t = e.detail.timeline
            // libp2p 3 sets no `upgraded` on the timeline: the open event is the upgrade's end.
            if (e.detail.direction === 'inbound') (isSeed ? upgrades.seeds : upgrades.others).push(Date.now() - t.open)
          })
          traceDials(node)
        }
        // When it first followed each leader (this machine's clock): the fail-over's spread, without the bench's polling in it.
        const seen = new Map<string, number>()
        followed.set(node, seen)
        node.addEventListener('coordinator:change', (e) => { const l = e.detail.leader; if (l !== undefined && !seen.has(l)) seen.set(l, Date.now()) })
        out.push({ peerId: node.peerId, addr: node.addresses()[0] })
        // A burst of Noise handshakes times out on 2 cores.
        await sleep(m.gapMs ?? 30)
      }
      return out
    }
    case 'redial': {
      // The agents with no connection dial their seed once more, with 20 s, and a bare TCP
      // socket asks the seed's multistream-select for Noise: which side of a join stalls.
      const lone = agents.filter(a => !crashed.has(a) && a.members().every(x => x.state !== 'alive'))
      return await Promise.all(lone.map(async a => {
        const addr = a.config.bootstrap[0]
        const t0 = performance.now()
        const raw = await rawProbe(addr)
        const t1 = performance.now()
        try {
          await a.libp2p.dial(multiaddr(addr), { signal: AbortSignal.timeout(20_000) })
          const connectedTo = a.libp2p.getConnections().map(c => c.remotePeer.toString().slice(-8))
          return { addr: addr.slice(-8), raw, dialMs: Math.round(performance.now() - t1), connectedTo }
        } catch (err) {
          const dialMs = Math.round(performance.now() - t1)
          return { addr: addr.slice(-8), raw, rawMs: Math.round(t1 - t0), dialMs, error: (err as Error).message.slice(0, 100) }
        }
      }))
    }
    case 'lag': {
      // The event loop's delay over 2 s, and the CPU the process spent meanwhile.
      const c0 = process.cpuUsage()
      const h = monitorEventLoopDelay({ resolution: 10 })
      const t0 = performance.now()
      h.enable()
      await sleep(2000)
      h.disable()
      const c1 = process.cpuUsage(c0)
      const ms = (ns: number): number => Math.round(ns / 1e6)
      // A histogram with no samples is not a loop on time: its timer records a delay only between
      // two of its runs, so a loop blocked for the whole window (its timer ran once, or not at all)
      // reads 0/0/0. Then the window's length (wall) is the figure: the loop was busy throughout.
      const wallMs = Math.round(performance.now() - t0)
      if (h.count < 2) return { cpuMsIn2s: Math.round((c1.user + c1.system) / 1000), wallMs, samples: h.count, overrunMs: wallMs - 2000 }
      return { cpuMsIn2s: Math.round((c1.user + c1.system) / 1000), wallMs, p50: ms(h.percentile(50)), p99: ms(h.percentile(99)), max: ms(h.max) }
    }
    case 'status':
      // Polled every 250 ms: the member list is built once per agent (at 200 agents, building it
      // twice took 7.5% of the seeds' process during the join).
      return agents.filter(a => !crashed.has(a)).map(a => ({ a, members: a.members(), status: a.coordination.status() })).map(({ a, members, status }) => ({
        peerId: a.peerId,
        alive: members.filter(x => x.state === 'alive').length,
        leader: a.coordination.leader,
        inOffice: a.coordination.inOffice,
        term: a.coordination.term,
        voters: a.coordination.voters().length,
        reason: status.reason,
        election: electionFacts(status),
        states: members.reduce<Record<string, number>>((o, x) => { o[x.state] = (o[x.state] ?? 0) + 1; return o }, {}),
        // The members it holds suspect or offline: --progress prints the most suspected, by process.
        lost: members.filter(x => x.state === 'suspect' || x.state === 'offline').map(x => x.peerId),
        connections: a.libp2p.getConnections().length,
        // connections.graph 'views': its active view (peer ids) and reserve size; one-sided links are counted by the bench.
        ...(a.internals.views !== undefined
          ? {
              active: a.internals.views.active(),
              passive: a.internals.views.passive().length,
              peersConnected: new Set(a.libp2p.getConnections().map(c => c.remotePeer.toString())).size
            }
          : {}),
        gossip: gossipFacts(a),
        refusals: refusals(a),
        // Inbound upgrades under way (libp2p refuses every new connection at 10): a seed stuck there joins nobody.
        pendingInbound: pendingInbound(a),
        ...(dialErrors.has(a) ? { bootstrapErrors: dialErrors.get(a) } : {}),
        // An agent with no connection: what its dial queue holds (a dial stuck there is joined by every later one to that peer).
        ...(a.libp2p.getConnections().length === 0
          ? {
              dialQueue: a.libp2p.getDialQueue().map(d => `${d.status} ${[...d.multiaddrs].map(m => m.toString()).join(',')}`),
              join: (a.services.find(s => s instanceof BootstrapDialer) as BootstrapDialer | undefined)?.joinState
            }
          : {})
      }))
    case 'voters': {
      // The voters this process holds, as each sees the election (bench:scale's fail-over timeline).
      return agents.filter(a => !crashed.has(a) && a.coordination.voters().includes(a.peerId)).map(a => {
        const s = a.coordination.status()
        const others = s.voters.filter(v => v !== a.peerId)
        return {
          peerId: a.peerId,
          role: s.role,
          term: s.term,
          leader: s.leader,
          inOffice: s.inOffice,
          slackMs: s.slackMs,
          reachable: s.quorum.reachable,
          sinceLeaderMs: s.lastLeaderContactMsAgo,
          // Which of the other voters this one holds an open connection to.
          connected: others.filter(v => a.libp2p.getConnections(peerIdFromString(v)).some(c => c.status === 'open')).length,
          alive: others.filter(v => a.members().some(x => x.peerId === v && x.state === 'alive')).length
        }
      })
    }
    case 'progress': {
      // What the mesh's work during the join is made of, summed over this process's agents (bench:scale --progress).
      const hk = (subject: string, type: string): number => agents.reduce((s, a) => s + a.stats.get('housekeeping_messages_total', { subject, direction: 'out', type }), 0)
      const cpu = process.cpuUsage()
      return {
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
        opened: opened.count,
        checked: agents.reduce((s, a) => s + a.stats.get('member_statements_total', { kind: 'checked' }), 0),
        signed: agents.reduce((s, a) => s + a.stats.get('member_statements_total', { kind: 'signed' }), 0),
        gossip: hk('$agentmesh/member-gossip', 'REQUEST'),
        // Full exchanges: by digest (one per exchange round), or whole with an older build.
        syncs: hk('$agentmesh/member-digest', 'REQUEST') + hk('$agentmesh/member-sums', 'REQUEST') + hk('$agentmesh/member-sync', 'REQUEST'),
        patches: hk('$agentmesh/member-patch', 'REQUEST'),
        probes: hk('$agentmesh/probe', 'REQUEST'),
        // Full exchanges answered in time (the answer is what the asker learns from), and answers of any kind that came after the asker gave up.
        syncsAnswered: agents.reduce((s, a) => s + ['$agentmesh/member-digest', '$agentmesh/member-sums', '$agentmesh/member-sync'].reduce((t, subject) =>
          t + a.stats.get('housekeeping_messages_total', { subject, direction: 'in', type: 'RESPONSE' }), 0), 0),
        // Requests dropped unread by their receiver: past the deadline (ttl) their sender gave them.
        expired: agents.reduce((s, a) => s + a.stats.get('messages_total', { direction: 'in', status: 'expired' }), 0),
        lateAnswers: agents.reduce((s, a) => s + a.stats.get('messages_total', { direction: 'in', type: 'RESPONSE', status: 'late' }), 0),
        dialsFailed: dials.failed,
        // connections.graph 'views': view messages sent, failed, refused for an unknown sender, and idle connections closed.
        ...Object.fromEntries(['out', 'failed', 'unknown', 'idle-closed'].map(what => [`view_${what}`, agents.reduce((s, a) => s + a.stats.get('view_messages_total', { what }), 0)])),
        ...Object.fromEntries(['join', 'forward-join', 'neighbour', 'disconnect', 'shuffle', 'swap', 'swap-reply'].map(type => [`view_out_${type}`, agents.reduce((s, a) => s + a.stats.get('view_messages_total', { what: 'out', type }), 0)])),
        // Of them, sent to a peer not connected: each opened a connection (bench:views --by-type counts the same in the simulator).
        // And those that failed (unanswered, or the connection lost): each one lost to the view is repaired (view-links.ts unreached).
        ...Object.fromEntries((['dialled', 'failed'] as const).flatMap(what => VIEW_TYPES.map(type =>
          [`view_${what}_${type}`, agents.reduce((s, a) => s + a.stats.get('view_messages_total', { what, type }), 0)]))),
        ...Object.fromEntries(['malformed', 'bad_signature', 'not_admitted', 'over_budget', 'reaped', 'over_cap', 'sync_over_budget'].map(r =>
          [`refused_${r}`, agents.reduce((s, a) => s + a.stats.get('gossip_rejected_total', { reason: `member_${r}` }), 0)])),
        // Not summed: the caller prints them per line.
        dialsBy: Object.fromEntries(dials.by),
        requestsBy: Object.fromEntries(freshRequests),
        dialMs: dials.ms.splice(0),
        loop: loopFigures(),
        upgrades: { seeds: upgrades.seeds.splice(0), others: upgrades.others.splice(0) }
      }
    }
    case 'counters': {
      const cpu = process.cpuUsage()
      return {
        membership: sum(MEMBERSHIP),
        probes: sum(['$agentmesh/probe']),
        memberGossip: sum(['$agentmesh/member-gossip']),
        coordination: sum(COORDINATION),
        frames: [...frames.values()].reduce((s, f) => s + f(), 0),
        suspicions: agents.reduce((s, a) => s + a.stats.get('member_changes_total', { state: 'suspect' }), 0),
        statementsSigned: agents.reduce((s, a) => s + a.stats.get('member_statements_total', { kind: 'signed' }), 0),
        statementsChecked: agents.reduce((s, a) => s + a.stats.get('member_statements_total', { kind: 'checked' }), 0),
        // Announcements refused, by reason (a non-voter follows a new coordinator on its announcement).
        announcementsRejected: Object.fromEntries(REJECT_REASONS.map(r => [r, agents.reduce((s, a) => s + a.stats.get('coordination_rejected_total', { message: 'announcement', reason: r }), 0)])),
        cpuUs: cpu.user + cpu.system,
        rss: process.memoryUsage().rss,
        rssBase,
        agents: agents.length - crashed.size
      }
    }
    case 'subscribe': {
      Object.assign(heard, { latencies: [], received: 0, duplicates: 0 })
      // `only`: these agents subscribe, no others (a topic few read).
      for (const a of agents.filter(x => !crashed.has(x) && (m.only === undefined || (m.only as string[]).includes(x.peerId)))) {
        const sub = a.subscribe(m.topic)
        // The publisher subscribes too (so it is in the topic's mesh) but its own copies are not counted.
        if (a.peerId === m.except) {
          heard.stops.push(() => { sub.unsubscribe() })
          void (async () => { for await (const _ of sub) { /* its own */ } })()
          continue
        }
        const seen = new Set<number>()
        heard.stops.push(() => { sub.unsubscribe() })
        void (async () => {
          for await (const msg of sub) {
            const p = msg.payload as { i: number, t: number }
            if (seen.has(p.i)) { heard.duplicates++; continue }
            seen.add(p.i)
            heard.received++
            heard.latencies.push(Math.round((Date.now() - p.t) * 10) / 10)
          }
        })()
      }
      return true
    }
    case 'publish': {
      // Paced by the clock, not by a timer per message: a late timer sends what is due at once.
      const a = agents.find(x => x.peerId === m.peerId) as AgentNode
      const batches = (): number => a.stats.get('broadcast_batches_total', { direction: 'out', via: 'gossip' })
      const b0 = batches()
      const t0 = Date.now()
      let sent = 0
      while (Date.now() - t0 < m.seconds * 1000) {
        const due = Math.floor((Date.now() - t0) / 1000 * m.rate)
        while (sent < due) await a.publish(m.topic, { i: sent++, t: Date.now() })
        await sleep(5)
      }
      await a.flush()
      return { sent, batches: batches() - b0 }
    }
    case 'page': {
      // What the live page fetches (surfaces/debug/page.ts), in bytes: every 2 s, every 5 s, and what
      // the page before paging fetched every 2 s (the whole map, indented JSON).
      const url = agents.find(a => a.debugUrl !== undefined)?.debugUrl as string
      const size = async (path: string): Promise<number> => (await (await fetch(url + path)).arrayBuffer()).byteLength
      const sum = async (paths: string[]): Promise<number> => (await Promise.all(paths.map(size))).reduce((s, x) => s + x, 0)
      const every2s = await sum(['/mesh/groups', '/coordinator', '/tasks?limit=10', '/dead-letters?newest=1&limit=5', '/breakers'])
      const every5s = await sum(['/rates?limit=10', '/mesh?edges=0&series=1&sort=rate&limit=25'])
      const whole: { nodes: unknown[], edges: unknown[] } = { nodes: [], edges: [] }
      for (let offset: number | null = 0; offset !== null;) {
        const page = await (await fetch(`${url}/mesh?limit=500&offset=${offset}`)).json() as { nodes: unknown[], edges: unknown[], nextOffset: number | null }
        whole.nodes.push(...page.nodes)
        whole.edges.push(...page.edges)
        offset = page.nextOffset
      }
      return { url, every2s, every5s, mapAgents: whole.nodes.length, mapLinks: whole.edges.length, wholeMapBytes: JSON.stringify(whole, null, 2).length }
    }
    case 'meshed':
      return agents.filter(a => !crashed.has(a)).every(a => a.topicPeers(m.topic).mesh.length > 0)
    case 'heard':
      return { received: heard.received, duplicates: heard.duplicates }
    case 'latencies': {
      for (const stop of heard.stops) stop()
      heard.stops = []
      return { latencies: heard.latencies, received: heard.received, duplicates: heard.duplicates }
    }
    case 'unknown': {
      // For each agent still running: which of `ids` (every agent's peer id) it holds no member
      // entry for, and what it refused of the member gossip (why news may not have reached it).
      const ids = m.ids as string[]
      return agents.filter(a => !crashed.has(a)).map(a => {
        const known = new Set(a.members().map(x => x.peerId))
        const rejected: Record<string, number> = {}
        for (const r of ['malformed', 'bad_signature', 'not_admitted', 'over_budget', 'reaped', 'over_cap', 'sync_over_budget']) {
          const k = a.stats.get('gossip_rejected_total', { reason: `member_${r}` })
          if (k > 0) rejected[r] = k
        }
        for (const [name, value] of Object.entries(refusals(a))) rejected[name] = value
        // Its full exchanges: asked (out REQUEST) and answered (in RESPONSE), and those it answered.
        const sync = (direction: string, type: string): number => ['$agentmesh/member-digest', '$agentmesh/member-sums', '$agentmesh/member-sync'].reduce((t, subject) =>
          t + a.stats.get('housekeeping_messages_total', { subject, direction, type }), 0)
        rejected.syncsAsked = sync('out', 'REQUEST')
        rejected.syncsAnswered = sync('in', 'RESPONSE')
        rejected.syncsServed = sync('in', 'REQUEST')
        // Whose statements it holds to pass on (a member known only by a connection or a probe is
        // not in its full exchanges), and its neighbours: where the news could come from.
        const rumours = (a as unknown as { s: { memberView: { rumours: { seq: (k: string) => number | undefined } } } }).s.memberView.rumours
        return {
          peerId: a.peerId,
          unknown: ids.filter(id => id !== a.peerId && !known.has(id)),
          unheld: ids.filter(id => id !== a.peerId && rumours.seq(id) === undefined),
          neighbours: a.libp2p.getConnections().map(c => c.remotePeer.toString()),
          rejected
        }
      })
    }
    case 'resync': {
      // Agents that do not know every member ask one neighbour for a full exchange, as their timer
      // would, and say what came of it: how many statements came, how many members they know after.
      const n = m.n as number
      const lacking = agents.filter(a => !crashed.has(a) && a.members().length < n - 1).slice(0, 4)
      return await Promise.all(lacking.map(async a => {
        const view = (a as unknown as { s: { memberView: SyncParts } }).s.memberView
        const alive = new Set(a.members().filter(x => x.state === 'alive').map(x => x.peerId))
        const conns = a.libp2p.getConnections().map(c => c.remotePeer.toString()).filter(p => alive.has(p))
        const peer = conns[Math.floor(Math.random() * conns.length)]
        const before = a.members().length
        const t0 = performance.now()
        try {
          const answer = await view.init.rpc.request(peer, MemberSync, { statements: view.syncSet() as never }, { timeoutMs: 2_000 })
          view.receive(peer, answer.statements, true)
          return { before, after: a.members().length, got: answer.statements.length, ms: Math.round(performance.now() - t0) }
        } catch (err) {
          return { before, error: (err as Error).message.slice(0, 200), ms: Math.round(performance.now() - t0) }
        }
      }))
    }
    case 'followed':
      // When each agent still running first followed `leader` (undefined: not yet).
      return agents.filter(a => !crashed.has(a)).map(a => ({
        at: followed.get(a)?.get(m.leader as string) ?? null,
        voter: a.coordinator().voters.includes(a.peerId)
      }))
    case 'profile':
      // A CPU profile of one phase (bench:scale --profile-failover): on, then off with the file.
      await phaseProfile(m)
      return true
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

/** A bare TCP connection to `addr` asking multistream-select for Noise: how long to the first byte back, or why none came. */
async function rawProbe (addr: string): Promise<string> {
  const [, , host, , port] = addr.split('/')
  return await new Promise(resolve => {
    const t0 = performance.now()
    const sock = connect({ host, port: Number(port) })
    let connectedMs: number | undefined
    const done = (what: string): void => {
      clearTimeout(timer)
      sock.destroy()
      // The listening socket's accept queue (Recv-Q) and backlog (Send-Q): a queue at its backlog drops new connections.
      let queue = ''
      try { queue = execFileSync('ss', ['-Hltn', `sport = :${port}`], { encoding: 'utf8' }).trim().split(/\s+/).slice(1, 3).join('/') } catch {}
      resolve(`${what} after ${Math.round(performance.now() - t0)} ms (TCP ${connectedMs !== undefined ? `open at ${connectedMs} ms` : 'never open'}; accept queue/backlog ${queue})`)
    }
    const timer = setTimeout(() => { done('no answer') }, 10_000)
    const line = (s: string): Buffer => Buffer.concat([Buffer.from([s.length + 1]), Buffer.from(s + '\n')])
    sock.once('connect', () => { connectedMs = Math.round(performance.now() - t0); sock.write(Buffer.concat([line('/multistream/1.0.0'), line('/noise')])) })
    sock.once('data', () => { done('answered') })
    sock.once('error', (err) => { done(`error ${err.message}`) })
    sock.once('close', () => { done('closed') })
  })
}
