/**
 * Where the subscribers of a topic meet (pure; node/topic-links.ts acts on it). Gossip carries a
 * message only through peers that subscribe to its topic, and in a large mesh an agent holds a
 * connection to a few of the others: the subscribers of a topic few agents read need not be
 * connected to each other, nor to its publisher, and a message then reaches none of them.
 *
 * Each agent states, in its signed member statement (member-wire.ts), a short key of each topic
 * it subscribes to. Every agent then knows every topic's subscribers from its member view, and:
 * - each subscriber keeps a connection to the next subscriber in the topic's ring: all of them
 *   sorted by a hash of the topic's key and their peer id (rendezvous hashing). A ring is
 *   connected, and still is without any one of its members, so gossip among the subscribers
 *   reaches them all; each subscriber dials one peer per topic, whatever the mesh's size;
 * - a publisher with no subscriber connected dials one before its message goes (the subscriber
 *   whose hash with the publisher's id is highest, so publishers spread over the subscribers).
 *
 * Topics starting with `$` are the mesh's own (the coordinator's, the revocations', the map's):
 * every agent subscribes to the first two, and the map's watchers are dialled by mapLinks.
 */
import { createHash } from 'node:crypto'

/** Topic keys an agent states at most: past it, its other topics are not met through the ring. */
export const MAX_STATEMENT_TOPICS = 128
/** A topic's key: 72 bits of its SHA-256, base64url (a collision joins two rings, nothing worse). */
export const TOPIC_KEY_LENGTH = 12
/** What a key looks like on the wire (member-wire.ts checks it). */
export const TOPIC_KEY_PATTERN = /^[A-Za-z0-9_-]{12}$/

/** Whether subscribers of this topic are stated and linked: the application's topics. */
export const linkedTopic = (topic: string): boolean => !topic.startsWith('$')

export function topicKey (topic: string): string {
  return createHash('sha256').update(topic).digest('base64url').slice(0, TOPIC_KEY_LENGTH)
}

/** The keys an agent states for the topics it subscribes to: linked ones, unique, sorted, at most MAX_STATEMENT_TOPICS. */
export function statedKeys (topics: Iterable<string>): string[] {
  const keys = new Set<string>()
  for (const t of topics) if (linkedTopic(t)) keys.add(topicKey(t))
  // A key that is not one (a platform's hash gone wrong: the browser's once gave bytes) would get
  // the whole statement refused by every member: it is left out instead.
  return [...keys].filter(k => TOPIC_KEY_PATTERN.test(k)).sort().slice(0, MAX_STATEMENT_TOPICS)
}

/**
 * A peer's place for a topic: 64 bits of a hash, kept (every node's rounds ask each second for
 * every subscriber of each of its topics; a ring's places are the same for every agent of a
 * process); the memo, about 200 bytes an entry, is emptied past SCORES_KEPT entries.
 */
const scores = new Map<string, string>()
const SCORES_KEPT = 8_192
function score (...parts: string[]): string {
  const text = parts.join('\n')
  let s = scores.get(text)
  if (s === undefined) {
    if (scores.size >= SCORES_KEPT) scores.clear()
    s = createHash('sha256').update(text).digest('hex').slice(0, 16)
    scores.set(text, s)
  }
  return s
}

/**
 * The subscriber `self` keeps a connection to: the one after it in the topic's ring of
 * `holders` (every subscriber, `self` among them or not). Undefined when `self` is alone.
 */
export function ringNext (self: string, key: string, holders: Iterable<string>): string | undefined {
  const ring = [...new Set([...holders, self])].map(p => ({ p, s: score(key, p) })).sort((a, b) => a.s < b.s ? -1 : a.s > b.s ? 1 : 0)
  if (ring.length < 2) return undefined
  const i = ring.findIndex(r => r.p === self)
  return ring[(i + 1) % ring.length].p
}

/** The subscriber a publisher `self` with none connected dials: the highest hash with its id, so publishers spread. */
export function rendezvous (self: string, key: string, holders: Iterable<string>): string | undefined {
  let best: { p: string, s: string } | undefined
  for (const p of holders) {
    if (p === self) continue
    const s = score(key, self, p)
    if (best === undefined || s > best.s) best = { p, s }
  }
  return best?.p
}
