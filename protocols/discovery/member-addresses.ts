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
import type { Libp2p } from '@libp2p/interface'
import { multiaddr, type Multiaddr } from '@multiformats/multiaddr'
import { peerIdFromString } from '@libp2p/peer-id'

/** Addresses a statement carries at most, and how long each may be. */
export const MAX_STATEMENT_ADDRS = 8
export const MAX_ADDR_LENGTH = 256
/** Authors whose last addresses are remembered (to merge only what changed); the oldest go first. */
const REMEMBERED = 10_000
/** An unchanged address list is merged again after this. */
const REMERGE_MS = 10 * 60_000
/**
 * How long the peer store keeps an address (node/libp2p.ts): libp2p's default, an hour, counts
 * from when an address was first seen and a merge of the same address does not renew it, so a
 * member known by rumour alone would be undialable an hour after it was learned. A stale address
 * costs one failed dial.
 */
export const STATED_ADDRESS_AGE_MS = 30 * 24 * 3_600_000

export interface MemberAddresses {
  /** This node's addresses to state: its announced or listening ones, without its own peer id. */
  own: () => string[]
  /** An admitted author's stated addresses, added to the peer store (once per change). */
  learn: (peerId: string, addrs: string[]) => void
}

export function memberAddresses (libp2p: Pick<Libp2p, 'getMultiaddrs' | 'peerStore'>): MemberAddresses {
  const last = new Map<string, { key: string, at: number }>()
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
    learn: (peerId, addrs) => {
      const key = addrs.join(' ')
      const now = Date.now()
      const before = last.get(peerId)
      // Merged again now and then even unchanged: the merge keeps the peer in the store (maxPeerAge).
      if (before !== undefined && before.key === key && now - before.at < REMERGE_MS) return
      last.delete(peerId)
      last.set(peerId, { key, at: now })
      if (last.size > REMEMBERED) last.delete(last.keys().next().value as string)
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
      libp2p.peerStore.merge(id, { multiaddrs: parsed }).catch(() => { /* stopping */ })
    }
  }
}

/** 421: /p2p, the peer id part. */
function withoutPeerId (ma: Multiaddr): Multiaddr { return ma.decapsulateCode(421) }
