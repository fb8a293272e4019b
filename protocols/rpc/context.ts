/** A handler's context (HandlerContext) and how a zod failure is said in one line. */
import type { z } from 'zod'
import type { Envelope } from '../envelope/index.js'
import { AbortError, TimeoutError } from '../core/errors.js'
import type { HandlerContext } from './commands.js'

/**
 * Who a request came from, as a handler's context needs it: the authenticated peer, and a signal
 * aborted when the way back to it closes (an inbound stream's channel, or this node stopping for
 * a request it made to itself).
 */
export interface Caller {
  readonly remotePeer: string
  readonly closeSignal: AbortSignal
}

/** A handler's context; its signal (and the timer behind it) is made only if the handler asks. */
export class Context implements HandlerContext {
  readonly peer: string
  readonly envelope: Envelope
  readonly sealed?: boolean
  private readonly channel: Caller
  private controller?: AbortController
  private timer?: ReturnType<typeof setTimeout>
  private onClosed?: () => void
  private disposed = false

  constructor (env: Envelope, channel: Caller, sealed = false) {
    this.envelope = env
    if (sealed) this.sealed = true
    this.peer = channel.remotePeer
    this.channel = channel
  }

  get signal (): AbortSignal {
    // Read after the request was answered (a handler's work left running): the request is over,
    // and a listener added to the channel now would stay until the channel closes.
    if (this.disposed && this.controller === undefined) this.controller = abortedController()
    if (this.controller === undefined) {
      const controller = new AbortController()
      this.controller = controller
      const closed = this.channel.closeSignal
      if (closed.aborted) controller.abort(closed.reason)
      else {
        this.onClosed = () => { controller.abort(closed.reason) }
        closed.addEventListener('abort', this.onClosed, { once: true })
      }
      const ttl = this.envelope.ttl
      if (ttl !== undefined) {
        const left = this.envelope.timestamp + ttl - Date.now()
        this.timer = setTimeout(() => { controller.abort(new TimeoutError('the caller\'s deadline passed')) }, Math.max(0, left))
      }
    }
    return this.controller.signal
  }

  /** True once the deadline timer behind `signal` has fired. */
  get expired (): boolean {
    return this.controller?.signal.reason instanceof TimeoutError
  }

  dispose (): void {
    this.disposed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    // The channel outlives its requests: leave no listener behind on it.
    if (this.onClosed !== undefined) this.channel.closeSignal.removeEventListener('abort', this.onClosed)
  }
}

function abortedController (): AbortController {
  const c = new AbortController()
  c.abort(new AbortError('the request was answered'))
  return c
}

export function describe (error: z.ZodError): string {
  const issue = error.issues[0]
  const at = issue.path.length > 0 ? issue.path.join('.') : '(payload)'
  return `${at}: ${issue.message}`
}
