/**
 * Dials peers that discovery reports (mDNS) or that peers tell of (the peer exchange in the card
 * answers), up to the node's target number of peers. Dials are spread over a short random delay:
 * a burst of Noise handshakes at once times out on a busy host.
 */
import type { Libp2p, PeerInfo } from '@libp2p/interface'

export class PeerDialer {
  private readonly libp2p: Libp2p
  private readonly maxPeers: () => number
  private readonly timers = new Set<ReturnType<typeof setTimeout>>()
  private readonly pending = new Set<string>()
  private running = false
  private readonly onDiscovery = (evt: CustomEvent<PeerInfo>): void => { this.consider(evt.detail) }

  constructor (libp2p: Libp2p, maxPeers: () => number) {
    this.libp2p = libp2p
    this.maxPeers = maxPeers
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
  }

  /**
   * Dial a peer unless it is this node, connected, already being dialled, or the node has its
   * target number of peers counting the dials under way.
   */
  consider (info: PeerInfo): void {
    const id = info.id.toString()
    if (!this.running || id === this.libp2p.peerId.toString() || this.pending.has(id)) return
    if (this.libp2p.getConnections(info.id).length > 0) return
    if (this.libp2p.getPeers().length + this.pending.size >= this.maxPeers()) return
    this.pending.add(id)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      // Addresses go through the peer store (mDNS put them there already), so the dial is by
      // peer id and Noise checks the peer is who the addresses were given for.
      const known = info.multiaddrs.length > 0 ? this.libp2p.peerStore.merge(info.id, { multiaddrs: info.multiaddrs }) : Promise.resolve()
      known
        .then(async () => await this.libp2p.dial(info.id, { signal: AbortSignal.timeout(10_000) }))
        .catch(() => { /* the peer may be gone; it will be reported again if not */ })
        .finally(() => { this.pending.delete(id) })
    }, Math.floor(Math.random() * 200))
    this.timers.add(timer)
  }
}
