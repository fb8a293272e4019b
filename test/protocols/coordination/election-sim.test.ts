// The election and membership state machines in a deterministic simulation: simulated clock
// and network, seeded schedules of crashes, restarts, partitions, delays and message loss. Each
// node runs the failure detector (fed by statements passed on by gossip to a few random agents
// and by full exchanges, and by direct probes: the member view's own pure core,
// protocols/discovery/member-table.ts and protocols/discovery/rumours.ts, driven by harness/sim-model.ts as MemberView
// drives them over RPC) and the
// election, whose view of who is up comes from it, as in a node. Every step checks the safety invariants of both;
// after each schedule the network heals: every agent must see every other alive, exactly one
// coordinator must be in office, and an agent then crashed must be found offline by all.
// A failing seed is printed; replay it with SIM_SEED=<seed> (SIM_SEEDS=<n> for more).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { seededRandom } from '../../helpers.js'
import { Election, type Announcement, type Certificate, type ElectionMessage, type PersistedElection } from '../../../protocols/coordination/election.js'
import { majority } from '../../../protocols/coordination/voter-set.js'
import type { MemberState } from '../../../protocols/discovery/failure-detector.js'
import type { MemberChange } from '../../../protocols/discovery/member-table.js'
import { MemberAgent, type MemberMessage } from '../../../harness/sim-model.js'
import { Flights } from '../../../harness/flights.js'
import { fakeKeys } from '../../../harness/election-fakes.js'
import { MAX_TERM_STEP } from '../../../protocols/coordination/election-proof.js'
import { RENEW_EVERY_TIMEOUTS } from '../../../protocols/coordination/election.js'
import { EXCHANGE_FEEDBACK_LIMIT, GOSSIP_FEEDBACK_LIMIT, RETRANSMIT_MULT } from '../../../protocols/discovery/constants.js'

const TIMINGS = { heartbeatIntervalMs: 50, electionTimeoutMinMs: 150, electionTimeoutMaxMs: 300, voterRemoveAfterMs: 2_000, announceIntervalMs: 200 }
/** The member view's timings, scaled like the election's (a tenth of the defaults, about). */
const MEMBERSHIP = {
  heartbeatIntervalMs: 50,
  probeIntervalMs: 100,
  probeTimeoutMs: 60,
  silenceMs: 300,
  suspicionMinMs: 200,
  suspicionMaxMs: 600,
  confirmationsForMin: 3,
  syncIntervalMs: 500
}
const FANOUT = 3

/** One node's member view (harness/sim-model.ts, over the real pure core) with the timers a node's shell (MemberView) adds. */
interface MemberView {
  agent: MemberAgent
  nextSync: number
  nextHeartbeat: number
  nextProbe: number
  /** Per member: the incarnation last seen and when a suspicion began (for the invariants). */
  seen: Map<string, { incarnation: number, suspectAt?: number }>
}

const rng = seededRandom

interface SimNode {
  id: string
  eligible: boolean
  election?: Election
  members?: MemberView
  lastIncarnation: number
  persisted?: PersistedElection
  directiveTerm: number
  votes: Map<number, string>
}
type Gossiped = { type: 'announcement', announcement: Announcement }
/**
 * What a node's connections tell it of a peer (ElectionService over PeerLinks): the last
 * connection closed, and whether the peer's process exited (its address refuses): true after a
 * crash, and, as a lying network would tell it, now and then of a live peer cut off by a partition.
 */
type LinkNews = { type: 'link', exited: boolean, term: number, at: number }
interface InFlight { at: number, from: string, to: string, msg: ElectionMessage | MemberMessage | Gossiped | LinkNews | { type: 'directive', term: number }, order: number }

const ALLOWED: Record<MemberState | 'unknown', MemberState[]> = {
  unknown: ['alive', 'left'],
  alive: ['suspect', 'left'],
  suspect: ['alive', 'offline', 'left'],
  offline: ['alive', 'left'],
  left: ['alive']
}

const MEMBER_MESSAGES = new Set(['member-gossip', 'member-gossip-answer', 'member-digest', 'member-digest-answer', 'member-patch', 'member-patch-answer', 'probe', 'probe-ack'])
const isMemberMessage = (m: { type: string }): m is MemberMessage => MEMBER_MESSAGES.has(m.type)

class Simulation {
  now = 0
  readonly nodes: SimNode[]
  private readonly random: () => number
  private readonly flight = new Flights<InFlight>()
  private order = 0
  private nonce = 0
  private group = new Map<string, number>()
  loss = 0
  delay: [number, number] = [1, 10]
  /** Added to a gossiped announcement's way: gossip reaches an agent that just joined later than RPC does (its topic mesh forms in a heartbeat or two). */
  gossipLag = 0
  readonly leaders = new Map<number, string>()
  readonly trace: string[] = []
  /**
   * A voter that runs the election honestly and cheats on the side: 'heartbeats' sends forged
   * heartbeats (a higher term, Number.MAX_SAFE_INTEGER, certificates replayed or relabelled) and
   * vote requests with inflated terms to everyone; 'replies' also inflates the terms of its own
   * acks and denials. It signs only as itself (fakeKeys): identities are not forged.
   */
  forger?: { id: string, mode: 'heartbeats' | 'replies', stolen?: Certificate, seq: number }
  /** Checked after every step, when set. */
  watch?: () => void
  private readonly tracing: boolean

  constructor (readonly seed: number, n: number, readonly bootstrapExpect: number, tracing = false, readonly maxVoters = 5) {
    this.random = rng(seed)
    this.tracing = tracing
    // One agent in four is not coordinator-eligible, when there are enough to spare one.
    this.nodes = Array.from({ length: n }, (_, i) => ({ id: `n${i}`, eligible: n < 4 || i % 4 !== 3, lastIncarnation: -1, directiveTerm: 0, votes: new Map() }))
    for (const node of this.nodes) this.start(node)
  }

  log (line: string): void { if (this.tracing) this.trace.push(`${this.now} ${line}`) }

  /** Start `node`; `via`, when given: the agents it connects to at first (its seeds), the rest it learns by gossip. */
  start (node: SimNode, via?: string[]): void {
    const persisted = node.persisted !== undefined ? { persisted: node.persisted } : {}
    const { id, eligible } = node
    const { bootstrapExpect, maxVoters } = this
    const init = { self: id, eligible, bootstrapExpect, maxVoters, ...TIMINGS, random: this.random, now: this.now, keys: fakeKeys(id) }
    node.election = new Election({ ...init, ...persisted })
    // The member view is not persisted: a restarted agent starts above its old incarnation
    // (a real one takes the wall clock) and learns the mesh anew.
    node.lastIncarnation = Math.max(this.now, node.lastIncarnation + 1)
    const agent = new MemberAgent({
      id,
      eligible,
      timings: MEMBERSHIP,
      incarnation: node.lastIncarnation,
      random: this.random,
      retransmitMult: RETRANSMIT_MULT,
      feedbackLimit: GOSSIP_FEEDBACK_LIMIT,
      exchangeFeedbackLimit: EXCHANGE_FEEDBACK_LIMIT,
      send: (to, msg) => { this.send(id, to, msg) },
      nonce: () => ++this.nonce,
      copy: true
    })
    node.members = {
      agent,
      nextSync: this.now + MEMBERSHIP.syncIntervalMs,
      nextHeartbeat: this.now,
      nextProbe: this.now + MEMBERSHIP.probeIntervalMs,
      seen: new Map()
    }
    this.log(`start ${node.id} term=${node.persisted?.term ?? 0} incarnation=${node.lastIncarnation}`)
    agent.issue(this.now)
    // It connects to the agents it can reach (the simulated network is one full mesh): each side
    // sees the other's card, probes it and exchanges what it holds, as members.ts does on a new connection.
    for (const other of this.up()) {
      if (other === node || !this.connected(node.id, other.id) || (via !== undefined && !via.includes(other.id))) continue
      for (const [a, b] of [[node, other], [other, node]]) {
        (a.members as MemberView).agent.connected(b.id, this.now)
        this.applyMember(a)
      }
    }
  }

  crash (node: SimNode): void {
    node.election = undefined
    node.members = undefined
    this.log(`crash ${node.id}`)
    // Its sockets close with it: most of those it was connected to see that, and a refused dial, a few ms to a few tens later.
    for (const other of this.up()) if (this.connected(node.id, other.id) && this.random() < 0.8) this.tellLink(node.id, other, true)
  }

  /** Link news for `to` about `from`, after a delay like a message's (the dial's); it arrives whatever the partition (it is local). */
  private tellLink (from: string, to: SimNode, exited: boolean): void {
    const [lo, hi] = this.delay
    const term = to.election?.currentTerm ?? 0
    this.flight.push({ at: this.now + lo + Math.floor(this.random() * (hi - lo + 1)), from, to: to.id, msg: { type: 'link', exited, term, at: this.now }, order: this.order++ })
  }

  up (): SimNode[] { return this.nodes.filter(n => n.election !== undefined) }

  connected (a: string, b: string): boolean { return (this.group.get(a) ?? 0) === (this.group.get(b) ?? 0) }

  partition (): void {
    const before = new Map(this.group)
    for (const n of this.nodes) this.group.set(n.id, this.random() < 0.5 ? 0 : 1)
    this.log(`partition ${this.nodes.map(n => `${n.id}:${this.group.get(n.id) ?? 0}`).join(' ')}`)
    // Some connections cut by it close (a keepalive gave up, a reset), and half of those are
    // told as an exit: a network that lies (resets and refusals forged on the path). The lease
    // must hold whatever it is told.
    for (const a of this.up()) {
      for (const b of this.up()) {
        const cut = a !== b && (before.get(a.id) ?? 0) === (before.get(b.id) ?? 0) && !this.connected(a.id, b.id)
        if (cut && this.random() < 0.3) this.tellLink(b.id, a, this.random() < 0.5)
      }
    }
  }

  heal (): void { this.group.clear(); this.log('heal') }

  // --- the member view (protocols/discovery/members.ts over the simulated network) ------------------

  private memberWake (node: SimNode): number {
    const m = node.members
    if (m === undefined) return Infinity
    return Math.min(m.nextHeartbeat, m.nextProbe, m.nextSync, m.agent.table.nextDeadline() ?? Infinity)
  }

  private memberTick (node: SimNode): void {
    const m = node.members as MemberView
    const { agent } = m
    if (this.now >= m.nextHeartbeat) {
      m.nextHeartbeat = this.now + MEMBERSHIP.heartbeatIntervalMs
      // Its connections: every other agent here.
      if (agent.rumours.pending > 0) agent.gossipRound(this.nodes.filter(x => x !== node).map(x => x.id), FANOUT)
    }
    if (this.now >= m.nextSync) {
      m.nextSync = this.now + MEMBERSHIP.syncIntervalMs
      agent.sync(this.pick(this.nodes.filter(x => x !== node)).id)
    }
    if (this.now >= m.nextProbe) {
      m.nextProbe = this.now + MEMBERSHIP.probeIntervalMs
      for (const p of agent.table.probeRound(this.now)) agent.probe(p, this.now)
    }
    agent.table.tick(this.now)
    this.applyMember(node)
  }

  private onMemberMessage (node: SimNode, from: string, msg: MemberMessage): void {
    (node.members as MemberView).agent.onMessage(from, msg, this.now)
    this.applyMember(node)
  }

  /** Drain the table: check each change against the member invariants, then tell the election who is up. */
  private applyMember (node: SimNode): void {
    const m = node.members as MemberView
    const changes = m.agent.flush(this.now, t => { this.checkMember(node, m, t) })
    node.lastIncarnation = Math.max(node.lastIncarnation, m.agent.table.incarnation)
    if (changes.length > 0) this.tellElection(node)
  }

  private checkMember (node: SimNode, m: MemberView, t: MemberChange): void {
    // An eligibility told anew is a change of its own, in the same state.
    if (t.from === t.to) return
    const where = `seed ${this.seed}: ${node.id} saw ${t.peerId} ${t.from} -> ${t.to} at ${this.now}`
    assert.ok(ALLOWED[t.from].includes(t.to), `${where}: not an allowed transition`)
    const seen = m.seen.get(t.peerId)
    assert.ok(seen === undefined || t.incarnation >= seen.incarnation, `${where}: incarnation went back ${seen?.incarnation} -> ${t.incarnation}`)
    if (t.to === 'offline') {
      const suspected = this.now - (seen?.suspectAt ?? this.now)
      assert.ok(seen?.suspectAt !== undefined && suspected >= MEMBERSHIP.suspicionMinMs, `${where}: offline after a suspicion of ${suspected} ms (minimum ${MEMBERSHIP.suspicionMinMs})`)
      assert.ok(suspected <= MEMBERSHIP.suspicionMaxMs, `${where}: suspicion outlived its maximum`)
    }
    m.seen.set(t.peerId, { incarnation: t.incarnation, ...(t.to === 'suspect' ? { suspectAt: this.now } : {}) })
    if (this.tracing) this.log(`${node.id} member ${t.peerId} ${t.from}->${t.to} inc ${t.incarnation}`)
  }

  /** The election's view of who is up: the member view's alive and suspect members (livePeers in a node). */
  private tellElection (node: SimNode): void {
    const up = (node.members as MemberView).agent.table.members().filter(x => x.state === 'alive' || x.state === 'suspect')
    node.election?.setMembers(up.map(x => ({ peer: x.peerId, eligible: x.eligible })))
  }

  /** What `observer` believes of `peer`. */
  memberState (observer: SimNode, peer: string): MemberState | undefined { return observer.members?.agent.table.state(peer) }

  private send (from: string, to: string, msg: InFlight['msg'], lag = 0): void {
    if (this.random() < this.loss) return
    const [lo, hi] = this.delay
    this.flight.push({ at: this.now + lag + lo + Math.floor(this.random() * (hi - lo + 1)), from, to, msg, order: this.order++ })
  }

  /** Drain a node's output, persisting first as a real node must, and check the vote rule. */
  private flush (node: SimNode): void {
    const e = node.election
    if (e === undefined) return
    const out = e.drain()
    if (out.persist !== undefined) {
      const before = node.persisted?.term ?? 0
      assert.ok(out.persist.term >= before, `seed ${this.seed}: ${node.id} term went back ${before} -> ${out.persist.term}`)
      if (out.persist.votedFor !== undefined) {
        const prior = node.votes.get(out.persist.term)
        assert.ok(prior === undefined || prior === out.persist.votedFor, `seed ${this.seed}: ${node.id} voted twice in term ${out.persist.term} (${prior}, ${out.persist.votedFor})`)
        node.votes.set(out.persist.term, out.persist.votedFor)
      }
      node.persisted = structuredClone(out.persist)
    }
    let won: number | undefined
    for (const ev of out.events) {
      if (this.tracing) this.log(`${node.id} ${JSON.stringify(ev)}`)
      if (ev.type === 'role' && ev.role === 'leader') {
        this.log(`${node.id} leader term ${ev.term}`)
        const other = this.leaders.get(ev.term)
        assert.ok(other === undefined || other === node.id, `seed ${this.seed}: two leaders in term ${ev.term}: ${other} and ${node.id}`)
        this.leaders.set(ev.term, node.id)
        won = ev.term
      }
      if (ev.type === 'voters') {
        // A set an honest leader makes (a forger in office may tell its followers anything: it won its election fairly).
        const makes = e.currentRole === 'leader' && node.id !== this.forger?.id
        assert.ok(!makes || ev.config.voters.length <= this.maxVoters, `seed ${this.seed}: ${node.id} made a set of ${ev.config.voters.length} voters, over the cap of ${this.maxVoters}`)
        // The set a leader won with is the first it makes (its term's no-op): a majority of it
        // must have stored a vote for it in that term. Votes of non-voters count for nothing.
        if (won !== undefined) this.checkWin(node.id, won, ev.config.voters)
        won = undefined
      }
    }
    for (const { to, msg } of out.messages) this.send(node.id, to, node.id === this.forger?.id ? this.inflate(msg) : msg)
    if (out.announce !== undefined) this.gossip(node.id, { type: 'announcement', announcement: out.announce })
  }

  /** A leader of `term` with `voters`: a majority of them stored their vote for it (the simulation's own record of every vote persisted). */
  private checkWin (leader: string, term: number, voters: string[]): void {
    const votes = voters.filter(v => this.nodes.find(n => n.id === v)?.votes.get(term) === leader).length
    assert.ok(votes >= majority(voters.length), `seed ${this.seed}: ${leader} leads term ${term} with ${votes} votes of ${voters.length} voters (${voters.join(', ')})`)
  }

  /** Gossip: every other agent hears it, each copy lost or delayed per link. */
  private gossip (from: string, msg: Gossiped): void {
    for (const other of this.nodes) if (other.id !== from) this.send(from, other.id, msg, this.gossipLag)
  }

  /** The forger's own replies, with inflated terms half the time (mode 'replies'). */
  private inflate (msg: ElectionMessage): ElectionMessage {
    if (this.forger?.mode !== 'replies' || (msg.type !== 'heartbeat-ack' && msg.type !== 'vote-reply') || this.random() < 0.5) return msg
    return { ...msg, term: this.pick([msg.term + 1, msg.term + 100, Number.MAX_SAFE_INTEGER]) }
  }

  /** The forger's forgeries, to every other node. */
  private forge (): void {
    const f = this.forger
    const me = this.nodes.find(n => n.id === f?.id)
    if (f === undefined || me?.election === undefined) return
    const e = me.election
    const term = e.currentTerm
    const status = e.status(this.now)
    const voters = status.voters.length > 0 ? status.voters : this.nodes.map(n => n.id).sort()
    const config = { version: status.configVersion + 1, term: Math.max(0, term - 1), voters }
    const stolen = f.stolen
    const relabelled = stolen !== undefined ? { ...stolen, term: term + 1, leader: f.id } : undefined
    const heartbeat = (t: number, cert?: Certificate): ElectionMessage => ({ type: 'heartbeat', term: t, leader: f.id, config, seq: ++f.seq, ...(cert !== undefined ? { cert } : {}) })
    const forgeries: ElectionMessage[] = [
      heartbeat(term + 1),
      heartbeat(Number.MAX_SAFE_INTEGER),
      ...(stolen !== undefined && relabelled !== undefined ? [heartbeat(term + 1, stolen), heartbeat(term + 1, relabelled)] : []),
      { type: 'vote', term: Number.MAX_SAFE_INTEGER, candidate: f.id, config, pre: false, ...(relabelled !== undefined ? { proof: { ...relabelled, term: Number.MAX_SAFE_INTEGER } } : {}) }
    ]
    // Announcements gossiped as the forger (gossip proves who published): its own vote alone, or a certificate stolen or relabelled.
    const own = { term: term + 1, leader: f.id, config, votes: [{ voter: f.id, sig: fakeKeys(f.id).sign(`vote\n${term + 1}\n${f.id}`) }] }
    const announcements: Announcement[] = [
      { term: term + 1, leader: f.id, config, cert: own },
      { term: Number.MAX_SAFE_INTEGER, leader: f.id, config, cert: { ...own, term: Number.MAX_SAFE_INTEGER } },
      ...(stolen !== undefined ? [{ term: stolen.term, leader: f.id, config, cert: stolen }] : []),
      ...(relabelled !== undefined ? [{ term: term + 1, leader: f.id, config, cert: relabelled }] : [])
    ]
    if (this.random() < 0.3) { this.gossip(f.id, { type: 'announcement', announcement: this.pick(announcements) }); return }
    const msg = this.pick(forgeries)
    for (const n of this.nodes) if (n !== me) this.send(f.id, n.id, msg)
  }

  /** A node follows only a leader that won its term, and no term comes near Number.MAX_SAFE_INTEGER. */
  private checkFollowing (): void {
    for (const n of this.nodes) {
      const e = n.election
      if (e === undefined || n.id === this.forger?.id) continue
      const leader = e.currentLeader
      // Checked after every step: the messages are built only on failure (building them each time
      // was four tenths of the simulation's CPU).
      if (!(leader === undefined || this.leaders.get(e.leaderTerm) === leader)) {
        assert.fail(`seed ${this.seed}: ${n.id} follows ${String(leader)} in term ${e.leaderTerm}, won by ${String(this.leaders.get(e.leaderTerm))}`)
      }
      if (!(e.currentTerm < 1_000_000)) assert.fail(`seed ${this.seed}: ${n.id} reached term ${e.currentTerm}`)
    }
  }

  private checkOffice (): void {
    let count = 0
    for (const n of this.nodes) if (n.election?.inOffice(this.now) === true) count++
    if (count <= 1) return
    const inOffice = this.up().filter(n => n.election?.inOffice(this.now) === true).map(n => n.id)
    assert.ok(inOffice.length <= 1, `seed ${this.seed}: ${inOffice.length} coordinators in office at ${this.now}: ${inOffice.join(', ')}`)
  }

  /** Run until `until`, with chaos actions drawn at random when `chaos` is on. */
  run (until: number, chaos: boolean): void {
    let nextChaos = chaos ? this.now + this.exp(400) : Infinity
    let nextDirective = this.now + 20
    while (this.now < until) {
      let wake = Infinity
      for (const n of this.nodes) if (n.election !== undefined) wake = Math.min(wake, n.election.nextWakeup(), this.memberWake(n))
      const msgAt = this.flight.peek()?.at ?? Infinity
      const t = Math.min(wake, msgAt, nextChaos, nextDirective, until)
      this.now = Math.max(this.now, t)
      if (t === msgAt) {
        const f = this.flight.pop() as InFlight
        const to = this.nodes.find(n => n.id === f.to)
        if (to?.election !== undefined && (this.connected(f.from, f.to) || f.msg.type === 'link')) this.deliver(to, f)
      } else if (t === wake) {
        for (const n of this.nodes) {
          if (n.election === undefined) continue
          const member = this.memberWake(n) <= this.now
          const election = n.election.nextWakeup() <= this.now
          if (member) this.memberTick(n)
          if (election) {
            n.election.tick(this.now)
            n.election.reviewVoters(this.now)
          }
          if (member || election) this.flush(n)
        }
      } else if (t === nextChaos) {
        this.chaos()
        nextChaos = this.now + this.exp(400)
      } else if (t === nextDirective) {
        // The coordinator in office issues a directive to everyone (the fencing check).
        for (const n of this.up()) {
          if (n.election?.inOffice(this.now) === true) for (const m of this.nodes) if (m !== n) this.send(n.id, m.id, { type: 'directive', term: n.election.currentTerm })
        }
        nextDirective = this.now + 20
        this.forge()
      }
      this.checkOffice()
      this.checkFollowing()
      this.watch?.()
    }
  }

  private deliver (to: SimNode, f: InFlight): void {
    const e = to.election as Election
    if (isMemberMessage(f.msg)) {
      this.onMemberMessage(to, f.from, f.msg)
      this.flush(to)
      return
    }
    if (f.msg.type === 'announcement') {
      if (to.id === this.forger?.id) this.forger.stolen = f.msg.announcement.cert
      e.announcement(f.from, f.msg.announcement, this.now)
      this.flush(to)
      return
    }
    if (f.msg.type === 'link') {
      this.log(`${to.id} link to ${f.from} closed${f.msg.exited ? ', exited' : ''} (term ${f.msg.term})`)
      if (f.msg.exited) e.peerExited(f.from, { term: f.msg.term, at: f.msg.at }, this.now)
      this.flush(to)
      return
    }
    if (f.msg.type === 'directive') {
      if (e.admits(f.msg.term, f.from) !== 'ok') return
      assert.ok(f.msg.term >= to.directiveTerm, `seed ${this.seed}: ${to.id} accepted a directive of term ${f.msg.term} after one of term ${to.directiveTerm}`)
      assert.equal(this.leaders.get(f.msg.term), f.from, `seed ${this.seed}: ${to.id} accepted a directive of term ${f.msg.term} from ${f.from}, not that term's leader`)
      to.directiveTerm = f.msg.term
      return
    }
    if (to.id === this.forger?.id) {
      const cert = f.msg.type === 'heartbeat' ? f.msg.cert : 'proof' in f.msg ? f.msg.proof : undefined
      if (cert !== undefined) this.forger.stolen = cert
    }
    e.receive(f.from, f.msg, this.now)
    this.flush(to)
  }

  private chaos (): void {
    const r = this.random()
    const down = this.nodes.filter(n => n.election === undefined)
    if (r < 0.25 && this.up().length > 0) {
      this.crash(this.pick(this.up()))
    } else if (r < 0.45 && down.length > 0) {
      this.start(this.pick(down))
    } else if (r < 0.6) {
      this.partition()
    } else if (r < 0.75) {
      this.heal()
    } else if (r < 0.85) {
      this.loss = this.random() < 0.5 ? 0 : this.random() * 0.3
      this.log(`loss ${this.loss.toFixed(2)}`)
    } else {
      this.delay = this.random() < 0.7 ? [1, 10] : [1, 80 + Math.floor(this.random() * 200)]
      this.log(`delay ${this.delay.join('-')}`)
    }
  }

  /** Heal everything and restart every node: the mesh must settle on one coordinator. */
  settle (ms: number): void {
    this.heal()
    this.loss = 0
    this.delay = [1, 10]
    for (const n of this.nodes) if (n.election === undefined) this.start(n)
    this.run(this.now + ms, false)
  }

  pick<T> (xs: T[]): T { return xs[Math.floor(this.random() * xs.length)] }
  private exp (mean: number): number { return Math.max(1, Math.round(-Math.log(1 - this.random()) * mean)) }
}

function runSeed (seed: number, tracing = false): Simulation {
  const r = rng(seed ^ 0x5bd1e995)
  const n = 3 + Math.floor(r() * 5) // 3..7 agents
  const eligible = n < 4 ? n : n - Math.floor(n / 4)
  const bootstrapExpect = Math.floor(eligible / 2) + 1 + Math.floor(r() * (eligible - Math.floor(eligible / 2)))
  // A cap below the eligible agents in two schedules of three: non-voters, and promotions.
  const maxVoters = [3, 5, 64][seed % 3]
  const sim = new Simulation(seed, n, Math.min(bootstrapExpect, eligible), tracing, maxVoters)
  // One schedule in four has a forger among the voters (n0 is always eligible).
  if (seed % 4 === 0) sim.forger = { id: 'n0', mode: seed % 8 === 0 ? 'replies' : 'heartbeats', seq: 0 }
  try {
    check(sim, seed)
  } finally {
    if (tracing) console.log(sim.trace.join('\n'))
  }
  return sim
}

/** One coordinator in office, followed by every node up. */
function settled (sim: Simulation): boolean {
  const inOffice = sim.up().filter(x => x.election?.inOffice(sim.now) === true)
  return inOffice.length === 1 && sim.up().every(x => x.election?.currentLeader === inOffice[0].id)
}

function check (sim: Simulation, seed: number): void {
  sim.run(8_000, true)
  sim.settle(6_000)
  // A forger's inflated acks make the coordinator renew its election now and then (a vote round,
  // in office throughout), while which its followers briefly know no leader: wait one out.
  for (let i = 0; sim.forger !== undefined && i < 100 && !settled(sim); i++) sim.run(sim.now + 10, false)
  const up = sim.up()
  const inOffice = up.filter(x => x.election?.inOffice(sim.now) === true)
  assert.equal(inOffice.length, 1, `seed ${seed}: after healing, ${inOffice.length} coordinators in office`)
  const leader = inOffice[0].id
  for (const x of up) assert.equal(x.election?.currentLeader, leader, `seed ${seed}: ${x.id} follows ${String(x.election?.currentLeader)}, not ${leader}`)
  // As many voters as the cap allows, the other eligible agents non-voters that follow too.
  const eligible = up.filter(x => x.eligible).length
  const voters = (): string[] => sim.up().find(x => x.election?.currentRole === 'leader')?.election?.status(sim.now).voters ?? []
  assert.equal(voters().length, Math.min(eligible, sim.maxVoters), `seed ${seed}: ${voters().length} voters of ${eligible} eligible, cap ${sim.maxVoters}`)
  // Accuracy once the network is whole: nobody up is believed down.
  for (const x of up) {
    for (const y of up) if (x !== y) assert.equal(sim.memberState(x, y.id), 'alive', `seed ${seed}: after healing, ${x.id} sees ${y.id} as ${String(sim.memberState(x, y.id))}`)
  }
  // Completeness: an agent that crashes is found offline by every other within the maximum
  // suspicion plus a probe round or two.
  const victim = up[seed % up.length]
  const set = voters()
  const wasVoter = set.includes(victim.id) && eligible > sim.maxVoters
  // A forger among three voters, one of them the victim: no honest majority is left, and whether
  // the set changes is the forger's to decide (its inflated acks cost the coordinator its quorum).
  const honestMajority = set.filter(v => v !== victim.id && v !== sim.forger?.id).length >= majority(set.length)
  sim.crash(victim)
  sim.run(sim.now + MEMBERSHIP.silenceMs + MEMBERSHIP.probeIntervalMs * 2 + MEMBERSHIP.suspicionMaxMs, false)
  for (const x of sim.up()) assert.equal(sim.memberState(x, victim.id), 'offline', `seed ${seed}: ${x.id} still sees the crashed ${victim.id} as ${String(sim.memberState(x, victim.id))}`)
  // A crashed voter with a non-voter to spare is replaced: the set is back at the cap without it.
  if (!wasVoter || !honestMajority) return
  sim.run(sim.now + 2_000, false)
  const after = voters()
  assert.ok(!after.includes(victim.id), `seed ${seed}: the crashed voter ${victim.id} is still a voter 2 s later`)
  assert.equal(after.length, sim.maxVoters, `seed ${seed}: after losing ${victim.id}, ${after.length} voters (${after.join(', ')})`)
}

test('election and membership simulation: safety on every step; after healing, all alive and one coordinator; a crash then found by all', { timeout: 3 * 60_000 }, () => {
  const only = process.env.SIM_SEED
  if (only !== undefined) {
    runSeed(Number(only), true)
    return
  }
  // 500 schedules in the suite (~15 s); SIM_SEEDS=5000 for a long run.
  const seeds = Number(process.env.SIM_SEEDS ?? 500)
  let elections = 0
  for (let seed = 1; seed <= seeds; seed++) {
    try {
      elections += runSeed(seed).leaders.size
    } catch (err) {
      throw new Error(`${(err as Error).message}\nreplay: SIM_SEED=${seed} node --test dist/test/protocols/coordination/election-sim.test.js`, { cause: err })
    }
  }
  // The schedules must actually exercise elections, or the invariants were checked on nothing.
  assert.ok(elections > seeds * 2, `only ${elections} elections in ${seeds} schedules`)
})

test('election simulation: a forging voter never unseats a healthy coordinator; forged heartbeats and terms move no term, inflated acks cost a renewal in office', { timeout: 3 * 60_000 }, () => {
  for (let seed = 1; seed <= 60; seed++) {
    const sim = new Simulation(seed, 3 + (seed % 3), 3)
    sim.settle(3_000)
    assert.ok(settled(sim), `seed ${seed}: settled before the forger starts`)
    const leader = sim.up().find(x => x.election?.inOffice(sim.now) === true) as SimNode
    const term = leader.election?.currentTerm as number
    const honest = (x: SimNode): boolean => x.id !== sim.forger?.id
    // A voter that is not the coordinator forges: heartbeats of a term one up and of
    // Number.MAX_SAFE_INTEGER, certificates replayed and relabelled, vote requests of
    // Number.MAX_SAFE_INTEGER. Nothing may change: not the leader, not a term, not the office.
    const forger = sim.nodes.find(x => x.eligible && x !== leader) as SimNode
    sim.forger = { id: forger.id, mode: 'heartbeats', seq: 0 }
    sim.watch = () => {
      assert.ok(leader.election?.inOffice(sim.now), `seed ${seed}: the coordinator left office at ${sim.now}`)
      for (const x of sim.up().filter(honest)) {
        assert.equal(x.election?.currentLeader, leader.id, `seed ${seed}: ${x.id} left the coordinator at ${sim.now}`)
        assert.equal(x.election?.currentTerm, term, `seed ${seed}: ${x.id} moved to term ${String(x.election?.currentTerm)}`)
      }
    }
    sim.run(sim.now + 2_000, false)
    // Now it also answers with inflated terms: the coordinator renews its election in office now
    // and then (its followers briefly know no leader while they vote for it again), and nobody
    // else ever leads.
    sim.forger.mode = 'replies'
    sim.watch = () => {
      assert.equal(leader.election?.currentRole, 'leader', `seed ${seed}: the coordinator stepped down at ${sim.now}`)
      for (const x of sim.up().filter(honest)) {
        const followed = x.election?.currentLeader
        assert.ok(followed === leader.id || followed === undefined, `seed ${seed}: ${x.id} follows ${String(followed)}`)
      }
    }
    sim.run(sim.now + 3_000, false)
    const renewals = 3_000 / (RENEW_EVERY_TIMEOUTS * TIMINGS.electionTimeoutMaxMs) + 1
    assert.ok((leader.election?.currentTerm as number) <= term + renewals * MAX_TERM_STEP, `seed ${seed}: term ${String(leader.election?.currentTerm)} from ${term}`)
  }
})

test('election simulation: a join wave through three seeds elects one coordinator, followed by all (bootstrap proposals made from partial views)', { timeout: 3 * 60_000 }, () => {
  // The live-page-scale test's start in miniature: three seeds, then agents joining through them
  // over a few seconds, each knowing only the seeds at first, over slow links half the time; the
  // mesh must end with one coordinator in office that all follow, and never have two. Seed 214
  // ended with a leader every agent followed and none in office: its voters' acks came back after
  // the lease they gave had run out (test/protocols/coordination/election-slack.test.ts has it alone). Seed 5, with the
  // announcements late, had two in office: the five lowest ids, all newcomers, bootstrapped a
  // second set beside the seeds' (election-join.ts).
  const n = Number(process.env.SIM_WAVE_AGENTS ?? 30)
  const first = Number(process.env.SIM_WAVE_FIRST ?? 0)
  const seeds = process.env.SIM_WAVE_FIRST !== undefined ? Array.from({ length: Number(process.env.SIM_WAVE_SEEDS ?? 1) }, (_, i) => first + i) : [5, 214, 7]
  for (const seed of seeds) {
    const sim = new Simulation(seed, n, 3, false, 5)
    const r = rng(seed ^ 0x2545f491)
    // The seeds are the last three: peer ids that sort after the others', as the first agents of
    // a real mesh need not have the lowest ids (bootstrap proposals take the lowest).
    const via = sim.nodes.slice(-3).map(x => x.id)
    const later = sim.nodes.slice(0, -3)
    for (const x of later) sim.crash(x)
    // One schedule in three: the leader's announcements reach agents 1.5 s later than RPC does (a
    // newcomer's topic mesh forms in a gossip heartbeat or two, on a loaded machine later).
    sim.gossipLag = seed % 3 === 2 ? Number(process.env.SIM_WAVE_GOSSIP_LAG ?? 1_500) : 0
    const slow = seed % 2 === 0
    sim.delay = slow ? [1, Number(process.env.SIM_WAVE_DELAY ?? 150)] : [1, 10]
    for (const { x, at } of later.map(x => ({ x, at: Math.floor(r() * 3_000) })).sort((a, b) => a.at - b.at)) {
      sim.run(at, false)
      sim.start(x, via)
    }
    sim.run(sim.now + 15_000, false)
    const inOffice = sim.up().filter(x => x.election?.inOffice(sim.now) === true)
    const astray = sim.up().filter(x => inOffice.length !== 1 || x.election?.currentLeader !== inOffice[0].id).map(x => {
      const s = x.election?.status(sim.now)
      return `${x.id}:${s?.role}/t${s?.term}/${s?.leader ?? '-'}/[${s?.voters.join(',')}]`
    })
    assert.ok(settled(sim), `seed ${seed} (${slow ? 'slow' : 'fast'} links): in office ${inOffice.map(x => x.id).join(',') || 'none'}; astray ${astray.join(' ')}\nreplay: SIM_WAVE_FIRST=${seed} SIM_WAVE_SEEDS=1 node --test --test-name-pattern "join wave" dist/test/protocols/coordination/election-sim.test.js`)
  }
})
