/**
 * What a node with a mesh key says about the hosts whose handshake no key of its ring opened:
 * counted (connections_refused_total{reason="mesh_key"}), and logged once a minute per host, as
 * admission logs the peers it refuses (node/admission.ts). By host, not peer: the handshake ends
 * before Noise, so the dialer's peer id is never learnt. A dialer without the key sees only its
 * connection close; this line is the listening side's half of the story (issue 44).
 */
import type { Logger } from './log.js'
import type { Stats } from './stats.js'
import type { Keyring } from './keyring.js'
import { AuditPacer } from '../protocols/core/audit.js'

const LOG_EVERY_MS = 60_000
/** Hosts whose pace is remembered; beyond, the oldest quiet ones are forgotten. */
const MAX_HOSTS = 1_024

export function reportMeshKeyRefusals (keyring: Keyring, stats: Stats, log: Logger): void {
  const pacer = new AuditPacer(LOG_EVERY_MS, MAX_HOSTS)
  keyring.onRefused = ({ remote, plain }) => {
    stats.inc('connections_refused_total', { reason: 'mesh_key' })
    const host = /^\/(?:ip4|ip6|dns4|dns6|dns)\/([^/]+)/.exec(remote)?.[1] ?? remote
    // Each kind said on its own: a host may run one node without a key and another with an old one.
    const paced = pacer.pace(`${host} ${plain ? 'plain' : 'key'}`, Date.now())
    if (paced === undefined) return
    // What the bytes say, no more: a plain header is a dialer with no key; other bytes, a key this ring lacks.
    const why = plain
      ? 'it holds no mesh key (its first bytes were plain multistream-select): start it with --psk'
      : 'its first bytes are under none of this node\'s keys (another key, or not a libp2p dialer): give it this mesh\'s key (--psk)'
    log.warn({ remote, ...(paced.refused > 1 ? { refusals: paced.refused } : {}) }, `a host failed the mesh key handshake: ${why}`)
  }
}
