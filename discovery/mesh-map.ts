/**
 * Each node's picture of the whole mesh, for people watching it (/mesh and the live page). Every
 * node announces its neighbours, and how many messages it exchanged with each, on an internal
 * topic every few seconds; a node serving a debug endpoint subscribes and assembles the graph.
 * Announcements older than three intervals are dropped, so a node that vanished leaves it.
 */
import { z } from 'zod'
import { defineTopic } from '../protocols/pubsub/topics.js'

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

export interface MeshNode { peerId: string, name: string, roles: string[], ageMs: number, self: boolean }
export interface MeshEdge { a: string, b: string, rate: number }
export interface MeshSnapshot { nodes: MeshNode[], edges: MeshEdge[], ageMs: number, intervalMs: number }

export class MeshMap {
  private readonly seen = new Map<string, MeshAnnouncement>()
  constructor (private readonly self: () => MeshAnnouncement, readonly intervalMs: number) {}

  record (a: MeshAnnouncement): void {
    const known = this.seen.get(a.peerId)
    if (known === undefined || known.at <= a.at) this.seen.set(a.peerId, a)
  }

  forget (peerId: string): void { this.seen.delete(peerId) }

  snapshot (now = Date.now()): MeshSnapshot {
    const me = this.self()
    const all = new Map<string, MeshAnnouncement>([[me.peerId, me]])
    for (const [id, a] of this.seen) {
      if (now - a.at > 3 * this.intervalMs) { this.seen.delete(id); continue }
      if (id !== me.peerId) all.set(id, a)
    }
    const edges = new Map<string, MeshEdge>()
    for (const a of all.values()) {
      for (const p of a.peers) {
        if (!all.has(p)) continue // only edges between agents that announce themselves
        const [x, y] = a.peerId < p ? [a.peerId, p] : [p, a.peerId]
        const key = `${x} ${y}`
        const rate = a.rates[p] ?? 0
        const e = edges.get(key)
        if (e === undefined) edges.set(key, { a: x, b: y, rate })
        else e.rate = Math.max(e.rate, rate)
      }
    }
    const oldest = Math.max(0, ...[...all.values()].map(a => now - a.at))
    return {
      nodes: [...all.values()].map(a => ({ peerId: a.peerId, name: a.name, roles: a.roles, ageMs: Math.max(0, now - a.at), self: a.peerId === me.peerId })),
      edges: [...edges.values()],
      ageMs: oldest,
      intervalMs: this.intervalMs
    }
  }
}
