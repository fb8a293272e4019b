import type { AgentNode } from '../../node/agent-node.js'

/** How often `start` looks at why there is no coordinator: the reason has no event of its own. */
const POLL_MS = 1_000

export type Out = (event: Record<string, unknown>, text: string) => void

/**
 * What `start` prints about the coordinator: one line when one takes office or none is known any
 * more ('coordinator:change'), and, while there is none, one line each time the reason changes
 * ("waiting for 3 eligible agents ..."). Returns the function that stops it.
 */
export function printCoordinator (node: AgentNode, out: Out): () => void {
  let leader: string | undefined
  let last = ''
  const print = (term: number, reason: string | null): void => {
    // The key is what the line says: a reason names no term (a term moving while the reason
    // stays printed the same line twice as a node met an elected mesh).
    const key = JSON.stringify(leader === undefined && reason !== null ? [reason] : [leader, term])
    if (key === last) return
    last = key
    const view = node.coordinator()
    const self = leader === node.peerId
    const name = self ? node.name : leader !== undefined ? view.leaderName ?? null : null
    const text = leader === undefined
      ? `no coordinator${reason !== null ? `: ${reason}` : ` (term ${term})`}`
      : `coordinator ${self ? `${node.name} (this node)` : `${name ?? '?'} (${leader})`}, term ${term}`
    out({ event: 'coordinator', leader: leader ?? null, name, term, self, reason: leader === undefined ? reason : null }, text)
  }
  // Null while a coordinator is in office.
  const reasonNow = (): string | null => node.coordinator().reason
  const onChange = (e: CustomEvent<{ leader?: string, term: number }>): void => {
    leader = e.detail.leader
    print(e.detail.term, reasonNow())
  }
  const poll = (): void => {
    const reason = reasonNow()
    // Only the reason is polled: the event alone says who is in office (a node elected itself
    // is in office once its lease holds, which the event tells and the view does not).
    if (leader === undefined && reason !== null) print(node.coordinator().term, reason)
  }
  node.addEventListener('coordinator:change', onChange)
  poll()
  const timer = setInterval(poll, POLL_MS)
  timer.unref()
  return () => {
    clearInterval(timer)
    node.removeEventListener('coordinator:change', onChange)
  }
}
