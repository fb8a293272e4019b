/**
 * The check a coordinator taking office makes on the state of every record before it merges it
 * (record-seal.ts, term-proofs.ts): the record carries a coordinator's signature that verifies,
 * and its signer led the term the record names. A record that fails is dropped before the merge,
 * so an altered copy with a higher version never displaces the true one; it is counted
 * (`coordination_rejected_total{message="task-record",reason="SEC004"}`) and audited
 * `signature.refused`, as a record whose submission does not verify is (submission.ts).
 *
 * Records without a signature were written before records were signed. One in this node's own
 * replica is taken (its own disk: trusted as much as its key) and signed by the re-stamp that
 * follows the read; one held by another voter is refused, since anyone can strip a signature.
 * And a signed copy always wins a merge against an unsigned one (table.ts, `newer`).
 */
import type { RecordSealer } from './record-seal.js'
import { recordText } from './record-seal.js'
import { signatureVerifies } from '../envelope/index.js'
import type { TermProofs } from './term-proofs.js'
import type { TaskRecord } from './schemas.js'

/** What signs this coordinator's records and proves others' terms: made by the TaskService, shared by the scheduler's parts. */
export interface RecordTrust {
  mesh: string
  sealer: RecordSealer
  proofs: TermProofs
}

export class RecordCheck {
  /** Signature -> the text it verified, for this takeover (voters repeat the same records). */
  private readonly verified = new Map<string, string>()

  constructor (
    private readonly self: string,
    private readonly trust: RecordTrust,
    /** Counts and audits a refusal (SubmissionCheck.refuseRecord). */
    private readonly refuse: (from: string, r: TaskRecord, reason: string) => void
  ) {}

  /** Whether the state of `r` (held by `from`) may be merged by this node, in office in `current`. */
  accepts (r: TaskRecord, from: string, current: number): boolean {
    const fault = this.fault(r, from, current)
    if (fault === undefined) return true
    this.refuse(from, r, fault.reason)
    return false
  }

  /**
   * The same check without a refusal for a term not proven yet (`unproven`: its signature
   * verifies, but no certificate offered or kept so far shows its signer led its term).
   */
  check (r: TaskRecord, from: string, current: number): 'accepted' | 'unproven' | 'refused' {
    const fault = this.fault(r, from, current)
    if (fault === undefined) return 'accepted'
    if (fault.unproven) return 'unproven'
    this.refuse(from, r, fault.reason)
    return 'refused'
  }

  private fault (r: TaskRecord, from: string, current: number): { reason: string, unproven: boolean } | undefined {
    const s = r.signature
    const what = `task ${r.spec.task_id} version ${r.version} of term ${r.term ?? 0}`
    if (s === undefined) return from === this.self ? undefined : { reason: `${what} carries no coordinator's signature`, unproven: false }
    const text = recordText(this.trust.mesh, r)
    if (this.verified.get(s.sig) !== text) {
      if (!signatureVerifies(s.by, Buffer.from(text, 'utf8'), s.sig)) return { reason: `${what}: its signature does not verify for ${s.by}`, unproven: false }
      this.verified.set(s.sig, text)
    }
    const unproven = this.trust.proofs.fault(r.term ?? 0, s.by, current)
    // A term at or past this node's own can never be proven to it: that is a fault for good.
    return unproven !== undefined ? { reason: `${what}: ${unproven}`, unproven: (r.term ?? 0) < current } : undefined
  }

  /** After the read: the next takeover checks afresh. */
  clear (): void { this.verified.clear(); this.trust.proofs.clear() }
}
