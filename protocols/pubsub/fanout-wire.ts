/**
 * Frames of /agentmesh/fanout/1.0.0 (docs/wire-format.md, "The fan-out stream"): each node opens
 * one stream to each directly connected peer that speaks the protocol and writes on it, as on
 * /agentmesh/rpc, frames of an unsigned varint length and that many bytes. A frame's first byte
 * says what it is:
 * - KIND_BATCH: the topic (varint length, UTF-8), then a gossip batch exactly as gossip carries
 *   it (WIRE_JSON_V1 and a JSON array of envelopes, or a batch with sealed groups: 0x04 with its
 *   binary sections, envelope/sections.ts), or compressed (envelope/compression.ts; 0x01 only),
 *   or with a shared head (0x05, envelope/shared-head.ts) to a peer that accepts it;
 * - KIND_CONTROL: a JSON object, `hello` first (the sender's mesh and the codecs it accepts, and
 *   WEIGHS_DIRECT_HALF when it charges a batch frame half: older builds charge it in full), then
 *   `reach` whenever it changes (for each topic the sender subscribes to, its directly
 *   connected peers that subscribe too: what lets a publisher know it reaches every subscriber).
 */
import { z } from 'zod'
import { SerializationError } from '../core/errors.js'
import { parseJson } from '../core/json.js'
import { encodeLength } from '../rpc/frames.js'

export const FANOUT_PROTOCOL = '/agentmesh/fanout/1.0.0'
export const KIND_BATCH = 0x01
export const KIND_CONTROL = 0x02
/**
 * Said in a hello's `accepts` by a node that charges the batch frames of this stream at
 * DIRECT_FRAME_WEIGHT (constants.ts): its publishers may send it that much more. An older build
 * says nothing, charges every frame as a gossip message, and is sent to as it charges.
 */
export const WEIGHS_DIRECT_HALF = 'weighs:direct-half'

/** Peers a reach entry lists; a node with more subscribers of a topic says `null` ("many"), and publishers gossip to it. */
export const REACH_MAX_PEERS = 64
/** Topics one reach message may name (a node's own subscriptions). */
const REACH_MAX_TOPICS = 4_096

const PeerIdString = z.string().min(1).max(128)

export const Control = z.strictObject({
  hello: z.strictObject({
    mesh: z.string().min(1).max(64),
    accepts: z.array(z.string().max(32)).max(8)
  }).optional(),
  reach: z.record(z.string().min(1).max(256), z.array(PeerIdString).max(REACH_MAX_PEERS).nullable())
    .refine(r => Object.keys(r).length <= REACH_MAX_TOPICS, `at most ${REACH_MAX_TOPICS} topics`)
    .optional()
})
export type Control = z.infer<typeof Control>

export type Frame =
  | { kind: 'batch', topic: string, batch: Uint8Array }
  | { kind: 'control', control: Control }

/** One whole frame, length prefix included: built once, written to every stream it goes to. */
function frame (kind: number, head: Uint8Array | undefined, body: Uint8Array): Uint8Array {
  const size = 1 + (head?.byteLength ?? 0) + body.byteLength
  const prefix = encodeLength(size)
  const out = Buffer.allocUnsafe(prefix.byteLength + size)
  out.set(prefix, 0)
  let at = prefix.byteLength
  out[at++] = kind
  if (head !== undefined) { out.set(head, at); at += head.byteLength }
  out.set(body, at)
  return out
}

export function batchFrame (topic: string, batch: Uint8Array): Uint8Array {
  const name = Buffer.from(topic)
  const len = encodeLength(name.byteLength)
  const head = Buffer.allocUnsafe(len.byteLength + name.byteLength)
  head.set(len, 0)
  head.set(name, len.byteLength)
  return frame(KIND_BATCH, head, batch)
}

export function controlFrame (control: Control): Uint8Array {
  return frame(KIND_CONTROL, undefined, Buffer.from(JSON.stringify(control)))
}

/** A frame's body (its length prefix already taken off) as what it carries; a malformed one is MSG002. */
export function parseFrame (body: Uint8Array): Frame {
  if (body.byteLength === 0) throw new SerializationError('empty fan-out frame')
  const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength)
  if (buf[0] === KIND_BATCH) {
    let length = 0
    let scale = 1
    let at = 1
    for (;;) {
      if (at >= Math.min(buf.byteLength, 3)) throw new SerializationError('fan-out batch frame: bad topic length')
      const b = buf[at++]
      length += (b & 0x7f) * scale
      if ((b & 0x80) === 0) break
      scale *= 0x80
    }
    if (length === 0 || length > 256 || at + length >= buf.byteLength) throw new SerializationError('fan-out batch frame: bad topic')
    return { kind: 'batch', topic: buf.toString('utf8', at, at + length), batch: body.subarray(at + length) }
  }
  if (buf[0] === KIND_CONTROL) {
    const parsed = Control.safeParse(parseJson(buf.toString('utf8', 1), buf.byteLength))
    if (!parsed.success) throw new SerializationError(`fan-out control frame: ${parsed.error.issues[0]?.message ?? 'invalid'}`)
    return { kind: 'control', control: parsed.data }
  }
  throw new SerializationError(`fan-out frame of unknown kind 0x${buf[0].toString(16)}`)
}
