/**
 * How a broadcast on a topic that no connected peer subscribes to still reaches a subscriber
 * (issue 41, "a message goes one way"). Gossip carries a topic's messages only through its
 * subscribers, so a publisher connected to none of them reaches nobody: it must first connect to
 * one. Two things are needed for that, known at two layers:
 *
 * - which agents subscribe to the topic, across the whole mesh: their member statements, kept by
 *   the member view (discovery), a layer above pubsub;
 * - whether gossipsub can now carry the batch to one of them (it has their subscription and a
 *   stream open to them): gossipsub's own state, which only pubsub reads.
 *
 * Pubsub used to call a closure of the node's (`reach(topic)`), which dialled and then polled
 * pubsub's subscribers and streams back: pubsub -> node -> pubsub. Now pubsub names what it needs
 * as this interface, owned here, and hands its readiness test down with the call as a value: the
 * provider (node/topic-links.ts, over the member view) picks a subscriber, dials it, and waits
 * on `ready` without knowing pubsub. Set once the provider exists (`PubSubService.reachWith`): it
 * is built from the member view, which is built after pubsub.
 */
export interface TopicReach {
  /**
   * Connect this node to a subscriber of `topic`, and resolve once `ready()` holds or a bounded
   * while has passed. Never throws: a batch that still has nobody to reach goes as it would have.
   */
  reach: (topic: string, ready: () => boolean) => Promise<void>
}
