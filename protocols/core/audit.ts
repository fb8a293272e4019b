/**
 * The audit trail's contract (R-SEC audit): what a protocol reports when it admits or refuses a
 * peer, sees a credential or key change, refuses a directive, a task control, a vote or a command,
 * or when a peer breaks a limit. node/audit.ts writes these as JSON lines and serves `/audit`;
 * protocols only see this interface, so they stay below the node layer.
 */

/** What happened, by kind: the first word says the area, the second the outcome. */
export type AuditKind =
  | 'admission.admitted' | 'admission.refused' | 'admission.expelled' | 'admission.expired'
  | 'credential.loaded' | 'credential.expiring' | 'credential.expired' | 'revocations.accepted'
  | 'key.rotated' | 'key.received'
  | 'directive.refused' | 'task.control.refused' | 'task.read.refused' | 'vote.refused' | 'resource.refused'
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
