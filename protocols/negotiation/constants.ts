/**
 * Per-peer limits of negotiation (issue 13; stream-guard.ts). A contract net opens one
 * conversation per candidate and call, a bilateral negotiation one per negotiation, and each
 * lasts from a few ms to its deadline (seconds): an honest initiator busy enough to call the
 * same peer 10 times a second, with a few conversations waiting on a proposal, stays a tenth
 * of these. A flooder is stopped at 100 new conversations a second, and at 32 held open
 * (libp2p alone allows 16 per connection, times every connection the peer opens).
 */
export const DEFAULT_CONVERSATIONS_PER_SEC = 100
export const DEFAULT_CONVERSATIONS_PER_PEER = 32
