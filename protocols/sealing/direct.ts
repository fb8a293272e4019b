/**
 * Sealed direct messages (`encryptFor` on `request` and `send`, issue 13). Noise already hides a
 * direct stream end to end, but a reliable message's envelope is kept in the sender's outbox,
 * may become a dead letter (kept, shown, replayed) and a gateway passes it on: there only its
 * recipient must be able to read it. So the payload is sealed before the envelope is made, with
 * version 2's single form and its key's wraps in every payload (`sealAlone`): a retry, a resend
 * after a restart or a replayed dead letter opens by itself, whatever its recipient missed.
 *
 * - The recipient is the destination and no one else: an `encryptFor` naming another peer or a
 *   role is refused (MSG001), since a direct message reaches one peer and a payload sealed for
 *   another would be one its destination cannot open.
 * - The answer to a sealed request is sealed back to the requester, always (null included).
 * - Requests and answers have their own binding subjects (`rpc request <command>`, `rpc answer
 *   <command>`): a topic name holds no space, so neither opens as a topic's payload, nor the
 *   reverse, nor an answer as a request.
 */
import { SealedError, ValidationError } from '../core/errors.js'
import { isSealed, type EncryptFor, type Opened, type Sealer } from './index.js'
import type { SealedSingle } from './shape.js'

export const requestSubject = (command: string): string => `rpc request ${command}`
export const answerSubject = (command: string): string => `rpc answer ${command}`

/** The recipients of a direct message's `encryptFor`: its destination alone; ValidationError (MSG001) for anything else. */
export function directRecipients (to: EncryptFor, peer: string): readonly string[] {
  if (!Array.isArray(to)) {
    throw new ValidationError('encryptFor on a direct message (request, send) names its destination\'s peer id, not a role: the message reaches that peer only, and no other could read it')
  }
  const list = to as readonly unknown[]
  if (list.length === 0 || list.some(p => p !== peer)) {
    throw new ValidationError(`encryptFor on a direct message to ${peer} may name that peer only (got ${JSON.stringify(list).slice(0, 200)}): the destination must be able to open it, and no one else receives it`)
  }
  return [peer]
}

/** A request's payload sealed for its destination `peer` (after its schema check, before its envelope is made). */
export function sealRequest (sealer: Sealer, peer: string, command: string, payload: unknown, to: EncryptFor): SealedSingle {
  return sealer.sealAlone(requestSubject(command), payload, directRecipients(to, peer))
}

/**
 * A received request's payload opened, when it came sealed: undefined when it did not (it is
 * taken as it is); a refusal (SEC003) when it is not for this node or does not open.
 */
export function openRequest (sealer: Sealer, source: string, command: string, payload: unknown, id: string): Opened | undefined {
  if (!isSealed(payload)) return undefined
  return sealer.open(requestSubject(command), source, payload, id)
}

/** The answer to a sealed request, sealed back to its requester. */
export function sealAnswer (sealer: Sealer, requester: string, command: string, payload: unknown): SealedSingle {
  return sealer.sealAlone(answerSubject(command), payload ?? null, [requester])
}

/** The answer to a sealed request, opened; SealedError (SEC003) when it came unsealed or does not open. */
export function openAnswer (sealer: Sealer, peer: string, command: string, payload: unknown, id: string): unknown {
  if (!isSealed(payload)) throw new SealedError(`the answer of ${peer} to the sealed request "${command}" came unsealed: refused (an answer to a sealed request is sealed back)`)
  const r = sealer.open(answerSubject(command), peer, payload, id)
  if (!r.ok) throw r.error
  return r.value
}
