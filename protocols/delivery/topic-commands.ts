/** The wire of reliable publish (docs/delivery.md, "Publish (gossip)"): two internal rpc commands and a header. */
import { z } from 'zod'
import { defineCommand } from '../rpc/index.js'

/**
 * The named recipients of a reliable topic envelope (peer ids, comma-separated): the subscribers
 * that acknowledge its gossip copy. Others deliver it without a word.
 */
export const HEADER_ACK = 'am-ack'

/**
 * Recipient -> publisher: "these topic envelopes reached me by gossip". A separate small request
 * rather than anything piggy-backed: gossip goes to all subscribers and cannot carry an answer to
 * one, and recipients need not talk to the publisher otherwise. Batched per publisher (TOPIC_ACK_BATCH_MS).
 */
export const TopicAckCommand = defineCommand('$agentmesh/topic/ack', {
  request: z.strictObject({ ids: z.array(z.string().min(1).max(128)).min(1).max(1_000) }),
  response: z.strictObject({})
})

/**
 * Publisher -> recipient: the topic envelope itself, for a recipient whose ack did not come in
 * time. Sent through the outbox (retries, dead letters); the answer is the acknowledgement.
 */
export const TopicDeliverCommand = defineCommand('$agentmesh/topic/deliver', {
  request: z.strictObject({ envelope: z.unknown() }),
  response: z.strictObject({ accepted: z.boolean() })
})
