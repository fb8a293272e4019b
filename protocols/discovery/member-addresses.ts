/**
 * Where an agent can be dialled, carried in its signed member statement (member-wire.ts `addrs`),
 * as memberlist's alive messages carry a node's address. Rumours tell every agent of every other,
 * but an agent learns addresses from libp2p only for its neighbours (identify): without this, an
 * agent known by rumour alone could not be dialled, and a coordinator's vote requests, heartbeats
 * and directives to a voter it was not connected to failed for good (at 50 agents, each connected
 * to ~14 others, no coordinator was ever elected).
 *
 * An author can only state its own addresses (the statement is signed by it and, in a closed mesh,
 * vouched for by its credential), and a dial checks the peer id in the Noise handshake, so a false
 * address wastes a dial and reaches nobody else. It can make agents dial a host of its choosing
 * (as in memberlist): the addresses are dialled only when an agent has something to send to it.
 */
import { NotFoundError, peerRoutingSymbol, type Libp2p, type Libp2pEvents, type PeerId, type PeerInfo, type PeerRouting, type PeerStore, type PeerUpdate, type TypedEventTarget } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdOf } from '../core/peer-keys.js'
import { DEFAULT_MAX_MEMBERS } from './constants.js'

/** Addresses a statement carries at most, and how long each may be. */
export const MAX_STATEMENT_ADDRS = 8
export const MAX_ADDR_LENGTH = 256
/**
 * Authors whose last addresses are remembered, and peers remembered as in the peer store, by
 * default (a node passes its table's cap when larger); the least recently stated go first. An
 * author forgotten here cannot be dialled by rumour alone until it states its addresses again.
 */
const REMEMBERED = DEFAULT_MAX_MEMBERS
/**
 * How long the peer store keeps an address (node/libp2p.ts). libp2p's default, an hour, counts
 * from when an address was first seen, and a merge of the same address does not renew it: an
 * agent whose address came back after an hour elsewhere would be held at an expired address.
 */
export const STATED_ADDRESS_AGE_MS = 30 * 24 * 3_600_000

export interface MemberAddresses {
  /** This node's addresses to state: its announced or listening ones, without its own peer id. */
  own: () => string[]
  /** An admitted author's stated addresses (StatedAddresses.learn). */
  learn: (peerId: string, addrs: string[]) => void
}

/**
 * The addresses admitted authors stated, handed to libp2p only when it dials one: a peer routing
 * (libp2p's dial asks its routers for a peer the peer store has no address of), not a peer-store
 * merge per author. A merge costs 0.3-0.7 ms of CPU (the store's protobuf and datastore key,
 * measured on @libp2p/peer-store 12.0.28 under libp2p 3.3.11), and every agent learns every member
 * while, with views, it dials a handful: 99 merges an agent at 100 agents, 999 at 1,000, each a
 * peer-store entry. The test of three agents in test/protocols/discovery/member-addresses.test.ts
 * fails if libp2p's dial stops asking its routers.
 *
 * A peer the store already holds (libp2p's `peer:update` said so: a connection, a hint, mDNS)
 * gets what it states merged, as before: the dial reads the store alone when it has an address,
 * and an entry an earlier run of the agent left (another port) would be dialled alone.
 */
export class StatedAddresses implements PeerRouting {
  readonly [Symbol.toStringTag] = '@agentmesh/stated-addresses'
  private readonly stated = new Map<string, { key: string, addrs: Multiaddr[] }>()
  /** Peers libp2p's peer store told of (`peer:update`): their statements are merged there too. */
  private readonly stored = new Map<string, true>()
  private readonly onUpdate = (e: CustomEvent<PeerUpdate>): void => { remember(this.stored, e.detail.peer.id.toString(), true, this.remembered) }

  private readonly remembered: number

  constructor (private readonly components: { peerStore: PeerStore, events: TypedEventTarget<Libp2pEvents> }, options: { remembered?: number } = {}) {
    this.remembered = Math.max(REMEMBERED, options.remembered ?? 0)
  }

  get [peerRoutingSymbol] (): PeerRouting { return this }

  start (): void { this.components.events.addEventListener('peer:update', this.onUpdate) }
  stop (): void { this.components.events.removeEventListener('peer:update', this.onUpdate) }

  /** Keeps what `peerId` stated; true when it is the first this node heard of it (a candidate for the peer dialer). */
  learn (peerId: string, addrs: string[]): boolean {
    const key = addrs.join(' ')
    const before = this.stated.get(peerId)
    if (before !== undefined && before.key === key) { remember(this.stated, peerId, before, this.remembered); return false }
    const parsed: Multiaddr[] = []
    for (const a of addrs.slice(0, MAX_STATEMENT_ADDRS)) {
      try {
        const ma = multiaddr(a)
        // An address naming another peer is not this author's to give.
        const named = ma.getComponents().find(c => c.name === 'p2p')?.value
        if (named !== undefined && named !== peerId) continue
        parsed.push(withoutPeerId(ma))
      } catch { /* not an address: ignored, the others still count */ }
    }
    if (parsed.length === 0) return false
    let id
    try { id = peerIdOf(peerId) } catch { return false }
    remember(this.stated, peerId, { key, addrs: parsed }, this.remembered)
    if (this.stored.has(peerId)) this.components.peerStore.merge(id, { multiaddrs: parsed }).catch(() => { /* stopping */ })
    return before === undefined
  }

  /** What `peerId` last stated (parsed, without its peer id); none if it never did. */
  find (peerId: string): Multiaddr[] { return this.stated.get(peerId)?.addrs ?? [] }

  /** libp2p's dial, for a peer the peer store has no address of: what it stated, if anything. */
  async findPeer (id: PeerId): Promise<PeerInfo> {
    const multiaddrs = this.find(id.toString())
    if (multiaddrs.length === 0) throw new NotFoundError('no stated addresses')
    return { id, multiaddrs }
  }

  /** Not a DHT: a random walk (circuit relay's discovery, kad-dht) that asks gets an error and ends, as with no router at all. */
  async * getClosestPeers (): AsyncGenerator<PeerInfo> {
    throw new NotFoundError('stated addresses find peers by id only')
  }
}

/** Sets `key` as the newest entry of `map`, which keeps `max` at most. */
function remember<V> (map: Map<string, V>, key: string, value: V, max: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > max) map.delete(map.keys().next().value as string)
}

/**
 * This node's own addresses, and where others' go: `stated`, and `learnt` with an author first
 * heard of (the peer dialer's candidate with the dialer graph, as a new peer-store entry was).
 */
export function memberAddresses (libp2p: Pick<Libp2p, 'getMultiaddrs'>, stated: Pick<StatedAddresses, 'learn'>, learnt?: (peerId: string) => void): MemberAddresses {
  return {
    own: () => {
      const out: string[] = []
      for (const ma of libp2p.getMultiaddrs()) {
        const text = withoutPeerId(ma).toString()
        // A relayed address needs the relay's cooperation; agentmesh listens on TCP and WebSockets.
        if (text.includes('/p2p-circuit') || text.length > MAX_ADDR_LENGTH || out.includes(text)) continue
        out.push(text)
        if (out.length >= MAX_STATEMENT_ADDRS) break
      }
      return out
    },
    learn: (peerId, addrs) => { if (stated.learn(peerId, addrs)) learnt?.(peerId) }
  }
}

/** 421: /p2p, the peer id part. */
function withoutPeerId (ma: Multiaddr): Multiaddr { return ma.decapsulateCode(421) }
