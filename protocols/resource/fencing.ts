/**
 * Fencing as the protocols that act through the coordinator report it: the office admits a
 * message of a term from a peer or not; when not, an older term is a deposed coordinator
 * (`stale-term`, CRD001) and anything else is a claim this node cannot check (`not-coordinator`,
 * CRD002). Here, below the task protocol, so tasks and resources share it.
 */
import type { Office } from '../coordination/office.js'

export type Verdict = 'ok' | 'stale-term' | 'not-coordinator'

export function verdict (office: Office, term: number, from: string): Verdict {
  if (office.admits(term, from)) return 'ok'
  return term < office.term ? 'stale-term' : 'not-coordinator'
}
