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
import { NotFoundError, peerRoutingSymbol, type Libp2p, type PeerId, type PeerInfo, type PeerRouting, type PeerStore } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'

/** Addresses a statement carries at most, and how long each may be. */
export const MAX_STATEMENT_ADDRS = 8
export const MAX_ADDR_LENGTH = 256
/** Authors whose last addresses are remembered; the oldest go first. */
const REMEMBERED = 10_000

export interface MemberAddresses {
  /** This node's addresses to state: its announced or listening ones, without its own peer id. */
  own: () => string[]
  /** An admitted author's stated addresses (StatedAddresses.learn). */
  learn: (peerId: string, addrs: string[]) => void
}

/**
 * The addresses admitted authors stated, handed to libp2p only when it dials one: a peer routing
 * (libp2p's dial asks its routers for a peer the peer store has no address of), not a peer-store
 * merge per author. A merge costs ~0.8 ms of CPU (the store's protobuf and datastore key; measured
 * on @libp2p/peer-store 12 under libp2p 3.3.11), and every agent learns every member while it
 * dials a handful with views: 99 merges an agent at 100 agents, 999 at 1,000, and a peer-store
 * entry (and a `peer:discovery` event) for each. Merged only when an author's addresses change,
 * so an entry an earlier connection left with its old ones (a restart on another port) is not
 * dialled alone.
 */
export class StatedAddresses implements PeerRouting {
  readonly [Symbol.toStringTag] = '@agentmesh/stated-addresses'
  private readonly stated = new Map<string, { key: string, addrs: Multiaddr[] }>()

  constructor (private readonly components: { peerStore: PeerStore }) {}

  get [peerRoutingSymbol] (): PeerRouting { return this }

  learn (peerId: string, addrs: string[]): void {
    const key = addrs.join(' ')
    const before = this.stated.get(peerId)
    if (before !== undefined && before.key === key) return
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
    if (parsed.length === 0) return
    let id
    try { id = peerIdFromString(peerId) } catch { return }
    this.stated.delete(peerId)
    this.stated.set(peerId, { key, addrs: parsed })
    if (this.stated.size > REMEMBERED) this.stated.delete(this.stated.keys().next().value as string)
    if (before !== undefined) this.components.peerStore.merge(id, { multiaddrs: parsed }).catch(() => { /* stopping */ })
  }

  /** What `peerId` last stated (parsed, without its peer id); none if it never did. */
  find (peerId: string): Multiaddr[] { return this.stated.get(peerId)?.addrs ?? [] }

  /** libp2p's dial, for a peer the peer store has no address of: what it stated, if anything. */
  async findPeer (id: PeerId): Promise<PeerInfo> {
    const multiaddrs = this.find(id.toString())
    if (multiaddrs.length === 0) throw new NotFoundError('no stated addresses')
    return { id, multiaddrs }
  }

  async * getClosestPeers (): AsyncIterable<PeerInfo> {}
}

export function memberAddresses (libp2p: Pick<Libp2p, 'getMultiaddrs'>, stated: Pick<StatedAddresses, 'learn'>): MemberAddresses {
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
    learn: (peerId, addrs) => { stated.learn(peerId, addrs) }
  }
}

/** 421: /p2p, the peer id part. */
function withoutPeerId (ma: Multiaddr): Multiaddr { return ma.decapsulateCode(421) }
