/**
 * Coordinator-signed task records (issue 13). A record's spec and submitter are the submitter's
 * word (submission.ts); its state (status, attempt, result, placement, checkpoint, losses) is the
 * coordinator's. The coordinator signs every version it sends to the voters: its identity key,
 * over the domain `agentmesh/task-record/1`, the mesh name and the canonical JSON of every field
 * of the record but `signature` (its `term` and `version` among them). A coordinator taking office
 * then checks that the signature verifies and that its signer led the term the record names
 * (term-proofs.ts, record-check.ts), so a voter, or a deposed coordinator, cannot make the next
 * one adopt a state nobody in office wrote.
 *
 * The signature is made when a record is sent (Replication.majority), not when it changes: the
 * batch of a record's changes made within REPLICATE_EVERY_MS costs one signature. The in-memory
 * record keeps the signature it was sent with; a record changed since (by any path: a patch, a
 * re-stamp, a placement setting its resources) is signed again the next time it is sent or read
 * (`fresh`), since the signed text is compared, not a flag that every writer would have to clear.
 */
import type { PrivateKey } from '@libp2p/interface'
import { canonicalJson, signatureVerifies } from '../envelope/index.js'
import { signWith } from '../core/peer-sign.js'
import { toBase64url } from '../core/base64url.js'
import type { TaskRecord } from './schemas.js'

export const TASK_RECORD_DOMAIN = 'agentmesh/task-record/1'

/** The bytes a record's signature covers, as text: the domain, the mesh, the record without its signature. */
export function recordText (mesh: string, r: TaskRecord): string {
  const { signature: _signature, ...rest } = r
  return `${TASK_RECORD_DOMAIN}\n${mesh}\n${canonicalJson(rest)}`
}

/** Whether the record's signature verifies for the peer it names (false when it has none). */
export function recordSignatureVerifies (mesh: string, r: TaskRecord): boolean {
  const s = r.signature
  return s !== undefined && signatureVerifies(s.by, Buffer.from(recordText(mesh, r), 'utf8'), s.sig)
}

/** Signs this coordinator's records, and remembers what it signed so that a changed record is signed again. */
export class RecordSealer {
  /** The text each record object was last signed over (only objects this node signed). */
  private readonly signed = new WeakMap<TaskRecord, string>()
  signatures = 0

  constructor (readonly self: string, readonly mesh: string, private readonly privateKey: PrivateKey) {}

  /** Sign `r` as it is now (unless its signature already covers exactly that); returns a copy to send. */
  seal (r: TaskRecord): TaskRecord {
    const text = recordText(this.mesh, r)
    if (this.signed.get(r) !== text || r.signature?.by !== this.self) {
      const sig = signWith(this.privateKey, Buffer.from(text, 'utf8'), 'task records')
      r.signature = { by: this.self, sig: toBase64url(sig) }
      this.signed.set(r, text)
      this.signatures++
    }
    // A copy: the record object goes on changing; what was signed must not change under the signature.
    return { ...r }
  }

  /**
   * A record about to be read by another voter: one this node signed (it led when it wrote it) is
   * signed again if it changed since; anyone else's is served as it came.
   */
  fresh (r: TaskRecord): TaskRecord { return this.signed.has(r) ? this.seal(r) : r }
}
