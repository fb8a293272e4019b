/**
 * Every refusal of the task protocol that a peer can cause, as the audit trail keeps it (issue
 * 43: "every refusal on record"). The scheduler, the replica and the executor tell refusals as
 * 'rejected' events; the task service hands each to this function and records what it returns.
 */
import type { AuditEvent } from '../core/audit.js'

/** What each refusal reason of the task protocol answers the peer (the error it is sent). */
const REFUSAL_CODES: Record<string, string> = { 'not-holder': 'TSK004', 'stale-term': 'CRD001', 'not-coordinator': 'CRD002', 'not-a-voter': 'CRD002' }

/**
 * A task refusal as the audit trail keeps it: reading records (task-records, queries) is a
 * read; a report for an attempt the peer does not hold (a forged completion) a report; any other
 * message from a peer that is not the coordinator in office (run, stop, held, replicate, update)
 * or from no party to the task (control) a control. The replica's records go only to a
 * coordinator taking office: the code is CRD002 whether the reader is no voter or its term stale.
 */
export function refusalAudit (d: { from: string, message: string, reason: string, correlationId?: string, taskId?: string }): AuditEvent | undefined {
  if (d.reason === 'SEC004') return undefined
  const read = d.message === 'task-records' || d.message.startsWith('task-query')
  const kind = read ? 'task.read.refused' : d.message === 'task-report' ? 'task.report.refused' : 'task.control.refused'
  // A reason that is itself a code (a control refused with TSK007 or another) is that code.
  const code = d.message === 'task-records' ? 'CRD002' : REFUSAL_CODES[d.reason] ?? (/^[A-Z]{3}\d{3}$/.test(d.reason) ? d.reason : undefined)
  const reason = d.reason === 'TSK007' ? `${d.from} is no party to the task` : d.reason
  return {
    kind,
    peer: d.from,
    ...(d.correlationId !== undefined ? { correlationId: d.correlationId } : {}),
    ...(code !== undefined ? { code } : {}),
    reason,
    detail: { message: d.message, ...(d.taskId !== undefined ? { task_id: d.taskId } : {}) }
  }
}
