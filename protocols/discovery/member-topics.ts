/**
 * The topics each member stated it subscribes to (their keys: topic-rendezvous.ts), indexed both
 * ways: what node/topic-links.ts asks is who subscribes to a topic. Pure; a member's newest
 * statement replaces what it stated before, and a reaped member is forgotten.
 */
export class MemberTopics {
  private readonly byPeer = new Map<string, readonly string[]>()
  private readonly byKey = new Map<string, Set<string>>()

  set (peer: string, keys: readonly string[]): void {
    this.forget(peer)
    if (keys.length === 0) return
    this.byPeer.set(peer, keys)
    for (const k of keys) {
      let peers = this.byKey.get(k)
      if (peers === undefined) this.byKey.set(k, peers = new Set())
      peers.add(peer)
    }
  }

  forget (peer: string): void {
    for (const k of this.byPeer.get(peer) ?? []) {
      const peers = this.byKey.get(k)
      peers?.delete(peer)
      if (peers?.size === 0) this.byKey.delete(k)
    }
    this.byPeer.delete(peer)
  }

  /** The members that stated `key`. */
  holders (key: string): string[] { return [...this.byKey.get(key) ?? []] }
}
