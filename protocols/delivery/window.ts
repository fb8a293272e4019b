/** The eviction both receiver windows share (dedup.ts: exactly-once keys; topic-seen.ts: delivered topic ids). */
import type { StoreSpace } from '../core/store.js'

/**
 * Forget the keys past `windowMs`, then the oldest past `maxEntries`. `order` maps each key to
 * when it was seen, oldest first (a Map keeps insertion order); the removals share one durable
 * batch, and what went is told by reason.
 */
export async function evictWindow (
  order: Map<string, number>, space: StoreSpace<any>, policy: { windowMs: number, maxEntries: number }, now: number,
  onEvict: (reason: 'age' | 'count', n: number) => void
): Promise<void> {
  const gone: string[] = []
  let aged = 0
  for (const [k, at] of order) {
    const old = now - at >= policy.windowMs
    if (!old && order.size - gone.length <= policy.maxEntries) break
    gone.push(k)
    if (old) aged++
  }
  if (gone.length === 0) return
  for (const k of gone) order.delete(k)
  await space.batch(gone.map(k => ({ key: k, remove: true as const })))
  if (aged > 0) onEvict('age', aged)
  if (gone.length > aged) onEvict('count', gone.length - aged)
}
