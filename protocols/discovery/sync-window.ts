/**
 * What one full member exchange carries (members.ts): this node's own statement first (a
 * newcomer's first exchange must say who this node is, whatever the window), then the others'.
 * Over the exchange's limit (a closed mesh past ~760 agents: statements carry credentials), a
 * random window of them, not always the first heard: what gossip missed of the rest is repaired too.
 */
import { statementSize, SYNC_MAX_STATEMENTS, type SignedStatement } from './member-wire.js'
import { SYNC_MAX_BYTES } from './constants.js'

export function syncWindow (own: SignedStatement[], others: SignedStatement[]): SignedStatement[] {
  let size = 0
  for (const s of others) size += statementSize(s)
  const start = others.length >= SYNC_MAX_STATEMENTS || size > SYNC_MAX_BYTES ? Math.floor(Math.random() * others.length) : 0
  const out: SignedStatement[] = []
  let bytes = 0
  for (const s of [...own, ...others.slice(start), ...others.slice(0, start)]) {
    bytes += statementSize(s)
    if (out.length >= SYNC_MAX_STATEMENTS || bytes > SYNC_MAX_BYTES) break
    out.push(s)
  }
  return out
}
