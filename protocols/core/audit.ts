/**
 * The audit trail's contract (R-SEC audit): what a protocol reports when it admits or refuses a
 * peer, sees a credential or key change, refuses a directive, a task control, a vote or a command,
 * or when a peer breaks a limit. node/audit.ts writes these as JSON lines and serves `/audit`;
 * protocols only see this interface, so they stay below the node layer.
 */

/** What happened, by kind: the first word says the area, the second the outcome. */
export type AuditKind =
  | 'admission.admitted' | 'admission.refused' | 'admission.expelled' | 'admission.expired'
  | 'credential.loaded' | 'credential.expiring' | 'credential.expired' | 'revocations.accepted' | 'revocations.refused'
  | 'key.rotated' | 'key.received' | 'keyring.changed' | 'keyring.refused'
  | 'directive.refused' | 'task.control.refused' | 'task.read.refused' | 'task.report.refused' | 'vote.refused' | 'resource.refused'
  | 'message.refused'
  | 'command.forbidden' | 'signature.refused' | 'sealed.refused'
  | 'limit.exceeded' | 'limit.disconnected' | 'gossip.graylisted'

export interface AuditEvent {
  kind: AuditKind
  /** The remote peer the event is about, when there is one. */
  peer?: string
  /** The envelope id or correlation id of the message concerned, when there is one. */
  correlationId?: string
  /** The error code of a refusal (SEC001, CRD002, TSK007, RATE001, ...). */
  code?: string
  /** A short reason in words. */
  reason?: string
  /** A few more facts (command, term, task id, limit name): small, flat values only. */
  detail?: Record<string, string | number | boolean>
}

/** Where protocols report audit events; a sink never throws and never blocks. */
export interface AuditSink {
  record: (event: AuditEvent) => void
}

/** The sink of nodes and tests that keep no audit trail. */
export const noAudit: AuditSink = { record: () => {} }

/**
 * Audit pacing for refusals that come by the thousand (limit breaches): per peer, the first
 * refusal in a second is audited with the count refused since the last audited one; the rest of
 * the second only count. Bounded: past 1,024 peers, those quiet for a second are forgotten.
 */
export class AuditPacer {
  private readonly last = new Map<string, { at: number, refused: number }>()
  constructor (private readonly everyMs = 1_000, private readonly maxPeers = 1_024) {}

  /** Undefined when this refusal only counts; else audit it: `refused` so far, `sinceMs` since the last audited (Infinity: none). */
  pace (peer: string, now: number): { refused: number, sinceMs: number } | undefined {
    const last = this.last.get(peer)
    if (last !== undefined && now - last.at < this.everyMs) { last.refused++; return undefined }
    if (this.last.size >= this.maxPeers) for (const [p, a] of this.last) if (now - a.at > this.everyMs) this.last.delete(p)
    this.last.set(peer, { at: now, refused: 0 })
    return { refused: (last?.refused ?? 0) + 1, sinceMs: last === undefined ? Infinity : now - last.at }
  }
}
