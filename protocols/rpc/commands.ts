import { z } from 'zod'
import type { DeliveryGuarantee } from '../envelope/delivery.js'
import type { Envelope } from '../envelope/index.js'
import type { EncryptFor } from '../sealing/index.js'

/**
 * A command with typed request and response payloads. Both ends validate with the same zod
 * schemas: the caller before sending (MSG001 without touching the network), the handler's node
 * on receipt (an MSG001 error answer), and the caller again on the reply.
 */
export interface Command<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> {
  readonly name: string
  readonly request: Req
  readonly response: Res
  /**
   * How many requests' worth one request is against the sender's rate limit (default 1). A
   * command that carries a batch of items says how many, from the payload as received (before
   * its schema: the peer wrote it, so the answer is clamped): batching must not multiply what a
   * peer may make this node do in a second.
   */
  readonly weight?: (payload: unknown) => number
}

/**
 * The weights of the commands defined in this process, by name: a command called by its name
 * alone (reliable delivery's resends and replays) is charged by the caller's pacer (pacer.ts) as
 * the peer charges it.
 */
const WEIGHTS = new Map<string, (payload: unknown) => number>()

export function defineCommand<Req extends z.ZodType, Res extends z.ZodType> (
  name: string, schemas: { request: Req, response: Res, weight?: (payload: unknown) => number }
): Command<Req, Res> {
  if (schemas.weight !== undefined) WEIGHTS.set(name, schemas.weight)
  return { name, request: schemas.request, response: schemas.response, ...(schemas.weight !== undefined ? { weight: schemas.weight } : {}) }
}

/** The weight of a command known in this process by `name` (defineCommand), if it has one. */
export const weightOf = (name: string): ((payload: unknown) => number) | undefined => WEIGHTS.get(name)

/** What a handler knows about the request besides its payload. */
export interface HandlerContext {
  /** The authenticated peer id of the sender (Noise), never a claim from the payload. */
  readonly peer: string
  readonly envelope: Envelope
  /** Fires when the caller's deadline passes or its connection closes. */
  readonly signal: AbortSignal
  /** It came sealed (`encryptFor`) and this node opened it: the request and `envelope.payload` are the plain payload; the answer goes back sealed. */
  readonly sealed?: boolean
}

export type Handler<Req extends z.ZodType = z.ZodType, Res extends z.ZodType = z.ZodType> =
  (request: z.output<Req>, ctx: HandlerContext) => Promise<z.input<Res>> | z.input<Res>

export interface RequestOptions {
  /** Cancels the request; without one, the node's default deadline (30 s) applies. */
  signal?: AbortSignal
  /** Deadline in ms, used when no signal is given. */
  timeoutMs?: number
  headers?: Record<string, string>
  /** Signs the envelope once built (signature.ts `signEnvelope`): the gateway signs what it sends on a client's behalf. */
  sign?: (env: Envelope) => Envelope
  /** REQUEST by default; COMMAND for an instruction that is acknowledged rather than answered. */
  type?: 'REQUEST' | 'COMMAND' | 'QUERY' | 'PROPOSE' | 'INFORM' | 'ACCEPT' | 'REJECT' | 'NOTIFICATION'
  conversationId?: string
  /**
   * Times a RATE001 answer that names no rate (another implementation's) is retried within the
   * deadline (default RATE_LIMIT_RETRIES); one that names its rate is retried in its slot of that
   * pace while the slot comes before the deadline (at most RATE_PACED_RETRIES times). 0: none, and
   * the call is not paced either: the caller handles RATE001 itself.
   */
  rateLimitRetries?: number
  /** The guarantee (protocols/delivery/constants.ts); default: the config's delivery.guarantee. */
  delivery?: DeliveryGuarantee
  /** exactly-once: the key a duplicate is recognised by (default: the message id, kept across retries). */
  idempotencyKey?: string
  /**
   * at-least-once / exactly-once: how long the message is worth delivering, from the call, across
   * its retries and a restart of this node; past it, it is dead-lettered `expired` and the caller
   * gets DeliveryFailedError (COM001). Default: none (the retry policy alone bounds it).
   */
  ttlMs?: number
  /**
   * Seal the payload for the destination (`[peer]`, its peer id alone; protocols/sealing/direct.ts):
   * the outbox, dead letters and anyone who passes the envelope on hold only ciphertext, and the
   * answer comes back sealed. Another peer or a role is refused (MSG001).
   */
  encryptFor?: EncryptFor
}

/**
 * Who may call a command (`handle(cmd, h, { allow })`, issue 13). Each list is any-of: the
 * caller needs one of the roles; and one of the capabilities. When both are given the caller
 * needs both (a role of the list and a capability of the list): a second list narrows, never
 * widens. Roles and capabilities are, in a closed mesh, those of the caller's admitted
 * credential; in an open mesh, what the caller's agent card claims (open mode trusts claims).
 */
export interface Allow {
  roles?: readonly string[]
  capabilities?: readonly string[]
}

export interface HandleOptions {
  /** Refuse callers without these with SEC002 (ForbiddenError), before the schema or the handler runs. */
  allow?: Allow
}

/** What a caller holds, as the node knows it (credential or card). */
export interface Grants { roles: readonly string[], capabilities: readonly string[] }

/** Whether a caller with `g` (undefined: nothing known of it) may call a command that allows `a`. */
export function allows (a: Allow, g: Grants | undefined): boolean {
  if (a.roles !== undefined && !a.roles.some(r => g?.roles.includes(r) === true)) return false
  if (a.capabilities !== undefined && !a.capabilities.some(c => g?.capabilities.includes(c) === true)) return false
  return true
}

/** An `allow` that lets nobody or everybody through is a mistake, refused when the handler is registered. */
export function checkAllow (name: string, a: Allow): string | undefined {
  if (a.roles === undefined && a.capabilities === undefined) return `allow of "${name}" names no roles and no capabilities`
  if (a.roles?.length === 0 || a.capabilities?.length === 0) return `allow of "${name}" has an empty list: it would refuse every caller`
  return undefined
}

/** "roles ops|admin and capabilities deploy", for SEC002's message. */
export function describeAllow (a: Allow): string {
  const roles = a.roles !== undefined ? `roles ${a.roles.join('|')}` : ''
  const caps = a.capabilities !== undefined ? `capabilities ${a.capabilities.join('|')}` : ''
  return [roles, caps].filter(x => x !== '').join(' and ')
}

/** One schema for every untyped command: building one per request was 2.7% of a request's CPU (zod's constructors). */
const ANY = z.unknown()
/** The untyped command used when a plain string names the command. */
export const anyCommand = (name: string): Command => ({ name, request: ANY, response: ANY })
