/**
 * A request on its way out, one step after another (issue 41, "a message goes one way"):
 *
 *   check   its payload against the command's request schema, once, where the caller's payload
 *           enters (`checkRequest`, through RpcService.prepare: rpc's request, delivery's request);
 *   seal    it for its peer when asked (`outgoing`); what comes out is an `Outgoing`, and nothing
 *           after this point checks or seals the payload again: a retry sends the same one;
 *   limit   each attempt under its deadline and the caller's signal (`requestDeadline`);
 *   frame   it as an envelope, signed when asked, encoded and measured (`frameRequest`);
 *   send    and await the answer (RpcService's `exchange`: the pacer, the channel, the wire);
 *   open    the answer: a typed error, or the payload opened and checked (`openReply`).
 *
 * Pure steps, but for the deadline's timer: RpcService (index.ts) runs them around its channels
 * and pacer. Reliable delivery keeps the payload of an `Outgoing` in its outbox and makes one
 * again from the entry (`checkedOutgoing`) for each message it sends, after a restart too.
 */
import type { PrivateKey } from '@libp2p/interface'
import type { z } from 'zod'
import { encodeEnvelope, makeEnvelope, type Envelope } from '../envelope/index.js'
import { signEnvelope } from '../envelope/signature.js'
import { MessageTooLargeError, TimeoutError, ValidationError, errorFromWire } from '../core/errors.js'
import type { EncryptFor, Sealer } from '../sealing/index.js'
import { openAnswer, sealRequest } from '../sealing/direct.js'
import { abortReason } from './channel.js'
import { anyCommand, weightOf, type Command, type RequestOptions } from './commands.js'
import { describe } from './context.js'

/** A request checked and, when asked, sealed: what every attempt sends as it is. */
export interface Outgoing {
  readonly peer: string
  readonly command: Command
  /** The payload as the envelope carries it: checked by its schema, sealed for `peer` when `sealed`. */
  readonly payload: unknown
  /** Sealed (`encryptFor`): the answer comes back sealed and is opened. */
  readonly sealed: boolean
  /** Requests' worth against the peer's rate limit (the command's `weight`), for the pacer. */
  readonly weight: number
}

/**
 * A signed envelope an attempt carries instead of the one rpc builds (reliable delivery's signed
 * requests, protocols/delivery/signed-entry.ts). Delivery says per attempt, as a value, what it
 * holds; the frame step signs: rpc does not call back up into delivery halfway through a frame.
 */
export interface SignedAttempt {
  /** The envelope as it was signed (kept in the outbox). */
  readonly envelope: Envelope
  /** It may go as it is (its first attempt, in the run that signed it), unless this attempt adds trace context. */
  readonly asSigned: boolean
  /** Signs it again, with the attempt's timestamp and `perAttempt` headers; none (a service built by hand): it goes as it is. */
  readonly key?: PrivateKey
  /** The headers an attempt sets itself: the built envelope's, never the signed one's. */
  readonly perAttempt: readonly string[]
}

/** How one attempt goes out: under a given envelope id (every attempt of a reliable message shares its first), signed as delivery holds it. */
export interface AttemptAs {
  id?: string
  signed?: SignedAttempt
}

export const commandOf = (command: Command | string): Command => typeof command === 'string' ? anyCommand(command) : command

/** Reliable delivery's MSG001 has always named the issue without its path; kept, since users read it. */
export const issueOnly = (error: z.ZodError): string => error.issues[0]?.message ?? 'invalid'

/** The edge: the caller's payload checked against the command's request schema, MSG001 before anything is sent. */
export function checkRequest (cmd: Command, payload: unknown, say: (error: z.ZodError) => string = describe): unknown {
  const checked = cmd.request.safeParse(payload)
  if (!checked.success) throw new ValidationError(`request for "${cmd.name}": ${say(checked.error)}`)
  return checked.data
}

const weightFor = (cmd: Command, payload: unknown): number => (cmd.weight ?? weightOf(cmd.name))?.(payload) ?? 1

/** A checked payload ready for `peer`, sealed for it with `encryptFor` (weighed before it is sealed). */
export function outgoing (sealer: Sealer, peer: string, cmd: Command, checked: unknown, encryptFor?: EncryptFor): Outgoing {
  const weight = weightFor(cmd, checked)
  if (encryptFor === undefined) return { peer, command: cmd, payload: checked, sealed: false, weight }
  return { peer, command: cmd, payload: sealRequest(sealer, peer, cmd.name, checked, encryptFor), sealed: true, weight }
}

/** A payload checked (and sealed, `sealed`) where it entered: an outbox entry's, a replayed envelope's. */
export function checkedOutgoing (peer: string, cmd: Command, payload: unknown, sealed: boolean): Outgoing {
  return { peer, command: cmd, payload, sealed, weight: weightFor(cmd, payload) }
}

/** One attempt's deadline: its own timer and the caller's signal, as one signal. */
export interface Deadline {
  readonly signal: AbortSignal
  /** When it passes (ms since the epoch), and its length. */
  readonly due: number
  readonly timeoutMs: number
  clear: () => void
}

export function requestDeadline (out: Outgoing, timeoutMs: number, signal?: AbortSignal): Deadline {
  const deadline = new AbortController()
  const timer = setTimeout(() => { deadline.abort(new TimeoutError(`"${out.command.name}" to ${out.peer}: no answer within ${timeoutMs} ms`)) }, timeoutMs)
  const due = Date.now() + timeoutMs
  const onUserAbort = (): void => { deadline.abort(abortReason(signal as AbortSignal)) }
  signal?.addEventListener('abort', onUserAbort, { once: true })
  if (signal?.aborted === true) onUserAbort()
  return {
    signal: deadline.signal,
    due,
    timeoutMs,
    clear: () => {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onUserAbort)
    }
  }
}

/** An attempt's envelope and its encoded frame. */
export interface Framed { env: Envelope, frame: Uint8Array }

/**
 * The attempt's envelope from `source` (its `headers` carry the send span's trace context),
 * signed as delivery holds it or by the caller's `sign`, encoded; MSG002 past `maxBytes`.
 */
export function frameRequest (
  out: Outgoing, source: string, options: RequestOptions, as: AttemptAs, timeoutMs: number, headers: Record<string, string>, maxBytes: number
): Framed {
  const built = makeEnvelope({
    source,
    destination: { peer: out.peer },
    type: options.type ?? 'REQUEST',
    subject: out.command.name,
    payload: out.payload,
    ttl: timeoutMs,
    headers,
    ...(as.id !== undefined ? { id: as.id } : {}),
    ...(options.conversationId !== undefined ? { conversationId: options.conversationId } : {})
  })
  const env = as.signed !== undefined ? signedFor(as.signed, built) : options.sign !== undefined ? options.sign(built) : built
  const frame = encodeEnvelope(env)
  if (frame.byteLength > maxBytes) throw new MessageTooLargeError(frame.byteLength, maxBytes)
  return { env, frame }
}

/** The signed envelope this attempt sends: as it was signed, or signed again with the built one's timestamp and per-attempt headers. */
export function signedFor (a: SignedAttempt, built: Envelope): Envelope {
  if ((a.asSigned && built.headers.traceparent === undefined) || a.key === undefined) return a.envelope
  const headers: Record<string, string> = {}
  for (const [k, v] of Object.entries(a.envelope.headers)) if (!a.perAttempt.includes(k)) headers[k] = v
  for (const k of a.perAttempt) if (built.headers[k] !== undefined) headers[k] = built.headers[k]
  const { signature: _signature, ...rest } = a.envelope
  return signEnvelope({ ...rest, timestamp: built.timestamp, headers }, a.key)
}

/** The answer: its typed error thrown, or its payload (opened when the request went sealed) checked by the response schema. */
export function openReply (sealer: Sealer, out: Outgoing, reply: Envelope, id: string): unknown {
  if (reply.error !== undefined) throw errorFromWire(reply.error)
  const cmd = out.command
  const answer = cmd.response.safeParse(out.sealed ? openAnswer(sealer, out.peer, cmd.name, reply.payload, id) : reply.payload)
  if (!answer.success) throw new ValidationError(`answer to "${cmd.name}" from ${out.peer}: ${describe(answer.error)}`)
  return answer.data
}
