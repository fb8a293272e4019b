/**
 * Signed task submissions (issue 13, "signed messages"). A task's record outlives the stream
 * that brought it: it is stored on the voters and read back by whichever coordinator takes office
 * next, so Noise's word on who sent it is gone by then, and a voter (or a deposed coordinator
 * replicating to them) could alter the spec or the submitter, or invent a task, and have the next
 * coordinator run it. So the submitter signs each task as an envelope (subject `task.submit`, the
 * spec as payload), the coordinator checks the signature against the authenticated peer before
 * it records the task, the record keeps the signature, and a coordinator taking office drops any
 * record whose submission does not verify.
 *
 * What the signature does not cover: the record's state (status, attempt, result), which is the
 * coordinator's word, not the submitter's (see docs/security.md, "Signed messages").
 */
import { randomUUID } from 'node:crypto'
import type { PrivateKey } from '@libp2p/interface'
import { BadSignatureError } from '../core/errors.js'
import { noAudit, type AuditSink } from '../core/audit.js'
import { signEnvelope, signatureVerifies, signedBytes, signedText, type Envelope } from '../envelope/index.js'
import type { SubmissionProof, TaskRecord, TaskSpec } from './schemas.js'

export const SUBMISSION_SUBJECT = 'task.submit'
/** Where a submission goes is the mesh's task table, whichever coordinator holds it: fixed, so it can be rebuilt. */
const SUBMISSION_DESTINATION = { topic: '$agentmesh/task/submit' }

/** The submission envelope of a task, rebuilt from what a record keeps (its proof without the signature signs it). */
export function submissionEnvelope (submitter: string, spec: TaskSpec, proof: { id: string, timestamp: number, signature?: string }): Envelope {
  return {
    version: 1,
    id: proof.id,
    timestamp: proof.timestamp,
    source: submitter,
    destination: SUBMISSION_DESTINATION,
    type: 'COMMAND',
    subject: SUBMISSION_SUBJECT,
    payload: spec,
    headers: {},
    priority: 'normal',
    ...(proof.signature !== undefined ? { signature: proof.signature } : {})
  }
}

/** The submitter's signature of one task (`privateKey` is the submitter's identity key). */
export function signSubmission (spec: TaskSpec, submitter: string, privateKey: PrivateKey, now = Date.now()): SubmissionProof {
  const env = signEnvelope(submissionEnvelope(submitter, spec, { id: randomUUID(), timestamp: now }), privateKey)
  return { id: env.id, timestamp: env.timestamp, signature: env.signature as string }
}

/** Why a submission does not verify for `submitter`, or undefined when it does. */
export function submissionFault (submitter: string, spec: TaskSpec, proof: SubmissionProof | undefined): string | undefined {
  if (proof === undefined) return `task ${spec.task_id} is not signed by its submitter`
  const bytes = signedBytes(submissionEnvelope(submitter, spec, proof))
  return signatureVerifies(submitter, bytes, proof.signature) ? undefined : `task ${spec.task_id}: the submission's signature does not verify for ${submitter}`
}

/**
 * A submitter's tasks, checked before the coordinator records them: every one signed by
 * `submitter` (the authenticated peer), the signatures in the order of the tasks. BadSignatureError (SEC004) otherwise.
 */
export function checkSubmissions (submitter: string, specs: readonly TaskSpec[], proofs: readonly SubmissionProof[] | undefined): void {
  if (proofs === undefined || proofs.length !== specs.length) {
    throw new BadSignatureError(`${specs.length} tasks came with ${proofs?.length ?? 0} signatures: every task must be signed by its submitter`)
  }
  specs.forEach((spec, i) => {
    const fault = submissionFault(submitter, spec, proofs[i])
    if (fault !== undefined) throw new BadSignatureError(fault)
  })
}

/**
 * The check a coordinator taking office makes on every record before it acts on it: the record
 * is dropped unless its submission verifies for its submitter. Records read from several voters
 * repeat the same submissions; one already verified (same signature, same signed text) is not
 * verified again. Each refusal, of a record or of a submission, is reported (counted by the caller)
 * and audited `signature.refused`.
 */
export class SubmissionCheck {
  /** Signature -> the signed text it verified, for this takeover. */
  private readonly verified = new Map<string, string>()
  refused = 0

  constructor (
    /** Counts a refusal: `message` is `task-submit` or `task-record`. */
    private readonly report: (from: string, message: string, taskId?: string) => void,
    private readonly audit: AuditSink = noAudit
  ) {}

  /** checkSubmissions, with a refusal reported and audited before it is thrown (SEC004). */
  submissions (from: string, specs: readonly TaskSpec[], proofs: readonly SubmissionProof[] | undefined): void {
    try {
      checkSubmissions(from, specs, proofs)
    } catch (err) {
      this.refuse(from, 'task-submit', (err as Error).message)
      throw err
    }
  }

  private refuse (from: string, what: 'task-submit' | 'task-record', reason: string, detail: Record<string, string> = {}, correlationId?: string): void {
    this.refused++
    this.report(from, what, detail.task_id)
    this.audit.record({ kind: 'signature.refused', peer: from, code: 'SEC004', reason, ...(correlationId !== undefined ? { correlationId } : {}), detail: { what, ...detail } })
  }

  /** A record whose state does not verify (record-check.ts): counted and audited as one whose submission does not. */
  refuseRecord (from: string, r: TaskRecord, reason: string): void {
    this.refuse(from, 'task-record', reason, { task_id: r.spec.task_id, submitter: r.submitter, part: 'state' })
  }

  /** Whether `r` (held by `from`) may be acted on. */
  accepts (r: TaskRecord, from: string): boolean {
    const proof = r.submission
    if (proof !== undefined) {
      const text = signedText(submissionEnvelope(r.submitter, r.spec, proof))
      if (this.verified.get(proof.signature) === text) return true
      if (signatureVerifies(r.submitter, Buffer.from(text, 'utf8'), proof.signature)) {
        this.verified.set(proof.signature, text)
        return true
      }
    }
    const reason = submissionFault(r.submitter, r.spec, proof) ?? 'the submission does not verify'
    this.refuse(from, 'task-record', reason, { task_id: r.spec.task_id, submitter: r.submitter }, proof?.id)
    return false
  }

  /** Forget what was verified (after a takeover: the next one reads afresh). */
  clear (): void { this.verified.clear() }
}
