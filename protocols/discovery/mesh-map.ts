/**
 * Each node's picture of the whole mesh, for people watching it (/mesh and the live page). Every
 * node announces its neighbours, and how many messages it exchanged with each, on an internal
 * topic every few seconds; a node serving a debug endpoint subscribes and assembles the graph.
 * An agent not heard from for three intervals is dropped, so a node that vanished leaves it.
 *
 * Agents this node knows as members but has not heard announce yet are on it too, without links
 * of their own (`announced: false`, aged by when the member view last heard of them): an
 * announcement made before this node had admitted its sender, or before the sender knew this
 * node subscribes, reaches nobody, and the next comes an interval later; meanwhile the map
 * would leave out an agent this node already counts, even elects.
 *
 * Ages are this node's: when it received an announcement, not the `at` the announcer stamped it
 * with. Another host's clock may be off by more than three intervals (an agent behind would never
 * show, one ahead never leave), and on a loaded mesh an announcement may spend seconds in gossip;
 * neither says whether the agent is still there. `at` only orders one agent's announcements.
 */
import { z } from 'zod'
import { defineTopic } from '../pubsub/topics.js'

export const MeshAnnouncement = z.strictObject({
  peerId: z.string().max(128),
  name: z.string().max(64),
  roles: z.array(z.string().max(64)).max(32),
  /** Peer ids this node is connected to. */
  peers: z.array(z.string().max(128)).max(1024),
  /** Messages per second this node exchanged with each peer over the last interval. */
  rates: z.record(z.string().max(128), z.number().nonnegative()),
  at: z.number().int().nonnegative()
})
export type MeshAnnouncement = z.infer<typeof MeshAnnouncement>

export const MESH_TOPIC = defineTopic('$agentmesh/mesh', MeshAnnouncement)

export interface MeshNode {
  peerId: string
  name: string
  roles: string[]
  ageMs: number
  self: boolean
  /** Present (false) on a member this node has not heard announce itself yet: its links are only those others announce. */
  announced?: false
}

/** What the member view says of an agent, for one that has not announced itself. */
export interface KnownMember { name: string, roles: string[], lastHeard: number }

/** The members this node knows of (alive or suspect), and what it knows of each. */
export interface KnownMembers {
  ids: () => Iterable<string>
  info: (peerId: string) => KnownMember | undefined
}
export interface MeshEdge { a: string, b: string, rate: number }
export interface MeshSnapshot { nodes: MeshNode[], edges: MeshEdge[], ageMs: number, intervalMs: number }

export class MeshMap {
  /** Each agent's newest announcement, and when this node received it. */
  private readonly seen = new Map<string, { a: MeshAnnouncement, heard: number }>()
  constructor (private readonly self: () => MeshAnnouncement, readonly intervalMs: number, private readonly members?: KnownMembers) {}

  record (a: MeshAnnouncement, now = Date.now()): void {
    const known = this.seen.get(a.peerId)
    // Strictly newer: a copy of the same announcement coming round again says nothing new. An
    // entry past its time is replaced by whatever comes: an agent restarted on a host whose clock
    // went back stamps its announcements below those held of its earlier life.
    if (known === undefined || known.a.at < a.at || now - known.heard > 3 * this.intervalMs) this.seen.set(a.peerId, { a, heard: now })
  }

  forget (peerId: string): void { this.seen.delete(peerId) }

  /** Whether an announcement of `peerId` came within the last three intervals (it is on the map). */
  hears (peerId: string, now = Date.now()): boolean {
    const e = this.seen.get(peerId)
    return e !== undefined && now - e.heard <= 3 * this.intervalMs
  }

  snapshot (now = Date.now()): MeshSnapshot {
    const me = this.self()
    const all = new Map<string, MeshAnnouncement>([[me.peerId, me]])
    const heard = new Map<string, number>([[me.peerId, now]])
    for (const [id, e] of this.seen) {
      if (now - e.heard > 3 * this.intervalMs) { this.seen.delete(id); continue }
      if (id !== me.peerId) { all.set(id, e.a); heard.set(id, e.heard) }
    }
    const unheard = new Map<string, MeshNode>()
    if (this.members !== undefined) {
      for (const id of this.members.ids()) {
        if (all.has(id)) continue
        const m = this.members.info(id)
        if (m !== undefined) unheard.set(id, { peerId: id, name: m.name, roles: m.roles, ageMs: Math.max(0, now - m.lastHeard), self: false, announced: false })
      }
    }
    const edges = new Map<string, MeshEdge>()
    for (const a of all.values()) {
      for (const p of a.peers) {
        if (!all.has(p) && !unheard.has(p)) continue // only edges between agents on the map
        const [x, y] = a.peerId < p ? [a.peerId, p] : [p, a.peerId]
        const key = `${x} ${y}`
        const rate = a.rates[p] ?? 0
        const e = edges.get(key)
        if (e === undefined) edges.set(key, { a: x, b: y, rate })
        else e.rate = Math.max(e.rate, rate)
      }
    }
    const age = (id: string): number => Math.max(0, now - (heard.get(id) ?? now))
    // The map's age is its oldest announcement's: a member not heard yet has none.
    const oldest = Math.max(0, ...[...all.keys()].map(age))
    return {
      nodes: [
        ...[...all.values()].map(a => ({ peerId: a.peerId, name: a.name, roles: a.roles, ageMs: age(a.peerId), self: a.peerId === me.peerId })),
        ...unheard.values()
      ],
      edges: [...edges.values()],
      ageMs: oldest,
      intervalMs: this.intervalMs
    }
  }
}
