// Seeds hand newcomers on (issue 15, protocols/discovery/hand-off.ts), through real agents: a seed that
// takes at most 6 inbound connections, and 12 newcomers that know only the seed's address. Each
// newcomer's connection to the seed used to be held for good, so the seed refused the 7th
// newcomer on and those never joined; now the seed asks the agents connected longest to let go
// once it is past three quarters of its cap, and every newcomer joins. The agents let go are
// not probed for the close (a probe dials at once). The seed may dial them later for reasons of
// its own (its peer target, a new voter, an agent it held offline on a loaded host: CI saw three
// such dials once), so the test looks at dials right after an agreed close only.
import { after, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { createAgentNode, type AgentNode } from '../../../surfaces/index.js'
import { HandOffs } from '../../../protocols/discovery/hand-off.js'
import { nodeOptions, sleep, stopAll, uniqueMesh, waitFor } from '../../helpers.js'

const MAX_INBOUND = 6
const NEWCOMERS = 12
/** A probe for a close dials within this of it (it starts on the disconnect event). */
const PROBE_WINDOW_MS = 2_000

describe('a seed hands newcomers on', () => {
  const nodes: AgentNode[] = []
  after(async () => { await stopAll(nodes) })

  // Which agents the seed asks, and when (its oldest, past three quarters of its cap), is hand-off.ts's rule;
  // this test checks what comes of it: closes by agreement, none followed by a dial, and everyone joined.
  it('a seed with a small inbound cap hands agents on by agreement, dials none of them right after, and every newcomer joins', async () => {
    const mesh = uniqueMesh()
    // Three voters (voters are never handed on), and newcomers refused by the full seed retry within 2 s.
    const connections = { maxInbound: MAX_INBOUND, handOffAfterMs: 500, targetPeers: 3, bootstrapMaxDelayMs: 2_000 }
    const common = { preset: 'local' as const, coordination: { maxVoters: 3 }, connections }
    const seed = await createAgentNode(nodeOptions(mesh, { name: 'seed', ...common }))
    // When the seed closed each agent's connection by agreement, and its dials of one soon after.
    const agreedClose = new Map<string, number>()
    const probed: string[] = []
    const handOffs = seed.services.find((x): x is HandOffs => x instanceof HandOffs)
    assert.ok(handOffs !== undefined)
    seed.libp2p.addEventListener('peer:disconnect', (e) => {
      const p = e.detail.toString()
      if (handOffs.expects(p)) agreedClose.set(p, Date.now())
    })
    seed.libp2p.addEventListener('connection:open', (e) => {
      const p = e.detail.remotePeer.toString()
      const at = agreedClose.get(p)
      if (e.detail.direction === 'outbound' && at !== undefined && Date.now() - at < PROBE_WINDOW_MS) probed.push(p)
    })
    // Who dials, for the failure message: the code that asked (each dial's stack, with its time).
    const dialStacks = new Map<string, Array<{ at: number, stack: string }>>()
    const lib = seed.libp2p as unknown as Record<'dial' | 'dialProtocol', (peer: unknown, ...rest: unknown[]) => Promise<unknown>>
    for (const m of ['dial', 'dialProtocol'] as const) {
      const original = lib[m].bind(lib)
      lib[m] = async (peer: unknown, ...rest: unknown[]) => {
        // Deep enough to reach past the rpc layer to the part that asked (seven frames ended in
        // RpcService.open < channel < exchange once, in the loop: which request was not told).
        const limit = Error.stackTraceLimit
        Error.stackTraceLimit = 40
        const trace = new Error(m).stack ?? ''
        Error.stackTraceLimit = limit
        const stack = trace.split('\n').slice(2).map(l => l.trim()).filter(l => !l.includes('node:internal')).slice(0, 16).join(' < ')
        // By peer id, also when a multiaddr was dialled.
        const ma = peer as { getPeerId?: () => string | null }
        const key = typeof ma?.getPeerId === 'function' ? (ma.getPeerId() ?? String(peer)) : String(peer)
        dialStacks.set(key, [...(dialStacks.get(key) ?? []), { at: Date.now(), stack }].slice(-20))
        return await original(peer, ...rest)
      }
    }
    await seed.start()
    nodes.push(seed)
    for (let i = 0; i < NEWCOMERS; i++) {
      const n = await createAgentNode(nodeOptions(mesh, { name: `n${i}`, ...common, bootstrap: [seed.addresses()[0]] }))
      await n.start()
      nodes.push(n)
      await sleep(300)
    }
    const everyone = nodes.length - 1
    await waitFor(() => nodes.every(n => n.members().filter(m => m.state === 'alive').length === everyone), 'every agent alive to every other', 60_000).catch((err) => {
      for (const n of nodes) {
        const notAlive = n.members().map(m => m.state).filter(s => s !== 'alive')
        const conns = n.libp2p.getConnections()
        const what = ['asked', 'given', 'taken', 'refused'].map(w => n.stats.get('hand_offs_total', { what: w })).join('/')
        const missing = nodes.filter(m => m !== n && n.members().every(x => x.peerId !== m.peerId)).map(m => m.name)
        const hk = (subject: string, direction: string): number => n.stats.get('housekeeping_messages_total', { subject, direction, type: 'REQUEST' })
        const exchanges = ['member-digest', 'member-patch', 'member-sync'].map(x => `${hk(`$agentmesh/${x}`, 'out')}/${hk(`$agentmesh/${x}`, 'in')}`).join(' ')
        console.log(`${n.name}: ${n.members().length} members, not alive ${JSON.stringify(notAlive)}, missing ${JSON.stringify(missing)}; connections ${conns.length} ` +
          `(in ${conns.filter(c => c.direction === 'inbound').length}); hand-offs asked/given/taken/refused ${what}; digest, patch, sync out/in ${exchanges}`)
      }
      throw err
    })
    // Every agent has the same cap: the first ones dialled by many hand on too.
    const count = (what: string): number => nodes.reduce((s, n) => s + n.stats.get('hand_offs_total', { what }), 0)
    assert.ok(seed.stats.get('hand_offs_total', { what: 'given' }) > 0, 'the seed handed agents on')
    // An agent whose answer came after the asker gave up agreed to a close that never came: taken, not given.
    assert.ok(count('given') <= count('taken'), `each close agreed by the agent let go (${count('given')} given, ${count('taken')} taken)`)
    // A close by agreement is not probed: the seed dialled none of the agents it handed on right after.
    assert.ok(agreedClose.size > 0, 'the seed saw agreed closes')
    // The first dial after the close is the one that opened the connection; later ones (a card exchange on it) only reuse it.
    const opener = (p: string): string => {
      const since = (dialStacks.get(p) ?? []).filter(d => d.at >= (agreedClose.get(p) ?? 0))
      return since.length === 0 ? 'not by libp2p.dial or dialProtocol' : since.slice(0, 2).map(d => `+${d.at - (agreedClose.get(p) ?? 0)} ms ${d.stack}`).join(' || ')
    }
    assert.deepEqual(probed, [], `the seed dialled no agent just handed on; its first dials of each after the close: ${probed.map(p => `${p}: ${opener(p)}`).join('; ')}`)
    // Agreed closes are not taken for failures: at the end every agent holds every other alive.
    for (const n of nodes) assert.equal(n.members().filter(m => m.state !== 'alive').length, 0, `${n.name} holds every agent alive`)
  })
})
