/**
 * Dials peers that discovery reports (mDNS) or that peers tell of (the peer exchange in the card
 * answers), up to the node's target number of peers. Dials are spread over a short random delay:
 * a burst of Noise handshakes at once times out on a busy host.
 *
 * At most DIALS_AT_ONCE are under way; peers told of meanwhile wait in a short backlog, the
 * newest first, and are dialled as earlier dials end. A newcomer is told of 16 peers by its
 * seed and dialled them all at once, so in a join wave every agent's handshakes competed with
 * every other's: at 200 agents on two cores a dial took 0.6-9 s (p50) and ~700 of ~2,400
 * timed out at 10 s, their half-done handshakes wasted (docs/benchmarks.md).
 */
import type { Libp2p, PeerInfo } from '@libp2p/interface'

/** Peers with a connection open: getPeers' count, from the connections' own peer ids (getPeers parses each back from a string). */
function peerCount (libp2p: Libp2p): number {
  const peers = new Set<string>()
  for (const c of libp2p.getConnections()) peers.add(c.remotePeer.toString())
  return peers.size
}

/** Dials under way at once. */
export const DIALS_AT_ONCE = 2
/** Peers told of while DIALS_AT_ONCE are under way, kept to dial next (the oldest dropped past it). */
const BACKLOG = 32
/** How long one dial may take. */
const DIAL_TIMEOUT_MS = 10_000

export class PeerDialer {
  private readonly libp2p: Libp2p
  private readonly maxPeers: () => number
  private readonly skip?: (peerId: string) => boolean
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly pending = new Set<string>()
  private readonly backlog = new Map<string, PeerInfo>()
  private running = false
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => { this.consider(evt.detail) }

  /**
   * `skip`: peers not to dial for now whoever tells of them: those whose connection this node
   * just closed by agreement (protocols/discovery/hand-off.ts). A seed hands agents on to shed connections;
   * dialling one back because a newcomer's peer exchange named it undid that.
   */
  constructor (libp2p: Libp2p, maxPeers: () => number, skip?: (peerId: string) => boolean) {
    this.libp2p = libp2p
    this.maxPeers = maxPeers
    if (skip !== undefined) this.skip = skip
  }

  start (): void {
    if (this.running) return
    this.running = true
    this.libp2p.addEventListener('peer:discovery', this.onDiscovery)
  }

  stop (): void {
    this.running = false
    this.libp2p.removeEventListener('peer:discovery', this.onDiscovery)
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    this.pending.clear()
    this.backlog.clear()
  }

  /**
   * Dial a peer unless it is this node, connected, already being dialled, or the node has its
   * target number of peers counting the dials under way; with DIALS_AT_ONCE under way, later.
   */
  consider (info: PeerInfo): void {
    const id = info.id.toString()
    if (!this.wanted(info)) return
    if (this.pending.size >= DIALS_AT_ONCE) {
      this.backlog.delete(id)
      this.backlog.set(id, info)
      if (this.backlog.size > BACKLOG) this.backlog.delete(this.backlog.keys().next().value as string)
      return
    }
    this.pending.add(id)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      // Addresses go through the peer store (mDNS put them there already), so the dial is by
      // peer id and Noise checks the peer is who the addresses were given for.
      const known = info.multiaddrs.length > 0 ? this.libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }) : Promise.resolve()
      known
        .then(async () => await this.libp2p.dial(info.id, { signal: AbortSignal.timeout(DIAL_TIMEOUT_MS) }))
        .catch(() => { /* the peer may be gone; it will be reported again if not */ })
        .finally(() => { this.pending.delete(id); this.next() })
    }, Math.floor(Math.random() * 200))
    this.timers.add(timer)
  }

  private wanted (info: PeerInfo): boolean {
    // The target first: with views it is 0 (view-links.ts dials), and every identify and peer-store
    // update is a discovery event; counting the peers each time made libp2p decode every
    // connected peer's id from its string (getPeers), 2% of a seed's CPU through a join at 100.
    const max = this.maxPeers()
    if (max <= 0) return false
    const id = info.id.toString()
    if (!this.running || id === this.libp2p.peerId.toString() || this.pending.has(id) || this.skip?.(id) === true) return false
    if (this.libp2p.getConnections(info.id).length > 0) return false
    return peerCount(this.libp2p) + this.pending.size < max
  }

  /** A dial ended: the newest peer told of that is still wanted goes next. */
  private next (): void {
    while (this.running && this.pending.size < DIALS_AT_ONCE && this.backlog.size > 0) {
      const id = [...this.backlog.keys()].at(-1) as string
      const info = this.backlog.get(id) as PeerInfo
      this.backlog.delete(id)
      this.consider(info) // dialled only if still wanted
    }
  }
}
