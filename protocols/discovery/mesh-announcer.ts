/**
 * This node's part of the mesh map (mesh-map.ts): its neighbours and message rates, announced
 * on an internal topic every interval, soon after start and after each join or leave; and, on
 * nodes that serve a debug endpoint, the map assembled from everyone's announcements.
 */
import type { Startable } from '../core/service.js'
import type { PubSubService, Subscription } from '../pubsub/index.js'
import type { Membership, MembershipEvents } from './membership.js'
import { MESH_TOPIC, MeshMap, type KnownMembers, type MeshAnnouncement, type MeshSnapshot } from './mesh-map.js'

export interface MeshAnnouncerInit {
  self: { peerId: string, name: string, roles: string[] }
  pubsub: PubSubService
  membership: Membership
  /** How often to announce; 0 or less never announces. */
  intervalMs: number
  /** Messages exchanged with each remote peer since the last call (the rates are made from it). */
  takeCounts: () => Map<string, number>
  /** Assemble the map from everyone's announcements (nodes with a debug endpoint do). */
  watch: boolean
  /**
   * Closed mesh: the roles an agent holds (its credential's, as the member view shows them),
   * which replace those its announcement claims on the map and the live page.
   */
  rolesOf?: (peerId: string) => string[]
  /** The members this node knows of: on the map before their first announcement arrives (mesh-map.ts). */
  members?: KnownMembers
}

export class MeshAnnouncer implements Startable {
  private readonly init: MeshAnnouncerInit
  private running = false
  private timer?: ReturnType<typeof setTimeout>
  private lastRates: Record<string, number> = {}
  private lastAnnounce = Date.now()
  /** The `at` of the last announcement made: the next is later, whatever the clock did meanwhile. */
  private lastAt = 0
  private map?: MeshMap
  private sub?: Subscription<MeshAnnouncement>
  private readonly soon = (): void => {
    // Debounced: a burst of joins makes one announcement, so the map follows quickly but cheaply.
    if (!this.running) return
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = setTimeout(() => { this.announce() }, 300 + Math.floor(Math.random() * 200))
    this.timer.unref?.()
  }

  private readonly onLeave = (e: MembershipEvents['peer:leave']): void => { this.map?.forget(e.detail.peerId) }

  constructor (init: MeshAnnouncerInit) { this.init = init }

  start (): void {
    if (this.running) return
    this.running = true
    const { membership, pubsub } = this.init
    if (this.init.intervalMs > 0) {
      this.lastAnnounce = Date.now()
      membership.addEventListener('peer:join', this.soon)
      membership.addEventListener('peer:leave', this.soon)
      this.soon()
    }
    if (this.init.watch) {
      const map = new MeshMap(() => this.announcement(), Math.max(1_000, this.init.intervalMs), this.init.members)
      this.map = map
      const sub = pubsub.subscribe(MESH_TOPIC)
      this.sub = sub
      // An announcement counts only from the node it describes.
      const rolesOf = this.init.rolesOf
      void (async () => {
        for await (const m of sub) {
          if (m.from === m.payload.peerId) map.record(rolesOf === undefined ? m.payload : { ...m.payload, roles: rolesOf(m.payload.peerId) })
        }
      })()
      membership.addEventListener('peer:leave', this.onLeave)
    }
  }

  stop (): void {
    if (!this.running) return
    this.running = false
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    const { membership } = this.init
    membership.removeEventListener('peer:join', this.soon)
    membership.removeEventListener('peer:leave', this.soon)
    membership.removeEventListener('peer:leave', this.onLeave)
    this.sub?.unsubscribe()
    this.sub = undefined
  }

  /**
   * This node's part of the mesh map as of now. `at` only ever grows: watchers keep an agent's
   * newest announcement by it (mesh-map.ts), so after the host's clock stepped back a plain
   * Date.now() would be taken for an old copy and the agent would leave their maps.
   */
  announcement (): MeshAnnouncement {
    const { peerId, name, roles } = this.init.self
    this.lastAt = Math.max(Date.now(), this.lastAt + 1)
    return { peerId, name, roles, peers: this.init.membership.peerIds(), rates: this.lastRates, at: this.lastAt }
  }

  /**
   * Whether this node watches and has not heard `peerId` lately. Agents announce to the watchers
   * among their peers only: only nodes that watch subscribe to the topic, and gossip goes through
   * subscribers alone, so an agent with no connection to a watcher is missing from its map until
   * one is made (node/member-connections.ts dials it).
   */
  misses (peerId: string): boolean {
    return this.map !== undefined && !this.map.hears(peerId)
  }

  /** The map assembled so far (empty on a node that does not watch). */
  snapshot (): MeshSnapshot {
    return this.map?.snapshot() ?? { nodes: [], edges: [], ageMs: 0, intervalMs: 0 }
  }

  private announce (): void {
    this.timer = undefined
    if (!this.running) return
    const seconds = Math.max(0.001, (Date.now() - this.lastAnnounce) / 1000)
    this.lastAnnounce = Date.now()
    this.lastRates = Object.fromEntries([...this.init.takeCounts()].map(([p, n]) => [p, Math.round(n / seconds * 10) / 10]))
    this.init.pubsub.publish(MESH_TOPIC, this.announcement()).catch(() => { /* stopping */ })
    this.timer = setTimeout(() => { this.announce() }, this.init.intervalMs)
    this.timer.unref?.()
  }
}
