/**
 * When to give up on an agent that is not there: once this node's member view is complete and
 * names no such agent, rather than after a fixed wait (issue 44: a mistyped name cost 11 s from
 * the CLI and 5 s from MCP although every agent was seen within a second).
 *
 * The view counts as complete once a full exchange filled it (before that a client's view holds
 * its seed alone) and every member alive in it has been met (its card seen here): a member the
 * view names but not yet met may be the one asked for.
 */
import type { AgentNode } from './agent-node.js'

/**
 * How long the agent must stay absent from a complete view. The members arrive together (the
 * bootstrap agent's view names them all at once), so one second covers a card on its way.
 */
export const ABSENT_MS = 1_000
/** How often the view is looked at: membership has no event for "complete". */
const LOOK_MS = 200

export interface AbsentWatch {
  /** Aborts once no member matches for ABSENT_MS while the view is complete. */
  signal: AbortSignal
  stop: () => void
}

/** Watches for the agent `matches` picks to be absent from a complete member view; `stop()` when done. */
export function watchAbsent (node: AgentNode, matches: (member: { peerId: string, name: string }) => boolean): AbsentWatch {
  const absent = new AbortController()
  let since: number | undefined
  const look = setInterval(() => {
    const met = new Set(node.peers().map(p => p.peerId))
    const members = node.members().filter(m => m.state === 'alive' && m.peerId !== node.peerId)
    const complete = node.membersSynced() && members.length > 0 && members.every(m => met.has(m.peerId))
    since = complete && !members.some(matches) ? since ?? Date.now() : undefined
    if (since !== undefined && Date.now() - since >= ABSENT_MS) {
      clearInterval(look)
      absent.abort(new DOMException('no such agent in the complete member view', 'NotFoundError'))
    }
  }, LOOK_MS)
  look.unref()
  return { signal: absent.signal, stop: () => { clearInterval(look) } }
}
