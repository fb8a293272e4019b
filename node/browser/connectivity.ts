/**
 * How a browser node reaches the mesh (node/libp2p.ts `Connectivity`): it cannot listen, so it
 * dials agents that listen on WebSockets, and only on addresses a browser will open:
 * - secure WebSockets (`/wss`, `/tls/ws`) on any host: a deployment puts an agent's `/ws`
 *   listener behind a proxy that terminates TLS with a certificate the browser trusts, and
 *   announces that address (`announce: ['/dns4/mesh.example.com/tcp/443/wss']`);
 * - plain `/ws` only to this machine (127.0.0.0/8, ::1, localhost), and only when the page asks
 *   for it (`insecureLocal`): local development, a page on http://localhost dialling agents on
 *   the same host. A page served over https may not open ws:// at all (mixed content).
 * Every other address (TCP, plain /ws elsewhere) is refused before any dial. This replaces
 * libp2p's browser default, which refuses every /ws and every private address.
 */
import { webSockets } from '@libp2p/websockets'
import { isLoopback } from '@libp2p/utils'
import type { Multiaddr } from '@multiformats/multiaddr'
import type { Connectivity } from '../libp2p.js'
import { meshKey } from '../mesh-key.js'

/** Whether a browser node dials `address` (see above). */
export function dialable (address: Multiaddr, insecureLocal: boolean): boolean {
  const parts = address.getComponents()
  const names = parts.map(c => c.name)
  if (names.includes('wss') || (names.includes('tls') && names.includes('ws'))) return true
  if (!names.includes('ws') || !insecureLocal) return false
  const host = parts[0]
  return isLoopback(address) || (['dns', 'dns4', 'dns6'].includes(host?.name ?? '') && host?.value === 'localhost')
}

export function browserConnectivity (options: { insecureLocal: boolean, psk?: Uint8Array }): Connectivity {
  return {
    transports: [webSockets()],
    peerDiscovery: [],
    ...(options.psk !== undefined ? { connectionProtector: meshKey(options.psk) } : {}),
    denyDialMultiaddr: (address) => !dialable(address, options.insecureLocal)
  }
}
