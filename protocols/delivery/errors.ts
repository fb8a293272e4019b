/** What a reliable send's caller gets when the message was given up. */
import { AgentMeshError } from '../core/errors.js'

/**
 * A reliable message given up after its last attempt: the code and message of the last attempt's
 * error (COM001, COM002, RATE001), how many attempts were made, and the dead letter it became
 * (undefined when dead letters are off: then it was logged and counted only).
 */
export class DeliveryFailedError extends AgentMeshError {
  readonly attempts: number
  readonly messageId: string
  readonly deadLetterId?: string

  constructor (last: AgentMeshError, info: { attempts: number, messageId: string, deadLetterId?: string | undefined }) {
    const kept = info.deadLetterId !== undefined ? `dead letter ${info.deadLetterId}` : 'not kept (dead letters off)'
    super(last.code, `given up after ${info.attempts} attempts: ${last.message}; ${kept}`, { cause: last })
    this.attempts = info.attempts
    this.messageId = info.messageId
    if (info.deadLetterId !== undefined) this.deadLetterId = info.deadLetterId
  }
}
