/**
 * Multicast DNS on the local network. libp2p's mDNS only reports peers; the PeerDialer
 * (protocols/discovery/dialer.ts) dials them. The service tag carries the mesh name, so two meshes on one
 * LAN do not find each other.
 */
import { mdns } from '@libp2p/mdns'

export function mdnsServiceTag (mesh: string): string {
  return `_agentmesh-${mesh.toLowerCase()}._udp.local`
}

export function mdnsDiscovery (mesh: string, intervalMs = 5_000): ReturnType<typeof mdns> {
  return mdns({ serviceTag: mdnsServiceTag(mesh), interval: intervalMs })
}
