/**
 * Multicast DNS on the local network. libp2p's mDNS only reports peers; this dials them. The
 * service tag carries the mesh name, so two meshes on one LAN do not find each other.
 */
import { mdns } from '@libp2p/mdns'
import type { Libp2p, PeerInfo } from '@libp2p/interface'

export function mdnsServiceTag (mesh: string): string {
  return `_agentmesh-${mesh.toLowerCase()}._udp.local`
}

export function mdnsDiscovery (mesh: string, intervalMs = 5_000): ReturnType<typeof mdns> {
  return mdns({ serviceTag: mdnsServiceTag(mesh), interval: intervalMs })
}

/**
 * Dials peers as discovery reports them, spread over a short random delay: a burst of dials at
 * once times out in the Noise handshake on a busy host.
 */
export class DiscoveryDialer {
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
  }

  /** Dial a peer unless connected, already being dialled, or the node has enough peers. */
  consider (info: PeerInfo): void {
    const id = info.id.toString()
    if (!this.running || id === this.libp2p.peerId.toString() || this.pending.has(id)) return
    if (this.libp2p.getConnections(info.id).length > 0) return
    if (this.libp2p.getPeers().length >= this.maxPeers()) return
    this.pending.add(id)
    const timer = setTimeout(() => {
      this.timers.delete(timer)
      // libp2p has put the discovered addresses in its peer store: dialling the id uses them.
      this.libp2p.dial(info.id, { signal: AbortSignal.timeout(10_000) })
        .catch(() => { /* the peer may be gone; discovery will report it again if not */ })
        .finally(() => { this.pending.delete(id) })
    }, Math.floor(Math.random() * 200))
    this.timers.add(timer)
  }
}
