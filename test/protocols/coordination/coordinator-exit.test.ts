// A coordinator whose process exits (kill -9) is replaced without waiting out the election
// timeout: its voters see the connection close and its address refuse a dial (ElectionService
// over PeerLinks, node/member-connections.ts). A connection that closes while the coordinator
// lives changes nothing. Real agent processes on 127.0.0.1; the machine's side is in
// test/protocols/coordination/election-exit.test.ts.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer } from 'node:net'
import { fileURLToPath } from 'node:url'
import { multiaddr } from '@multiformats/multiaddr'
import { Proc, agentTimings, freePort, nodeOptions, uniqueMesh, waitFor } from '../../helpers.js'
import { createAgentNode } from '../../../surfaces/index.js'
import { peerLinks, tcpEndpoints } from '../../../node/member-connections.js'
import { refusedEverywhere } from '../../../node/tcp-probe.js'

const AGENT = fileURLToPath(new URL('../../../harness/fixtures/netns-agent.js', import.meta.url))
/**
 * Long enough that no timeout can elect a successor soon: the first follower's runs out at the
 * earliest ELECTION_MIN_MS after the coordinator's last heartbeat. An exit is acted on once what
 * the voters promised ends (278 ms after the last heartbeat, with 100-ms heartbeats) and half a
 * turn of an eighth of ELECTION_MIN_MS has passed: about 550 ms on a quiet host; 2,367 ms once
 * at load 14 (a full suite beside this one), which failed the old bound of ELECTION_MIN_MS / 2
 * with 4,000 here; 8,169 ms once in a full suite on this machine (2026-11-29), which failed the
 * bound of 6,000 then. What tells an exit from a timeout is only that it came before any timeout
 * could: a successor in office sooner than ELECTION_MIN_MS after the kill (less a heartbeat
 * interval and a margin, since the timeout counts from the last heartbeat before the kill). So
 * the timeout is long, not the exit's bound short. It costs the test about 5 s (15-22 s with
 * 6,000, 25 s with 10,000): the first election and the quiet wait are longer.
 */
const ELECTION_MIN_MS = 10_000
/** The last heartbeat came at most one interval (100 ms) before the kill; 400 ms more of margin. */
const BEFORE_ANY_TIMEOUT_MS = ELECTION_MIN_MS - 500

interface Agent { proc: Proc, peerId: string, seq: number }

async function startAgent (i: number, ports: number[], mesh: string): Promise<Agent> {
  const proc = new Proc([AGENT], {
    ...agentTimings(ports.length),
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MIN_MS: String(ELECTION_MIN_MS),
    AGENTMESH_COORDINATION_ELECTION_TIMEOUT_MAX_MS: String(ELECTION_MIN_MS * 1.5),
    AGENTMESH_NAME: `x${i}`,
    AGENTMESH_MESH: mesh,
    AGENTMESH_LISTEN: `/ip4/127.0.0.1/tcp/${ports[i]}`,
    AGENTMESH_BOOTSTRAP: ports.filter((_, j) => j !== i).map(p => `/ip4/127.0.0.1/tcp/${p}`).join(','),
    AGENTMESH_MDNS: 'false',
    AGENTMESH_SECURITY_MODE: 'open',
    AGENTMESH_LOG_LEVEL: 'error'
  }, undefined, { stdin: 'pipe' })
  const started = await proc.json(o => o.event === 'started', `x${i} to start`, 30_000)
  return { proc, peerId: started.peerId, seq: 0 }
}

async function ask (a: Agent, cmd: Record<string, unknown>): Promise<any> {
  const id = ++a.seq
  a.proc.child.stdin?.write(`${JSON.stringify({ id, ...cmd })}\n`)
  const answer = await a.proc.json(o => o.id === id, `the answer to ${String(cmd.cmd)}`)
  if (answer.ok !== true) throw new Error(`${String(cmd.cmd)}: ${String(answer.error)}`)
  return answer.result
}

/** The coordinator events an agent printed (`coordinator:change`). */
const changes = (a: Agent): any[] => a.proc.lines.flatMap(l => { try { const o = JSON.parse(l); return o.event === 'coordinator' ? [o] : [] } catch { return [] } })

test('the coordinator\'s process killed: its voters see it exit and elect a successor before any election timeout runs out; a connection closed to a live coordinator changes nothing', { timeout: 3 * 60_000 }, async () => {
  const mesh = uniqueMesh()
  const ports = [await freePort(), await freePort(), await freePort()]
  const agents: Agent[] = []
  try {
    for (let i = 0; i < 3; i++) agents.push(await startAgent(i, ports, mesh))
    const self = (a: Agent): any => changes(a).find(c => c.self === true)
    await waitFor(() => agents.some(a => self(a) !== undefined), 'a first coordinator', 60_000)
    const first = agents.find(a => self(a) !== undefined) as Agent
    const term = self(first).term as number
    const others = agents.filter(a => a !== first)
    await waitFor(() => others.every(a => changes(a).some(c => c.leader === first.peerId && c.term === term)), 'both others to follow it', 15_000)

    // A voter closes its connections to the live coordinator: it redials, and nobody is elected.
    const [v1, v2] = others
    const seen = agents.map(a => changes(a).length)
    assert.deepEqual(await ask(v1, { cmd: 'hangup', peer: first.peerId }), { connected: 0 })
    await waitFor(async () => (await ask(v1, { cmd: 'status' })).peers === 2, 'the connection back', 10_000)
    const quiet = Date.now() + ELECTION_MIN_MS / 2
    await waitFor(() => Date.now() > quiet, 'a while')
    for (const a of agents) {
      const c = (await ask(a, { cmd: 'status' })).coordinator
      assert.deepEqual([c.leader, c.term], [first.peerId, term], 'the same coordinator, in the same term')
    }
    assert.deepEqual(agents.map(a => changes(a).slice(seen[agents.indexOf(a)])), [[], [], []], 'no agent saw the coordinator change, nor go')

    const killedAt = Date.now()
    first.proc.child.kill('SIGKILL')
    await first.proc.exited()
    await waitFor(() => [v1, v2].some(a => changes(a).some(c => c.self === true && c.term > term)), 'a successor in office', 15_000)
    const next = [v1, v2].flatMap(a => changes(a).filter(c => c.self === true && c.term > term))[0]
    // One machine, one clock: the successor's own time of taking office.
    console.log(`a successor in office ${String(next.at - killedAt)} ms after the kill`)
    // What each voter saw after the kill (a split vote shows as terms above term + 1; a missed exit as one election late).
    const after = (a: Agent): string => changes(a).filter(c => c.term > term).map(c => `${String(c.at - killedAt)} ms term ${String(c.term)} ${c.self === true ? 'self' : String(c.leader)}`).join(', ')
    assert.ok(next.at - killedAt < BEFORE_ANY_TIMEOUT_MS, `in office ${String(next.at - killedAt)} ms after the kill: not before an election timeout could have run out (${ELECTION_MIN_MS} ms after the last heartbeat); v1 saw: ${after(v1)}; v2 saw: ${after(v2)}`)
  } finally {
    await Promise.all(agents.map(async a => { await a.proc.stop('SIGKILL') }))
  }
})

test('an exit is told by a refusal at every TCP endpoint of a peer\'s addresses (TCP and WebSocket alike), not by one that answers, nor by none', { timeout: 3 * 60_000 }, async () => {
  const [a, b] = [await createAgentNode(nodeOptions(uniqueMesh())), await createAgentNode(nodeOptions(uniqueMesh()))]
  await a.start()
  await b.start()
  // Something listens and speaks no libp2p: a process is there.
  const server = createServer(socket => { socket.on('error', () => {}).end('not libp2p\n') })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  const signal = (): AbortSignal => AbortSignal.timeout(5_000)
  // A port just found free: another test running alongside may take it meanwhile, so up to three, each fresh.
  const refusedAtFreePort = async (): Promise<boolean> => {
    for (let i = 0; i < 3; i++) if (await refusedEverywhere([{ host: '127.0.0.1', port: await freePort() }], signal())) return true
    return false
  }
  try {
    assert.deepEqual(tcpEndpoints(['/ip4/10.0.0.1/tcp/7001', '/ip4/10.0.0.1/tcp/7001/ws', '/ip4/10.0.0.1/udp/7001/quic-v1', '/dns4/a.example/tcp/7002/ws'].map(x => multiaddr(x))),
      [{ host: '10.0.0.1', port: 7001 }, { host: 'a.example', port: 7002 }], 'one endpoint per host and port; no UDP')
    assert.equal(await refusedAtFreePort(), true, 'nothing listens: refused')
    assert.equal(await refusedEverywhere([{ host: '127.0.0.1', port }], signal()), false, 'a listener, whatever it speaks')
    assert.equal(await refusedEverywhere([], signal()), false, 'no endpoint: nothing told')
    // Through the election's view of a real peer: b's addresses, learned on a dial.
    const links = peerLinks(a.libp2p)
    await a.libp2p.dial(multiaddr(b.addresses()[0]))
    assert.equal(await links.exited(b.peerId, signal()), false, 'b listens')
    await b.stop()
    assert.equal(await links.exited(b.peerId, signal()), true, 'b stopped: its port refuses')
    assert.equal(await links.exited(a.peerId, signal()), false, 'a peer with no address known')
  } finally {
    server.close()
    await Promise.all([a.stop(), b.stop()])
  }
})
