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

/** One named recipient of a reliable publish that did not acknowledge it. */
export interface TopicDeliveryFailure {
  peer: string
  code: string
  message: string
  /** The dead letter its direct copy became (undefined when dead letters are off, or it was refused). */
  deadLetterId?: string
}

/**
 * A reliable publish some named recipients never acknowledged, neither its gossip copy nor,
 * after all retries, the direct one: which, and the dead letters of their copies. The code is
 * the first failure's (COM001, COM002, RATE001 for a recipient that never subscribed).
 */
export class TopicDeliveryError extends AgentMeshError {
  readonly messageId: string
  readonly failures: TopicDeliveryFailure[]

  constructor (topic: string, messageId: string, recipients: number, failures: Array<{ peer: string, error: AgentMeshError }>) {
    const list = failures.map(f => ({
      peer: f.peer,
      code: f.error.code,
      message: f.error.message,
      ...(f.error instanceof DeliveryFailedError && f.error.deadLetterId !== undefined ? { deadLetterId: f.error.deadLetterId } : {})
    }))
    const said = list.map(f => `${f.peer} (${f.code}${f.deadLetterId !== undefined ? `, dead letter ${f.deadLetterId}` : ''})`).join(', ')
    super(failures[0].error.code, `publish ${messageId} on "${topic}": ${list.length} of ${recipients} recipients did not acknowledge it: ${said}`, { cause: failures[0].error })
    this.messageId = messageId
    this.failures = list
  }
}
