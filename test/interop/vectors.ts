/**
 * The shared test vectors of the wire (issue 42): what a peer written in another language (a Go
 * peer on go-libp2p) checks its encoders and verifiers against. Every byte here comes from the
 * TypeScript code a node runs (the codec, the rpc framing and channel, the credential signer, the
 * batch encoder, the statement signer, the sealer), given fixed Ed25519 seeds, ids and a fixed
 * clock; nothing is written by hand but the inputs and the "rule" texts the docs state, which
 * vectors.test.ts checks against the real verifiers.
 *
 *   node dist/test/interop/vectors.js --write    rewrites interop/vectors/*.json
 *   node dist/test/interop/vectors.js            says which files differ (exit 1 if any)
 *
 * docs/wire-format.md, "For implementers", says what each field means; interop/vectors/README.md
 * says what each file holds.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs'
import { createRequire } from 'node:module'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { dirname, join } from 'node:path'
import { generateKeyPairFromSeed, privateKeyToProtobuf, publicKeyToProtobuf } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import type { PrivateKey } from '@libp2p/interface'
import { decodeBatch, encodeEnvelope, envelopeToJson, makeEnvelope, canonicalJson, signEnvelope, signedText, splitJson, SHARED_FIELDS, SHARED_HEAD_CODEC, type Envelope } from '../../protocols/envelope/index.js'
import { ENVELOPE_SIGNATURE_DOMAIN } from '../../protocols/envelope/signature.js'
import { issueCredential, verifyCredential, type Credential } from '../../protocols/admission/credential.js'
import { signRevocations } from '../../protocols/admission/revocation.js'
import { CREDENTIAL_DOMAIN, REVOCATION_DOMAIN, REVOCATIONS_TOPIC_NAME } from '../../protocols/admission/constants.js'
import { CardExchange, type AgentCard } from '../../protocols/discovery/card.js'
import { RPC_PROTOCOL, DEFAULT_REQUEST_TIMEOUT_MS } from '../../protocols/rpc/constants.js'
import { anyCommand } from '../../protocols/rpc/commands.js'
import { checkedOutgoing, frameRequest } from '../../protocols/rpc/outgoing.js'
import { answerTo } from '../../protocols/rpc/answer.js'
import { joinFrames } from '../../protocols/rpc/frames.js'
import { RpcChannel } from '../../protocols/rpc/channel.js'
import { type AgentMeshError, HandlerError, UnknownCommandError } from '../../protocols/core/errors.js'
import { gossipTopic } from '../../protocols/pubsub/topics.js'
import { BatchForms, sealBatch } from '../../protocols/pubsub/sealed-batch.js'
import { batchFrame, controlFrame, FANOUT_PROTOCOL } from '../../protocols/pubsub/fanout-wire.js'
import { COMPRESSION_CODECS } from '../../protocols/envelope/compression.js'
import { noSealer } from '../../protocols/sealing/index.js'
import { SealingService } from '../../protocols/sealing/index.js'
import { ownKey, PeerKeys } from '../../protocols/sealing/keys.js'
import { unwrap } from '../../protocols/sealing/box.js'
import { requestSubject } from '../../protocols/sealing/direct.js'
import { CONTENT_DOMAIN, WRAP_DOMAIN } from '../../protocols/sealing/constants.js'
import { statementKeys } from '../../protocols/discovery/statement-keys.js'
import { MemberGossip, Probe, type SignedStatement } from '../../protocols/discovery/member-wire.js'
import { topicKey } from '../../protocols/discovery/topic-rendezvous.js'
import { NEGOTIATE_PROTOCOL } from '../../protocols/negotiation/schemas.js'
import { LEARNING_PROTOCOL } from '../../protocols/learning/schemas.js'
import type { SealedSingle } from '../../protocols/sealing/shape.js'

/** Where the committed vectors live: interop/vectors/ at the repository's root (this file runs from dist/test/interop/). */
export const VECTORS_DIR = fileURLToPath(new URL('../../../interop/vectors/', import.meta.url))

/** The clock every vector is made at: 2026-01-01T00:00:00Z. */
export const T0 = 1_767_225_600_000
export const MESH = 'vectors'
const MAX_BYTES = 1024 * 1024

/** The fixed identities: Ed25519 keys from 32-byte seeds (every byte the same). */
export const SEEDS = { alice: 0x01, bob: 0x02, owner: 0x03, carol: 0x04 } as const
export type Who = keyof typeof SEEDS

export interface Identity { seed: Uint8Array, key: PrivateKey, peerId: string }

export async function identity (who: Who): Promise<Identity> {
  const seed = new Uint8Array(32).fill(SEEDS[who])
  const key = await generateKeyPairFromSeed('Ed25519', seed)
  return { seed, key, peerId: peerIdFromPrivateKey(key).toString() }
}

const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex')
const utf8Hex = (s: string): string => Buffer.from(s, 'utf8').toString('hex')

/** `fn` with Date.now() fixed at `ms`: the code under it stamps envelopes and statements with it. */
export function atTime<T> (ms: number, fn: () => T): T {
  const real = Date.now
  Date.now = () => ms
  try { return fn() } finally { Date.now = real }
}

/** What the rpc answer builders log and count: nothing, here. */
const quiet = {
  stats: { inc: () => {}, message: () => false, observe: () => {}, messages: { add: () => {} } },
  log: { debug: () => {}, warn: () => {}, info: () => {}, error: () => {}, isLevelEnabled: () => false } as any
}

/** A file's text: JSON, two spaces, a final newline. */
const text = (value: unknown): string => JSON.stringify(value, null, 2) + '\n'

// --- keys.json ---------------------------------------------------------------------------------

async function keysVector (): Promise<unknown> {
  const out: Record<string, unknown> = {}
  for (const who of Object.keys(SEEDS) as Who[]) {
    const id = await identity(who)
    const x = ownKey(id.key)
    out[who] = {
      seed_hex: hex(id.seed),
      private_key_protobuf_base64: Buffer.from(privateKeyToProtobuf(id.key)).toString('base64'),
      public_key_hex: hex(id.key.publicKey.raw),
      public_key_protobuf_hex: hex(publicKeyToProtobuf(id.key.publicKey)),
      peer_id: id.peerId,
      peer_id_bytes_hex: hex(peerIdFromPrivateKey(id.key).toMultihash().bytes),
      x25519_secret_hex: hex(x.secret),
      x25519_public_hex: hex(x.public),
      sealing_tag: x.tag
    }
  }
  return {
    about: 'Fixed Ed25519 identities every other vector uses: seed -> libp2p key -> peer id, and the X25519 key sealing derives from each (protocols/sealing/keys.ts).',
    ...out
  }
}

// --- canonical-json.json -----------------------------------------------------------------------

/** Inputs as JSON texts, parsed with JSON.parse, then written by canonicalJson (protocols/envelope/signature.ts). */
const CANONICAL_INPUTS: Array<{ name: string, input_json: string }> = [
  { name: 'keys sorted at every level, arrays kept in order', input_json: '{"b":{"z":1,"a":[{"y":2,"x":1}]},"a":null}' },
  { name: 'no whitespace', input_json: '{ "a" : [ 1 , 2 ] ,\n "b" : "c" }' },
  { name: 'integer-like keys come first, in numeric order (JavaScript object key order)', input_json: '{"b":1,"10":2,"9":3,"a":4,"01":5,"-1":6,"4294967294":7,"4294967295":8}' },
  { name: 'keys compared by UTF-16 code units, not by UTF-8 bytes or code points', input_json: '{"\\uff61":1,"\\ud83d\\ude00":2,"z":3,"\\u00e9":4,"Z":5}' },
  { name: 'non-ASCII written as UTF-8, not escaped', input_json: '{"s":"caf\\u00e9 \\u65e5\\u672c \\ud83d\\ude00"}' },
  { name: 'escapes: quote, backslash, control characters (short forms and lowercase \\u00xx); no escape of / < > & or U+2028', input_json: '["\\"\\\\\\/","\\b\\f\\n\\r\\t","\\u0000\\u0001\\u001f\\u007f","<>&","\\u2028\\u2029"]' },
  { name: 'a lone surrogate is written as a lowercase \\u escape', input_json: '["\\ud800","\\udfff"]' },
  { name: 'numbers as JavaScript writes them (shortest round trip, exponent from 1e21 up and below 1e-6)', input_json: '[1.0,-0,100,1e2,0.1,0.30000000000000004,1e21,1e20,123456789012345678901,0.000001,1e-7,1.5e300,5e-324,-2.5e-10,9007199254740993]' },
  { name: 'literals and empties', input_json: '{"t":true,"f":false,"n":null,"o":{},"a":[],"s":""}' }
]

function canonicalVector (): unknown {
  return {
    about: 'canonicalJson (protocols/envelope/signature.ts): JSON.parse(input_json), then JSON.stringify with object keys re-inserted in sorted order. What envelope signatures, task records and dead letters sign. output_hex is the UTF-8 of output.',
    cases: CANONICAL_INPUTS.map(c => {
      const output = canonicalJson(JSON.parse(c.input_json))
      return { ...c, output, output_hex: utf8Hex(output) }
    })
  }
}

// --- envelope.json ------------------------------------------------------------------------------

async function envelopeVector (): Promise<unknown> {
  const alice = await identity('alice')
  const bob = await identity('bob')
  const cases: Array<{ name: string, env: Envelope }> = atTime(T0, () => [
    {
      name: 'a request, as rpc sends it',
      env: makeEnvelope({ id: '00000000-0000-4000-8000-000000000001', source: alice.peerId, destination: { peer: bob.peerId }, type: 'REQUEST', subject: 'echo', payload: { text: 'hello', n: 1 }, ttl: 30_000 })
    },
    {
      name: 'every optional field',
      env: makeEnvelope({
        id: '00000000-0000-4000-8000-000000000002',
        source: alice.peerId,
        destination: { peers: [bob.peerId] },
        type: 'COMMAND',
        subject: 'deploy',
        payload: { list: [1, 2.5, 'é'], nested: { ok: true } },
        headers: { 'am-delivery': 'at-least-once', traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' },
        priority: 'high',
        ttl: 5_000,
        replyTo: 'replies',
        correlationId: 'c-1',
        conversationId: 'conv-1'
      })
    },
    {
      name: 'an event on a topic',
      env: makeEnvelope({ id: '00000000-0000-4000-8000-000000000003', source: alice.peerId, destination: { topic: 'news' }, type: 'EVENT', subject: 'news', payload: 'plain string payload' })
    }
  ])
  const signed = atTime(T0, () => signEnvelope(makeEnvelope({
    id: '00000000-0000-4000-8000-000000000004',
    source: alice.peerId,
    destination: { topic: 'news' },
    type: 'EVENT',
    subject: 'news',
    payload: { b: 2, a: 1, text: 'signed' },
    headers: { 'am-via': 'gateway' }
  }), alice.key))
  return {
    about: 'Envelopes (protocols/envelope/schema.ts) encoded by encodeEnvelope (codec.ts): the byte 0x01, then JSON.stringify of the envelope in UTF-8. The field order is the one makeEnvelope writes; a decoder must accept any order.',
    cases: cases.map(c => ({ name: c.name, envelope: c.env, json: envelopeToJson(c.env), encoded_hex: hex(encodeEnvelope(c.env)) })),
    signed: {
      name: 'an envelope signed by its source (signEnvelope, signature.ts)',
      signer: 'alice',
      domain: ENVELOPE_SIGNATURE_DOMAIN,
      envelope: signed,
      signed_text: signedText(signed),
      signed_bytes_hex: utf8Hex(signedText(signed)),
      signature_base64url: signed.signature,
      encoded_hex: hex(encodeEnvelope(signed))
    }
  }
}

// --- credential.json ----------------------------------------------------------------------------

export const SERIAL = '00112233445566778899aabbccddeeff'
export const CREDENTIAL_TTL_MS = 365 * 24 * 3_600_000

/** The credential a fixed identity gets from the owner (`agentmesh credential issue` runs issueCredential). */
export async function credentialOf (who: Who, serial = SERIAL, roles = ['agent', 'coordinator'], capabilities = ['echo']): Promise<Credential> {
  const owner = await identity('owner')
  const subject = await identity(who)
  return await issueCredential(owner.key, { mesh: MESH, subject: subject.peerId, roles, capabilities, serial, issuedAt: T0, expiresAt: T0 + CREDENTIAL_TTL_MS })
}

/** The text a credential's signature covers, by the rule docs/wire-format.md states (checked against the real verifier by the test). */
export function credentialSignedText (c: Omit<Credential, 'signature'>): string {
  return `${CREDENTIAL_DOMAIN}\n${JSON.stringify([c.v, c.mesh, c.issuer, c.subject, c.roles, c.capabilities, c.serial, c.issuedAt, c.expiresAt])}`
}

export function revocationSignedText (l: { v: number, mesh: string, issuer: string, serials: string[], subjects: string[], issuedAt: number }): string {
  return `${REVOCATION_DOMAIN}\n${JSON.stringify([l.v, l.mesh, l.issuer, [...l.serials].sort(), [...l.subjects].sort(), l.issuedAt])}`
}

async function credentialVector (): Promise<unknown> {
  const owner = await identity('owner')
  const carol = await identity('carol')
  const c = await credentialOf('alice')
  const { signature, ...unsigned } = c
  const list = await signRevocations(owner.key, { mesh: MESH, serials: ['ffeeddccbbaa99887766554433221100', SERIAL.replace('00', 'aa')], subjects: [carol.peerId], issuedAt: T0 + 1_000 })
  const { signature: listSig, ...listUnsigned } = list
  const ownerFile = { type: 'agentmesh-mesh-owner', mesh: MESH, issuer: owner.peerId, privateKey: Buffer.from(privateKeyToProtobuf(owner.key)).toString('base64') }
  return {
    about: 'A credential (protocols/admission/credential.ts) of alice signed by the owner key, the owner key file `agentmesh mesh init` writes, and a revocation list (revocation.ts). Signatures: Ed25519 over the UTF-8 of signed_text, standard base64 with padding.',
    owner: {
      seed_hex: hex(owner.seed),
      issuer: owner.peerId,
      public_key_hex: hex(owner.key.publicKey.raw),
      key_file_text: text(ownerFile)
    },
    credential: c,
    credential_file_text: text(c),
    signed_text: credentialSignedText(unsigned),
    signed_bytes_hex: utf8Hex(credentialSignedText(unsigned)),
    signature_hex: hex(Buffer.from(signature, 'base64')),
    check: {
      mesh: MESH, issuer: owner.peerId, subject: c.subject, valid_from_ms: T0 - 60_000, valid_until_ms: T0 + CREDENTIAL_TTL_MS + 60_000, clock_skew_ms: 60_000
    },
    revocation_list: list,
    revocation_signed_text: revocationSignedText(listUnsigned),
    revocation_signature_hex: hex(Buffer.from(listSig, 'base64')),
    revocations_topic: gossipTopic(MESH, REVOCATIONS_TOPIC_NAME)
  }
}

// --- card.json ----------------------------------------------------------------------------------

export function cardOf (who: Identity, name: string, client = false): AgentCard {
  // The fields and their order as AgentNode.card() (node/agent-node.ts) writes them.
  return {
    peerId: who.peerId,
    name,
    mesh: MESH,
    roles: ['agent'],
    capabilities: ['echo'],
    version: '0.1.0',
    protocols: [RPC_PROTOCOL, NEGOTIATE_PROTOCOL, LEARNING_PROTOCOL],
    addresses: [`/ip4/127.0.0.1/tcp/4001/p2p/${who.peerId}`],
    startedAt: T0 - 5_000,
    ...(client ? { client: true as const } : { resources: { cpu_cores: 2, memory_gb: 4, storage_gb: 10, gpu_units: 0 } })
  }
}

/** A request frame of `cmd` from `from` to `to`, framed by rpc's own frameRequest under the fixed clock, length prefix included. */
function requestFrame (
  from: string, to: string, command: string, payload: unknown, id: string, timeoutMs: number
): { env: Envelope, frame: Uint8Array, wire: Uint8Array } {
  const { env, frame } = atTime(T0, () => frameRequest(checkedOutgoing(to, anyCommand(command), payload, false), from, {}, { id }, timeoutMs, {}, MAX_BYTES))
  return { env, frame, wire: joinFrames([frame]) }
}

/** The answer to `req` as the serving node builds it (answerTo, protocols/rpc/answer.ts), its fresh id replaced by `id`. */
function answerFrame (server: string, req: Envelope, payload: unknown, id: string, error?: AgentMeshError): { env: Envelope, wire: Uint8Array } {
  const env = atTime(T0 + 20, () => answerTo(server, quiet, req, payload, error))
  env.id = id
  return { env, wire: joinFrames([encodeEnvelope(env)]) }
}

async function cardVector (): Promise<unknown> {
  const alice = await identity('alice')
  const bob = await identity('bob')
  const request = CardExchange.request.parse({ card: cardOf(alice, 'alice'), credential: await credentialOf('alice') })
  const req = requestFrame(alice.peerId, bob.peerId, CardExchange.name, request, '00000000-0000-4000-8000-0000000000c1', 10_000)
  const response = CardExchange.response.parse({ card: cardOf(bob, 'bob'), peers: [], credential: await credentialOf('bob', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb') })
  const ok = answerFrame(bob.peerId, req.env, response, '00000000-0000-4000-8000-0000000000c2')
  // A credential altered after signing (a capability added): the verifier's own error, answered as the node answers it.
  const forged = { ...request.credential as Credential, capabilities: ['echo', 'admin'] }
  const check = { issuer: (request.credential as Credential).issuer, mesh: MESH, subject: alice.peerId, now: T0 + 1_000 }
  const why = await verifyCredential(forged, check).then(() => undefined, (e: AgentMeshError) => e)
  if (why === undefined) throw new Error('a forged credential verified')
  const badReq = requestFrame(alice.peerId, bob.peerId, CardExchange.name, { ...request, credential: forged }, '00000000-0000-4000-8000-0000000000c3', 10_000)
  const refused = answerFrame(bob.peerId, badReq.env, null, '00000000-0000-4000-8000-0000000000c4', why)
  return {
    about: 'The card exchange (protocols/discovery/card.ts, membership.ts): an rpc request with subject "$agentmesh/card" on /agentmesh/rpc/1.0.0, sent by the dialling side; its answer; and the refusal of a credential altered after signing. Frames include their varint length prefix.',
    request_payload: request,
    request_envelope: req.env,
    request_frame_hex: hex(req.wire),
    response_envelope: ok.env,
    response_frame_hex: hex(ok.wire),
    bad_signature: {
      request_envelope: badReq.env,
      request_frame_hex: hex(badReq.wire),
      answer_envelope: refused.env,
      answer_frame_hex: hex(refused.wire),
      then: 'the answering node hangs up about 100 ms after this answer and refuses the peer (and its host) for a growing cool-down (2 s, doubling, at most 5 min), except peers on its trusted hosts (loopback by default)'
    }
  }
}

// --- rpc.json -----------------------------------------------------------------------------------

async function rpcVector (): Promise<unknown> {
  const alice = await identity('alice')
  const bob = await identity('bob')
  const req = requestFrame(alice.peerId, bob.peerId, 'echo', { text: 'hi' }, '00000000-0000-4000-8000-0000000000a1', DEFAULT_REQUEST_TIMEOUT_MS)
  const ok = answerFrame(bob.peerId, req.env, { text: 'hi' }, '00000000-0000-4000-8000-0000000000a2')
  const unknown = requestFrame(alice.peerId, bob.peerId, 'no-such-command', null, '00000000-0000-4000-8000-0000000000a3', DEFAULT_REQUEST_TIMEOUT_MS)
  const cmd001 = answerFrame(bob.peerId, unknown.env, null, '00000000-0000-4000-8000-0000000000a4', new UnknownCommandError('no-such-command'))
  const failing = requestFrame(alice.peerId, bob.peerId, 'echo', { text: 'boom' }, '00000000-0000-4000-8000-0000000000a5', DEFAULT_REQUEST_TIMEOUT_MS)
  const cmd002 = answerFrame(bob.peerId, failing.env, null, '00000000-0000-4000-8000-0000000000a6', new HandlerError('boom'))
  const two = joinFrames([req.frame, unknown.frame])
  return {
    about: `Requests and answers on ${RPC_PROTOCOL} (protocols/rpc): each frame is an unsigned LEB128 varint length, then that many bytes: 0x01 and the envelope's JSON. Requests are built by frameRequest (outgoing.ts) as \`agentmesh request bob echo '{"text":"hi"}'\` builds them (ttl = the --timeout, 30000 by default), answers by answerTo (answer.ts).`,
    request: { envelope: req.env, frame_hex: hex(req.wire) },
    response: { envelope: ok.env, frame_hex: hex(ok.wire) },
    unknown_command: { request_envelope: unknown.env, request_frame_hex: hex(unknown.wire), answer_envelope: cmd001.env, answer_frame_hex: hex(cmd001.wire) },
    handler_error: { request_envelope: failing.env, request_frame_hex: hex(failing.wire), answer_envelope: cmd002.env, answer_frame_hex: hex(cmd002.wire) },
    two_frames_in_one_write_hex: hex(two)
  }
}

// --- bad-input.json -----------------------------------------------------------------------------

/** A libp2p stream as RpcChannel uses it, held in memory: what the channel writes is kept. */
class MemoryStream extends EventTarget {
  status = 'open'
  readStatus = 'readable'
  readonly sent: Uint8Array[] = []
  send (bytes: Uint8Array): boolean { this.sent.push(Uint8Array.from(bytes)); return true }
  async close (): Promise<void> { this.status = 'closed' }
  abort (): void { this.status = 'aborted' }
  pause (): void { this.readStatus = 'paused' }
  resume (): void { this.readStatus = 'readable' }
  async onDrain (): Promise<void> {}
  push (bytes: Uint8Array): void { this.dispatchEvent(Object.assign(new Event('message'), { data: bytes })) }
}

/** What a serving node's rpc channel answers to `bytes` sent on a fresh inbound stream (the real RpcChannel, in memory). */
async function serveBytes (server: string, client: string, bytes: Uint8Array): Promise<{ answers: unknown[], closes: boolean }> {
  const stream = new MemoryStream()
  let served = 0
  let closedByServer = false
  const real = Date.now
  Date.now = () => T0 + 30
  try {
    const ch = new RpcChannel({
      stream: stream as any,
      remotePeer: client,
      localPeer: server,
      maxMessageBytes: MAX_BYTES,
      window: 100,
      stats: quiet.stats as any,
      log: quiet.log,
      serve: async () => { served++; return undefined }
    })
    stream.push(bytes)
    await new Promise(resolve => setImmediate(resolve))
    closedByServer = stream.status !== 'open'
    ch.close()
  } finally {
    Date.now = real
  }
  if (served > 0) throw new Error('a bad-input case reached the handler')
  const answers: unknown[] = []
  for (const chunk of stream.sent) {
    let at = 0
    while (at < chunk.byteLength) {
      let len = 0; let scale = 1; let b: number
      do { b = chunk[at++]; len += (b & 0x7f) * scale; scale *= 128 } while ((b & 0x80) !== 0)
      const env = JSON.parse(Buffer.from(chunk.subarray(at + 1, at + len)).toString('utf8'))
      // The answer's id is a fresh UUID each time: shown as null.
      answers.push({ ...env, id: null })
      at += len
    }
  }
  return { answers, closes: closedByServer }
}

async function badInputVector (): Promise<unknown> {
  const alice = await identity('alice')
  const bob = await identity('bob')
  const carol = await identity('carol')
  const good = requestFrame(alice.peerId, bob.peerId, 'echo', { text: 'hi' }, '00000000-0000-4000-8000-0000000000b1', DEFAULT_REQUEST_TIMEOUT_MS)
  const framed = (inner: Uint8Array): Uint8Array => joinFrames([inner])
  const withByte = (b: number): Uint8Array => { const f = Uint8Array.from(good.frame); f[0] = b; return framed(f) }
  const json = (v: unknown): Uint8Array => framed(Buffer.concat([Buffer.from([0x01]), Buffer.from(JSON.stringify(v))]))
  const cases: Array<{ name: string, input: Uint8Array, note?: string }> = [
    { name: 'unknown wire version byte 0x02', input: withByte(0x02) },
    { name: 'envelope version 2', input: json({ ...good.env, version: 2 }) },
    { name: 'not JSON after the version byte', input: framed(Buffer.from([0x01, ...Buffer.from('{"id":')])) },
    { name: 'empty frame (length 0)', input: Uint8Array.from([0x00]) },
    { name: 'envelope missing its subject', input: json({ ...good.env, subject: undefined }) },
    { name: 'source is not the authenticated peer', input: json({ ...good.env, source: carol.peerId }) },
    { name: 'length prefix over the limit (1 MiB + 1): refused before the body is read, stream closed', input: Uint8Array.from([0x81, 0x80, 0x40]) },
    { name: 'length prefix that is no varint (8 bytes with the high bit set)', input: Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]) },
    { name: 'truncated frame: a length and part of its body', input: good.wire.subarray(0, 20), note: 'nothing is answered; the stream is aborted when the rest has not come within rpc.stallTimeoutMs (10 s)' }
  ]
  const out = []
  for (const c of cases) {
    const r = await serveBytes(bob.peerId, alice.peerId, c.input)
    const note = c.note !== undefined ? { note: c.note } : {}
    out.push({ name: c.name, input_hex: hex(c.input), answers: r.answers, stream_closed_by_server: r.closes, ...note })
  }
  return {
    about: 'What a node serving /agentmesh/rpc/1.0.0 answers to bad frames sent by alice to bob on a fresh stream (the real RpcChannel, protocols/rpc/channel.ts). Each answer is an ordinary RESPONSE frame; its id is a fresh UUID (null here). correlationId is the request id when one could be read from the JSON after the first byte.',
    peer: { server: bob.peerId, client: alice.peerId },
    cases: out
  }
}

// --- gossip.json --------------------------------------------------------------------------------

async function gossipVector (): Promise<unknown> {
  const alice = await identity('alice')
  const topic = 'news'
  const envs = atTime(T0, () => [
    makeEnvelope({ id: '00000000-0000-4000-8000-0000000000e1', source: alice.peerId, destination: { topic }, type: 'EVENT', subject: topic, payload: { headline: 'first' } }),
    makeEnvelope({ id: '00000000-0000-4000-8000-0000000000e2', source: alice.peerId, destination: { topic }, type: 'EVENT', subject: topic, payload: { headline: 'second', n: 2 } })
  ])
  // The batch exactly as pubsub's sendBatch encodes it (protocols/pubsub/index.ts): sealBatch, then
  // BatchForms: plain (0x01, encodeSealedBatch) for gossip, and with a shared head (0x05) for a fan-out peer that reads it.
  const forms = new BatchForms(sealBatch(noSealer, topic, envs.map(splitJson)))
  const batch = forms.plain()
  const shared = forms.sharedHead() as Uint8Array
  const seqno = 0x0102030405060708n
  return {
    about: 'A gossip batch (protocols/pubsub): 0x01 then a JSON array of envelopes, the gossipsub message data on topic gossip_topic, StrictSign. The same batch on a fan-out stream frame, the fan-out control frame, and the gossipsub message id js-libp2p computes.',
    mesh: MESH,
    topic,
    gossip_topic: gossipTopic(MESH, topic),
    envelopes: decodeBatch(batch, 1 << 20), // in the order the batch writes their fields: shared ones first
    batch_hex: hex(batch),
    fanout: {
      protocol: FANOUT_PROTOCOL,
      batch_frame_hex: hex(batchFrame(topic, batch)),
      shared_head: {
        about: `What a publisher writes instead to a peer whose hello accepts "${SHARED_HEAD_CODEC}": 0x05, a varint length, the head (a JSON object of the fields the envelopes share: ${SHARED_FIELDS.join(', ')}), then a JSON array of each envelope's own fields. An envelope is the head's fields with its own over them; decoded, this batch is the envelopes above.`,
        batch_hex: hex(shared),
        batch_frame_hex: hex(batchFrame(topic, shared))
      },
      hello_frame_hex: hex(controlFrame({ hello: { mesh: MESH, accepts: [...COMPRESSION_CODECS] } })),
      reach_frame_hex: hex(controlFrame({ reach: { [topic]: [alice.peerId] } }))
    },
    message_id: {
      publisher: alice.peerId,
      seqno_hex: seqno.toString(16).padStart(16, '0'),
      js_libp2p_id_hex: hex(await gossipMessageId(alice, seqno)),
      go_default_id_hex: hex(peerIdFromPrivateKey(alice.key).toMultihash().bytes) + seqno.toString(16).padStart(16, '0'),
      note: 'js-libp2p gossipsub 17 names a signed message by the protobuf of its publisher\'s public key then the 8-byte seqno; go-libp2p-pubsub\'s default, by the peer id bytes then the seqno. A Go peer sets its MsgIdFn to the js form.'
    }
  }
}

/** The message id @libp2p/gossipsub gives a signed message (its own msgIdFnStrictSign, loaded from its files: the package does not export it). */
export async function gossipMessageId (publisher: Identity, seqno: bigint): Promise<Uint8Array> {
  const entry = createRequire(import.meta.url).resolve('@libp2p/gossipsub')
  const mod = await import(pathToFileURL(join(dirname(entry), 'utils', 'msgIdFn.js')).href) as { msgIdFnStrictSign: (m: unknown) => Uint8Array }
  return mod.msgIdFnStrictSign({ type: 'signed', from: peerIdFromPrivateKey(publisher.key), key: publisher.key.publicKey, sequenceNumber: seqno })
}

// --- member-statement.json ----------------------------------------------------------------------

async function memberVector (): Promise<unknown> {
  const alice = await identity('alice')
  const carol = await identity('carol')
  // The body as MemberView.issue (protocols/discovery/members.ts) writes it: the member table's announcement, then seq, addrs, topics.
  const body = JSON.stringify({
    peerId: alice.peerId,
    name: 'alice',
    roles: ['agent'],
    eligible: true,
    incarnation: 3,
    suspects: [{ peerId: carol.peerId, incarnation: 1 }],
    seq: T0,
    addrs: ['/ip4/127.0.0.1/tcp/4001'],
    topics: [topicKey('news')]
  })
  const keys = statementKeys(alice.key, MESH)
  const sig = keys.sign(body)
  const statement: SignedStatement = { body, sig, cred: await credentialOf('alice') }
  const gossip = MemberGossip.request.parse({ statements: [statement] })
  const alicePeer = alice.peerId
  return {
    about: 'A member statement (protocols/discovery/member-wire.ts) signed by statementKeys (statement-keys.ts): Ed25519 over the UTF-8 of "agentmesh/member/1\\n" + mesh + "\\n" + body; sig in standard base64. body is signed as the text it is, never re-serialised.',
    mesh: MESH,
    author: alicePeer,
    body,
    signed_text: `agentmesh/member/1\n${MESH}\n${body}`,
    signed_bytes_hex: utf8Hex(`agentmesh/member/1\n${MESH}\n${body}`),
    sig,
    signed_statement: statement,
    topic_key_of_news: topicKey('news'),
    member_gossip_request_payload: gossip,
    probe: { subject: Probe.name, request_payload: { incarnation: 1 }, response_payload: Probe.response.parse({ incarnation: 3, eligible: true, name: 'alice', roles: ['agent'] }) }
  }
}

// --- sealed.json --------------------------------------------------------------------------------

/** Sealing draws a fresh key, nonce and ephemeral key each time: the sealed payload of the committed file is kept, the rest recomputed. */
async function sealedVector (committed: any): Promise<unknown> {
  const alice = await identity('alice')
  const bob = await identity('bob')
  const subject = requestSubject('echo')
  const plaintext = { text: 'secret', n: 42 }
  let sealed: SealedSingle | undefined = committed?.sealed_payload
  if (sealed === undefined || !opens(sealed)) {
    const sender = new SealingService({ privateKey: alice.key, mesh: MESH, rotationMs: 86_400_000, graceMs: 3_600_000, withRole: () => [], now: () => T0 })
    sealed = sender.sealAlone(subject, plaintext, [bob.peerId])
  }
  function opens (s: SealedSingle): boolean {
    try {
      const receiver = new SealingService({ privateKey: bob.key, mesh: MESH, rotationMs: 86_400_000, graceMs: 3_600_000, withRole: () => [], now: () => T0 })
      const r = receiver.open(subject, alice.peerId, s)
      return r.ok && JSON.stringify(r.value) === JSON.stringify(plaintext)
    } catch { return false }
  }
  const own = ownKey(bob.key)
  const contentKey = unwrap(own, sealed, { mesh: MESH, source: alice.peerId })
  if (contentKey === undefined) throw new Error('the sealed vector does not unwrap for bob')
  return {
    about: 'A request payload sealed by alice for bob (protocols/sealing: sealAlone, version 2 with its wraps), as `request(bob, "echo", payload, { encryptFor: [bob] })` puts it in the envelope. Sealing is not deterministic (fresh content key, nonce prefix, kid and ephemeral key): a reader checks that it opens to plaintext; the test regenerates everything but sealed_payload and content_key_hex.',
    binding: { mesh: MESH, source: alice.peerId, subject },
    recipient: 'bob',
    recipient_x25519_secret_hex: hex(own.secret),
    recipient_x25519_public_hex: hex(own.public),
    recipient_tag: own.tag,
    sender_x25519_public_hex: hex(new PeerKeys().of(alice.peerId)),
    wrap_info_text: `${WRAP_DOMAIN}\n${MESH}\n${alice.peerId}\n${sealed.kid}\n${sealed.at}`,
    content_ad_text: `${CONTENT_DOMAIN}\n${MESH}\n${subject}\n${alice.peerId}\n${sealed.kid}`,
    sealed_payload: sealed,
    content_key_hex: hex(contentKey),
    plaintext,
    plaintext_json: JSON.stringify(plaintext)
  }
}

// --- all ----------------------------------------------------------------------------------------

export const FILES = ['keys.json', 'canonical-json.json', 'envelope.json', 'credential.json', 'card.json', 'rpc.json', 'bad-input.json', 'gossip.json', 'member-statement.json', 'sealed.json'] as const

export function readCommitted (name: string): string | undefined {
  try { return readFileSync(join(VECTORS_DIR, name), 'utf8') } catch { return undefined }
}

/** Every vector file's text, made now from the code. */
export async function buildVectors (): Promise<Map<string, string>> {
  const sealedFile = readCommitted('sealed.json')
  const made: Array<[string, unknown]> = [
    ['keys.json', await keysVector()],
    ['canonical-json.json', canonicalVector()],
    ['envelope.json', await envelopeVector()],
    ['credential.json', await credentialVector()],
    ['card.json', await cardVector()],
    ['rpc.json', await rpcVector()],
    ['bad-input.json', await badInputVector()],
    ['gossip.json', await gossipVector()],
    ['member-statement.json', await memberVector()],
    ['sealed.json', await sealedVector(sealedFile !== undefined ? JSON.parse(sealedFile) : undefined)]
  ]
  return new Map(made.map(([name, v]) => [name, text(v)]))
}

async function main (): Promise<void> {
  const write = process.argv.includes('--write')
  const files = await buildVectors()
  let differ = 0
  if (write) mkdirSync(VECTORS_DIR, { recursive: true })
  for (const [name, body] of files) {
    const same = readCommitted(name) === body
    if (!same) differ++
    if (write && !same) writeFileSync(join(VECTORS_DIR, name), body)
    process.stdout.write(`${same ? 'same   ' : write ? 'written' : 'DIFFERS'} ${join(VECTORS_DIR, name)}\n`)
  }
  if (!write && differ > 0) process.exitCode = 1
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((err) => { console.error(err); process.exitCode = 1 })
}
