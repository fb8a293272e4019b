/**
 * How a node in Node.js reaches others (node/libp2p.ts `Connectivity`): TCP and WebSockets,
 * mDNS on the local network when `mdns` is on, and the mesh key of `security.psk`. Kept apart
 * from node/libp2p.ts so that a browser bundle, which has none of these, never loads them.
 */
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { AgentConfig } from './config.js'
import type { Connectivity } from './libp2p.js'
import { mdnsDiscovery } from '../discovery/mdns.js'
import { readPsk } from './psk.js'
import { meshKey } from './mesh-key.js'

export async function nodeConnectivity (config: AgentConfig): Promise<Connectivity> {
  // The mesh key (security.psk), read before anything listens: a bad file is CFG001, not a node
  // that starts and then completes no handshake. The protector is ours (node/mesh-key.ts says
  // why); it forwards the socket's 'drain' (js-libp2p#3552: without it a sender wedged after
  // ~4 MB): test/pnet.test.ts sends 16 MiB through it.
  const psk = config.security.psk !== undefined ? await readPsk(config.security.psk) : undefined
  return {
    transports: [tcp(), webSockets()],
    peerDiscovery: config.mdns ? [mdnsDiscovery(config.mesh)] : [],
    ...(psk !== undefined ? { connectionProtector: meshKey(psk) } : {})
  }
}
