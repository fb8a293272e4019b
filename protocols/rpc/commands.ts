import { z } from 'zod'
import type { Envelope } from '../envelope/index.js'

/**
 * A command with typed request and response payloads. Both ends validate with the same zod
 * schemas: the caller before sending (MSG001 without touching the network), the handler's node
 * on receipt (an MSG001 error answer), and the caller again on the reply.
 */
export interface Command<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly name: string
  readonly request: Req
  readonly response: Res
}

export function defineCommand<Req extends z.ZodType, Res extends z.ZodType> (
  name: string, schemas: { request: Req, response: Res }
): Command<Req, Res> {
  return { name, request: schemas.request, response: schemas.response }
}

/** What a handler knows about the request besides its payload. */
export interface HandlerContext {
  /** The authenticated peer id of the sender (Noise), never a claim from the payload. */
  readonly peer: string
  readonly envelope: Envelope
  /** Fires when the caller's deadline passes or its connection closes. */
  readonly signal: AbortSignal
}

export type Handler<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> =
  (request: z.output<Req>, ctx: HandlerContext) => Promise<z.input<Res>> | z.input<Res>

export interface RequestOptions {
  /** Cancels the request; without one, the node's default deadline (30 s) applies. */
  signal?: AbortSignal
  /** Deadline in ms, used when no signal is given. */
  timeoutMs?: number
  headers?: Record<string, string>
  /** REQUEST by default; COMMAND for an instruction that is acknowledged rather than answered. */
  type?: 'REQUEST' | 'COMMAND' | 'QUERY' | 'PROPOSE' | 'INFORM' | 'ACCEPT' | 'REJECT' | 'NOTIFICATION'
  conversationId?: string
  /** Times a RATE001 answer is retried after a short backoff, within the deadline (default RATE_LIMIT_RETRIES; 0 = none). */
  rateLimitRetries?: number
}

/** The untyped command used when a plain string names the command. */
export const anyCommand = (name: string): Command => ({ name, request: z.unknown(), response: z.unknown() })
