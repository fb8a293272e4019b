/**
 * What the connection gater (node/libp2p.ts) asks before a connection is upgraded or kept:
 * caps on inbound connections per peer, per host and in total, and the peers this node refuses
 * for now (a flooder in its cool-down, a revoked peer). libp2p itself has only a rate of new
 * connections per host, a cap on connections being upgraded and a total of open connections,
 * which a peer that holds its connections open, or a host with many peer ids, does not reach.
 */
import type { Connection, PeerId } from '@libp2p/interface'
import type { Multiaddr } from '@multiformats/multiaddr'
import { getNetConfig, isNetworkAddress } from '@libp2p/utils'

/** The libp2p service holding the node's ConnectionGate: admission adds its rule to it, the stream guards their cool-downs. */
export const CONNECTION_GATE_SERVICE = 'connectionGate'

/** An inbound connection the gater let through is counted until it opens, or for this long (a failed upgrade). */
const PENDING_MS = 10_000
/** Peers with connections pending before the stale ones are swept. */
const MAX_PENDING_KEYS = 1_024
/** Peers in a cool-down remembered before the expired ones are swept. */
const MAX_COOLING = 4_096

/**
 * A cap on the inbound connections one peer holds (connections.maxPerPeer), checked after Noise
 * names it. Connections let through but not open yet count too, or ten opened at once would all
 * pass the check before the first is listed.
 */
export class InboundConnections<K extends { toString: () => string }> {
  private readonly pending = new Map<string, number[]>()
  constructor (private readonly max: number, private readonly open: (key: K) => number) {}

  /** Whether to refuse one more inbound connection of `key` (and, if not, it counts from now). */
  denies (key: K, now = Date.now()): boolean {
    const id = key.toString()
    // A connection let through that failed later never opens: past PENDING_MS it stops counting,
    // and the keys only such connections left behind are forgotten, so new identities cannot grow the map.
    if (this.pending.size > MAX_PENDING_KEYS) for (const [k, ts] of this.pending) if (ts.every(t => now - t >= PENDING_MS)) this.pending.delete(k)
    const waiting = (this.pending.get(id) ?? []).filter(t => now - t < PENDING_MS)
    if (this.open(key) + waiting.length >= this.max) return true
    waiting.push(now)
    this.pending.set(id, waiting)
    return false
  }

  /** An inbound connection of `key` opened: it is listed now, no longer pending. */
  opened (key: K): void {
    const id = key.toString()
    const waiting = this.pending.get(id)
    waiting?.shift()
    if (waiting?.length === 0) this.pending.delete(id)
  }
}

/** The cap per peer (connections.maxPerPeer), as node/libp2p.ts has always exported it. */
export class PerPeerConnections extends InboundConnections<PeerId> {}

/** The IP address of a connection's remote end, or undefined (a relay, a socket path). */
export function hostOf (addr: Multiaddr): string | undefined {
  try {
    return isNetworkAddress(addr) ? getNetConfig(addr).host : undefined
  } catch {
    return undefined
  }
}

/** Why a connection is refused (connections_refused_total's reason). */
export type RefusalReason = 'per_peer' | 'per_host' | 'inbound' | 'cooldown' | 'revoked'

export interface GateLimits {
  maxPerPeer: number
  /** Inbound connections open at once from one host (0: no cap), except `trustedHosts`. */
  maxPerHost: number
  trustedHosts: readonly string[]
  /** Inbound connections open at once, all hosts (0: no cap). */
  maxInbound: number
}

/**
 * The gate: the caps, the peers in a cool-down, and rules other parts of the node add (the
 * rpc and gossip limiters' cool-downs, admission's revoked peers). Each refusal is counted
 * through `onRefused`.
 */
export class ConnectionGate {
  private readonly rules: Array<(peer: string, now: number) => RefusalReason | undefined> = []
  private readonly cooling = new Map<string, number>()
  /** Hosts (not trusted ones) refused before anything is read from them, until the time stored. */
  private readonly coolingHosts = new Map<string, number>()
  private readonly perPeer: InboundConnections<PeerId>
  private readonly trusted: Set<string>
  /** Counts each refusal (set by the node once its metrics exist). */
  onRefused: (reason: RefusalReason) => void = () => {}
  /**
   * Whether `peer` is admitted (closed mesh; set by node/admission.ts when it starts): gossipsub's
   * score reads it, so that a peer not admitted is sent no message and no gossip (node/libp2p.ts).
   */
  admitted: (peer: string) => boolean = () => true

  constructor (private readonly limits: GateLimits, private readonly connections: () => Connection[], private readonly hangUp: (peer: string) => void) {
    this.perPeer = new PerPeerConnections(limits.maxPerPeer, peer => this.inboundOpen().filter(c => c.remotePeer.equals(peer)).length)
    this.trusted = new Set(limits.trustedHosts)
  }

  private inboundOpen (): Connection[] { return this.connections().filter(c => c.direction === 'inbound' && c.status === 'open') }

  /** A rule: the reason to refuse `peer`'s connections now, or undefined. */
  rule (fn: (peer: string, now: number) => RefusalReason | undefined): void { this.rules.push(fn) }

  /** Hangs up on `peer` and refuses its connections (and this node's dials to it) for `ms`. */
  coolDown (peer: string, ms: number, now = Date.now()): void {
    if (this.cooling.size >= MAX_COOLING) for (const [p, until] of this.cooling) if (until <= now) this.cooling.delete(p)
    this.cooling.set(peer, Math.max(this.cooling.get(peer) ?? 0, now + ms))
    this.hangUp(peer)
  }

  /**
   * Refuses inbound connections from `host` for `ms`, before anything is read from them (a
   * trusted host never: loopback and the hosts named in connections.trustedHosts). Admission
   * cools down the host of a peer it refused, so new peer ids from one host do not buy new
   * admission windows.
   */
  /** Whether `host` is trusted (connections.trustedHosts: loopback by default): no cap or admission cool-down applies to it. */
  trusts (host: string): boolean { return this.trusted.has(host) }

  coolDownHost (host: string, ms: number, now = Date.now()): void {
    if (this.trusted.has(host)) return
    if (this.coolingHosts.size >= MAX_COOLING) for (const [h, until] of this.coolingHosts) if (until <= now) this.coolingHosts.delete(h)
    this.coolingHosts.set(host, Math.max(this.coolingHosts.get(host) ?? 0, now + ms))
  }

  /** The peers and hosts in a cool-down now, each with when it ends (for /health). */
  coolingDown (now = Date.now()): { peers: Array<{ peer: string, until: number }>, hosts: Array<{ host: string, until: number }> } {
    return {
      peers: [...this.cooling].filter(([, until]) => until > now).map(([peer, until]) => ({ peer, until })),
      hosts: [...this.coolingHosts].filter(([, until]) => until > now).map(([host, until]) => ({ host, until }))
    }
  }

  /** Why `peer` is refused now (its cool-down or a rule), or undefined. */
  refuses (peer: string, now = Date.now()): RefusalReason | undefined {
    const until = this.cooling.get(peer)
    if (until !== undefined) {
      if (until > now) return 'cooldown'
      this.cooling.delete(peer)
    }
    for (const r of this.rules) {
      const reason = r(peer, now)
      if (reason !== undefined) return reason
    }
    return undefined
  }

  // --- libp2p's ConnectionGater -------------------------------------------------------------

  /**
   * Before anything is read from the socket: the caps per host and in total, on the connections
   * open. Those being upgraded are not counted (libp2p upgrades at most 10 at once, its
   * maxIncomingPendingConnections, so that is the most a cap is overshot by): counting them
   * until they open or time out would let a host whose handshakes fail hold places it never uses.
   */
  denyInboundConnection (addr: Multiaddr, now = Date.now()): boolean {
    const host = hostOf(addr)
    const until = host !== undefined ? this.coolingHosts.get(host) : undefined
    if (until !== undefined) {
      if (until > now) return this.refused('cooldown')
      this.coolingHosts.delete(host as string)
    }
    const { maxPerHost, maxInbound } = this.limits
    if (maxPerHost <= 0 && maxInbound <= 0) return false
    const open = this.inboundOpen()
    if (maxInbound > 0 && open.length >= maxInbound) return this.refused('inbound')
    if (maxPerHost <= 0 || host === undefined || this.trusted.has(host)) return false
    let fromHost = 0
    for (const c of open) if (hostOf(c.remoteAddr) === host && ++fromHost >= maxPerHost) return this.refused('per_host')
    return false
  }

  /** After Noise names the peer: its cool-down, the rules, the cap per peer. */
  denyInboundEncrypted (peer: PeerId, now = Date.now()): boolean {
    const reason = this.refuses(peer.toString(), now)
    if (reason !== undefined) return this.refused(reason)
    return this.perPeer.denies(peer, now) ? this.refused('per_peer') : false
  }

  /** This node's own dials and connections: refused peers are not dialled either. */
  denyOutbound (peer: PeerId): boolean {
    const reason = this.refuses(peer.toString())
    return reason !== undefined ? this.refused(reason) : false
  }

  /** An inbound connection opened: no longer pending for its peer. */
  opened (conn: Connection): void {
    if (conn.direction === 'inbound') this.perPeer.opened(conn.remotePeer)
  }

  private refused (reason: RefusalReason): true {
    this.onRefused(reason)
    return true
  }
}
