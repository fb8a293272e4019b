/** What pubsub adjusts in gossipsub itself: topic scores, penalties, and waiting for full gossip streams. */
import type { Libp2p } from '@libp2p/interface'
import type { GossipSub } from '@libp2p/gossipsub'
import { createTopicScoreParams } from '@libp2p/gossipsub/score'
import { DRAIN_WAIT_MS, STREAM_OPEN_WAIT_MS } from './constants.js'

/**
 * Gossipsub penalises a peer for rejected messages only on topics that have score parameters,
 * and agentmesh's topics are made at run time. Each gets parameters that punish invalid
 * messages hard (one forgery puts the sender below the graylist threshold, decaying by half
 * each second) and reward first deliveries, but leave out the mesh-delivery-rate penalty:
 * agent topics are often quiet, and quiet is not misbehaviour.
 */
export function scoreTopic (gossipsub: GossipSub, gossip: string): void {
  const score = (gossipsub as unknown as { score?: { params?: { topics?: Record<string, unknown> } } }).score
  const topics = score?.params?.topics
  if (topics === undefined || topics[gossip] !== undefined) return
  topics[gossip] = createTopicScoreParams({
    topicWeight: 1,
    timeInMeshWeight: 0,
    firstMessageDeliveriesWeight: 1,
    firstMessageDeliveriesDecay: 0.5,
    firstMessageDeliveriesCap: 100,
    meshMessageDeliveriesWeight: 0,
    meshFailurePenaltyWeight: 0,
    invalidMessageDeliveriesWeight: -100,
    invalidMessageDeliveriesDecay: 0.5
  })
}

/** Gossipsub's behaviour penalty (P7) for a publisher over its limit (gossip-limits.ts says why not a rejection). */
export function penalise (gossipsub: GossipSub, peer: string): void {
  const score = (gossipsub as unknown as { score?: { addPenalty?: (id: string, n: number, label: string) => void } }).score
  score?.addPenalty?.(peer, 1, 'rate_limited')
}

/**
 * `peer`'s score as gossipsub keeps it (cached for up to a heartbeat) beside one of its
 * thresholds; undefined when the implementation shows either not.
 */
function scoreAndThreshold (gossipsub: GossipSub, peer: string, which: 'publishThreshold' | 'graylistThreshold'): { score: number, threshold: number } | undefined {
  const gs = gossipsub as unknown as { score?: { score?: (id: string) => number }, opts?: { scoreThresholds?: Record<string, number | undefined> } }
  const threshold = gs.opts?.scoreThresholds?.[which]
  const score = gs.score?.score?.(peer)
  return threshold === undefined || score === undefined ? undefined : { score, threshold }
}

/** Whether gossipsub publishes to `peer` now: its score at or above the publish threshold (true when it cannot be read). */
export function publishesTo (gossipsub: GossipSub, peer: string): boolean {
  const s = scoreAndThreshold(gossipsub, peer, 'publishThreshold')
  return s === undefined || s.score >= s.threshold
}

/**
 * Whether gossipsub graylists `peer` now: its score below the graylist threshold, under which
 * gossipsub ignores everything the peer sends (false when it cannot be read).
 */
export function graylists (gossipsub: GossipSub, peer: string): boolean {
  const s = scoreAndThreshold(gossipsub, peer, 'graylistThreshold')
  return s !== undefined && s.score < s.threshold
}

/**
 * Gossipsub writes without backpressure, and yamux buffers without bound. Before a batch goes
 * out, wait (briefly) for any gossip stream whose buffer is full, so a publisher that outruns
 * its peers is held at `publish` rather than queueing ever more latency in memory.
 */
export async function waitForGossipDrain (libp2p: Libp2p): Promise<void> {
  const waits: Array<Promise<void>> = []
  for (const conn of libp2p.getConnections()) {
    for (const s of conn.streams) {
      if (s.writableNeedsDrain && s.protocol?.startsWith('/meshsub/') === true) {
        waits.push(s.onDrain({ signal: AbortSignal.timeout(DRAIN_WAIT_MS) }).catch(() => {}))
      }
    }
  }
  if (waits.length > 0) await Promise.all(waits)
}

/** Subscribers remembered as waited for, at most (past it the record starts again). */
const MAX_WAITED = 4_096

/**
 * A subscriber's subscription comes over the stream it opened to this node, and gossipsub opens
 * its own stream back separately: one peer at a time, each a protocol negotiation, so on a loaded
 * host it can be seconds behind. A batch published in between is dropped for that subscriber
 * without a word (gossipsub's sendRpc: "no open stream"), and a flood publish by a node that does
 * not subscribe leaves no mesh state that would repair it. `agentmesh pub` published to a
 * subscriber it knew and delivered nothing (the test loop, at load 10). So before a batch is
 * gossiped, wait for the streams to `peers` still opening. Each is waited for up to
 * STREAM_OPEN_WAIT_MS from the first batch that found it without one (`since`, kept by the
 * caller), not from its connection's start: a socket's first moments go to Noise, yamux and
 * identify, longer on a loaded host. Past that it is not waited for again (gossipsub does not
 * retry a stream that failed to open, so it may never come), and a batch is held at most that
 * long by one subscriber however many arrive. Polled: gossipsub emits nothing when a stream opens.
 * The same wait, with `publishesTo` and SCORE_REFRESH_WAIT_MS as `boundMs`, holds a batch for a
 * subscriber just admitted until gossipsub's cached score of it says it may be published to.
 */
export async function waitForGossipStreams (
  peers: readonly string[], sendsTo: (peer: string) => boolean, since: Map<string, number>, signal?: AbortSignal, boundMs = STREAM_OPEN_WAIT_MS
): Promise<void> {
  for (;;) {
    const now = Date.now()
    let until = 0
    for (const p of peers) {
      if (sendsTo(p)) { since.delete(p); continue }
      let first = since.get(p)
      if (first === undefined) {
        if (since.size >= MAX_WAITED) since.clear()
        first = now
        since.set(p, first)
      }
      until = Math.max(until, first + boundMs)
    }
    if (until <= now || signal?.aborted === true) return
    await new Promise(resolve => setTimeout(resolve, Math.min(20, until - now)))
  }
}
