/**
 * A publish's envelope, built and checked before anything is sent (pubsub/index.ts sends it):
 * the payload parsed by its topic's schema, sealed when `encryptFor` asks, signed when `sign`
 * does, and measured against the largest message a node takes.
 */
import type { z } from 'zod'
import { makeEnvelope, splitJson, validateEnvelope, type Envelope, type SplitJson } from '../envelope/index.js'
import { MessageTooLargeError, ValidationError } from '../core/errors.js'
import { SpanKind, startSendSpan } from '../envelope/trace.js'
import { noSealer, type EncryptFor, type Sealer } from '../sealing/index.js'
import { grouped, type Grouped } from './sealed-batch.js'
import type { PublishOptions } from './publish-options.js'
import { toTopic, type Topic } from './topics.js'

/** A publish's envelope, checked and encoded, not yet sent. */
export interface Prepared {
  topic: Topic
  env: Envelope
  /** Its JSON, written once: in two parts (envelope/shared-head.ts), or as queued when `grouped`. */
  json: SplitJson | string
  size: number
  /** The payload as given (parsed by the topic's schema); `env.payload` is sealed when `sealedToSelf` is set. */
  value: unknown
  /** Sealed (`encryptFor`): whether this node is among the recipients. */
  sealedToSelf?: boolean
  /** Sealed with its batch (at-most-once `encryptFor`, sealed-batch.ts): `env.payload` is a placeholder until then. */
  grouped?: Grouped
}

/** What building an envelope needs of the node: who publishes, its sealer, the size limit. */
export interface PrepareContext { self: string, sealer?: Sealer, maxMessageBytes: number }

export function preparePublish<S extends z.ZodType> (
  ctx: PrepareContext, topic: Topic<S> | string, payload: z.input<S>, options: PublishOptions = {}
): Prepared {
  const t = toTopic(topic as Topic | string)
  let value: unknown = payload
  if (t.schema !== undefined) {
    const r = t.schema.safeParse(payload)
    if (!r.success) throw new ValidationError(`payload for topic "${t.name}": ${r.error.issues[0].path.join('.')} ${r.error.issues[0].message}`)
    value = r.data
  }
  const headers: Record<string, string> = { ...options.headers }
  const { span } = startSendSpan(`agentmesh publish ${t.name}`, SpanKind.PRODUCER, { 'agentmesh.peer_id': ctx.self, 'agentmesh.topic': t.name }, headers)
  span.end() // the span marks the send; delivery is each receiver's span
  // At most once: sealed with the batch it goes in (one AEAD per batch); reliable: alone, now (its envelope also travels alone).
  const inGroup = options.encryptFor !== undefined && (options.delivery === undefined || options.delivery === 'at-most-once')
  const group = inGroup ? (ctx.sealer ?? noSealer).forGroup(t.name, options.encryptFor as EncryptFor) : undefined
  const sealed = options.encryptFor !== undefined && !inGroup ? (ctx.sealer ?? noSealer).seal(t.name, value, options.encryptFor) : undefined
  const built = makeEnvelope({
    source: ctx.self,
    destination: { topic: t.name },
    type: options.type ?? 'EVENT',
    subject: t.name,
    payload: sealed?.payload ?? value,
    headers,
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    ...(options.ttl !== undefined ? { ttl: options.ttl } : {}),
    ...(options.correlationId !== undefined ? { correlationId: options.correlationId } : {}),
    ...(options.conversationId !== undefined ? { conversationId: options.conversationId } : {})
  })
  if (options.sign !== undefined && group !== undefined) throw new ValidationError('a signed publish cannot be sealed in a group: give it a reliable delivery, or no encryptFor')
  const env = options.sign !== undefined ? options.sign(built) : built
  validateEnvelope(env) // R-MSG: on send as on receipt; catches bad headers and the like
  if (group !== undefined) {
    const g = grouped(env, value, group.recipients)
    if (g.bound > ctx.maxMessageBytes) throw new MessageTooLargeError(g.bound, ctx.maxMessageBytes)
    return { topic: t, env: g.env, json: g.json, size: g.size, value, sealedToSelf: group.toSelf, grouped: g }
  }
  const json = splitJson(env)
  // joinJson's length (the two parts trade a brace each for a comma: one byte fewer) and the wire byte.
  const size = Buffer.byteLength(json.shared) + Buffer.byteLength(json.own)
  if (size > ctx.maxMessageBytes) throw new MessageTooLargeError(size, ctx.maxMessageBytes)
  return { topic: t, env, json, size, value, ...(sealed !== undefined ? { sealedToSelf: sealed.toSelf } : {}) }
}
