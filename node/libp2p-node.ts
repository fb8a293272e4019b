/**
 * How a node in Node.js reaches others (node/libp2p.ts `Connectivity`): TCP and WebSockets,
 * mDNS on the local network when `mdns` is on, the mesh key of `security.psk`, and Noise's X25519
 * with key objects kept (node/noise-crypto.ts). Kept apart
 * from node/libp2p.ts so that a browser bundle, which has none of these, never loads them.
 */
import { tcp } from '@libp2p/tcp'
import { webSockets } from '@libp2p/websockets'
import type { AgentConfig } from './config.js'
import type { Connectivity } from './libp2p.js'
import { mdnsDiscovery } from '../protocols/discovery/mdns.js'
import { meshKey } from './mesh-key.js'
import { noiseCrypto } from './noise-crypto.js'
import type { Keyring } from './keyring.js'

/**
 * `keyring`: the mesh keys (node/keyring.ts: the data directory's keyring, else security.psk,
 * read before anything listens, so a bad file is CFG001, not a node that starts and then
 * completes no handshake). The protector is ours (node/mesh-key.ts says why); it forwards the
 * socket's 'drain' (js-libp2p#3552: without it a sender wedged after ~4 MB): test/node/pnet.test.ts
 * sends 16 MiB through it.
 */
export async function nodeConnectivity (config: AgentConfig, keyring?: Keyring): Promise<Connectivity> {
  return {
    transports: [tcp(), webSockets()],
    peerDiscovery: config.mdns ? [mdnsDiscovery(config.mesh)] : [],
    noiseCrypto,
    ...(keyring !== undefined ? { connectionProtector: meshKey(keyring) } : {})
  }
}
