/**
 * Every decoder and schema entry point of agentmesh as a fuzz target, and the property each must
 * keep (`once`): whatever it is fed, it returns a valid value or throws an AgentMeshError with one
 * of the codes it may refuse with; never another error, never a call that runs for seconds, never
 * a key planted on Object.prototype. Shared by test/mesh/fuzz.test.ts (a short run) and bench/fuzz.ts
 * (`npm run fuzz`, a long one).
 */
import { writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import fc from 'fast-check'
import type { Stream } from '@libp2p/interface'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { AgentMeshError, ValidationError, errorFromWire, isErrorCode, type ErrorCode } from '../protocols/core/errors.js'
import {
  DEFAULT_MAX_MESSAGE_BYTES, WireError, decodeBatch, decodeEnvelope, encodeBatch, encodeEnvelope, frameJson, makeEnvelope, peekId, type Envelope
} from '../protocols/envelope/index.js'
import { FrameDecoder, joinFrames } from '../protocols/rpc/frames.js'
import { FramedStream } from '../protocols/rpc/framed-stream.js'
import { issueCredential, newOwnerKey, verifyCredential } from '../protocols/admission/credential.js'
import { signRevocations, verifyRevocations } from '../protocols/admission/revocation.js'
import { ElectionStateFile } from '../protocols/coordination/election-state-file.js'
import { SealingService } from '../protocols/sealing/index.js'
import { openGroups } from '../protocols/pubsub/sealed-batch.js'
import { decodeBatchFrame, encodeSectionBatch, encodeSharedBatch, envelopeToJson, splitJson } from '../protocols/envelope/index.js'
import { configFromEnv, configFromFile, configKeys, parseConfig } from '../node/config.js'
import { loadOrCreateIdentity } from '../node/identity.js'
import { PAYLOAD_HOLE, POLLUTION_MARK, chunked, framedChunks, frameBodies, hostile, messagesLike, wireBytes } from './fuzz-inputs.js'
import { samples, type Sample } from './fuzz-samples.js'

export interface Target {
  name: string
  /** The codes a refusal may carry: a refusal with another code, or an error that is no AgentMeshError, fails. */
  codes: readonly ErrorCode[]
  input: fc.Arbitrary<unknown>
  run: (input: unknown) => unknown
  /** Checks of a value the entry point accepted; throws when it is wrong. */
  accepted?: (value: unknown, input: unknown) => void
}

/** One call longer than this is a hang for the property (the machine may be loaded: generous). */
export const CALL_LIMIT_MS = 2_000

const prototypes = [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype]
const pristine = prototypes.map(p => Object.getOwnPropertyNames(p).join())

/** The property: `t` given `input` returns a valid value or refuses with a typed error, in time, leaving prototypes alone. */
export async function once (t: Target, input: unknown): Promise<void> {
  const started = performance.now()
  let value: unknown
  let failure: unknown
  let threw = false
  try { value = await t.run(input) } catch (err) { threw = true; failure = err }
  const took = performance.now() - started
  prototypes.forEach((p, i) => {
    if (Object.getOwnPropertyNames(p).join() !== pristine[i]) throw new Error(`${t.name}: a prototype gained a key`)
  })
  if (POLLUTION_MARK in {}) throw new Error(`${t.name}: Object.prototype was polluted`)
  if (took > CALL_LIMIT_MS) throw new Error(`${t.name}: one call took ${Math.round(took)} ms`)
  if (threw) {
    if (failure instanceof AgentMeshError && t.codes.includes(failure.code)) return
    const what = failure instanceof Error ? `${failure.constructor.name} ${(failure as { code?: string }).code ?? ''}: ${failure.message}` : String(failure)
    throw new Error(`${t.name}: refused with ${what.slice(0, 500)} (expected an AgentMeshError with ${t.codes.join('/') || 'no error at all'})`, { cause: failure })
  }
  t.accepted?.(value, input)
}

function check (ok: boolean, what: string): void {
  if (!ok) throw new Error(what)
}

/** An accepted message must be sendable again: JSON of it parses back to a value its schema accepts. */
function reencodes (schema: Sample['schema']) {
  return (v: unknown): void => {
    const again = schema.safeParse(JSON.parse(JSON.stringify(v)))
    check(again.success, `accepted, but its JSON is refused: ${again.error?.issues[0]?.message ?? ''}`)
  }
}

/** A stream that delivers `chunks`, then ends: what FramedStream reads a conversation from. */
function fakeStream (chunks: readonly Uint8Array[]): Stream {
  return { [Symbol.asyncIterator]: async function * () { yield * chunks } } as unknown as Stream
}

function hasOwnProtoKey (v: unknown): boolean {
  if (typeof v !== 'object' || v === null) return false
  if (Array.isArray(v)) return v.some(hasOwnProtoKey)
  return Object.hasOwn(v, '__proto__') || Object.values(v).some(hasOwnProtoKey)
}

/** The targets; `dir` is a scratch folder for the file loaders. */
export async function makeTargets (dir: string): Promise<Target[]> {
  const owner = await newOwnerKey()
  const agentKey = await newOwnerKey()
  const [a, b] = [peerIdFromPrivateKey(agentKey).toString(), peerIdFromPrivateKey(owner).toString()]
  const issuer = b
  const now = Date.now()
  const credential = await issueCredential(owner, { mesh: 'fuzz', subject: a, roles: ['agent', 'coordinator'], capabilities: ['gpu'], issuedAt: now, expiresAt: now + 3_600_000 })
  const revocations = await signRevocations(owner, { mesh: 'fuzz', serials: [credential.serial, 'b'.repeat(32)], subjects: [a], issuedAt: now })
  const env = makeEnvelope({ source: a, destination: { peer: b }, type: 'REQUEST', subject: 'echo', payload: PAYLOAD_HOLE, ttl: 5_000, headers: { traceparent: 'x' } })
  const MAX = 64 * 1024
  // A payload the agent sealed for the owner's peer id; the owner's service opens what peers send.
  const sealing = (privateKey: typeof owner): SealingService => new SealingService({ privateKey, mesh: 'fuzz', rotationMs: 3_600_000, graceMs: 3_600_000, withRole: () => [] })
  const plain = { task: 'fuzz', n: 1 }
  const sealed = sealing(agentKey).seal('fuzz-topic', plain, [b]).payload
  const opener = sealing(owner)
  // A batch's group as the agent seals it for the owner: the parts, in envelopes with fixed ids.
  const grouper = sealing(agentKey)
  const groupValues = [plain, 'two', [3]]
  const groupIds = groupValues.map((_, i) => `env-${i}`)
  const groupParts = grouper.sealGroup('fuzz-topic', grouper.forGroup('fuzz-topic', [b]).recipients, groupValues.map(v => JSON.stringify(v)), groupIds)
  // The same group in a batch with binary sections (0x04), beside a plain envelope: its frame, to change byte by byte.
  const sectioned = grouper.sealGroupSection('fuzz-topic', grouper.forGroup('fuzz-topic', [b]).recipients, groupValues.map(v => JSON.stringify(v)), groupIds, 0)
  const sectionEnvs = sectioned.parts.map((payload, i) => ({ ...makeEnvelope({ source: a, destination: { topic: 'fuzz-topic' }, type: 'EVENT', subject: 'fuzz-topic', payload: 0, id: `env-${i}` }), payload }))
  const plainEnv = makeEnvelope({ source: a, destination: { topic: 'fuzz-topic' }, type: 'EVENT', subject: 'fuzz-topic', payload: plain, id: 'env-plain' })
  const sectionFrame = encodeSectionBatch([...sectionEnvs, plainEnv].map(e => JSON.stringify(e)), [sectioned.ct])
  const sectionFrames: fc.Arbitrary<Uint8Array> = fc.oneof(
    {
      weight: 4,
      arbitrary: fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 24 }))
        .map(([flips, cut, tail]) => {
          const bytes = Buffer.from(sectionFrame)
          for (const [at, byte] of flips) bytes[at % bytes.byteLength] = byte
          return Buffer.concat([bytes.subarray(0, bytes.byteLength - (cut % 8 === 0 ? cut % bytes.byteLength : 0)), tail])
        })
    },
    {
      weight: 2,
      arbitrary: fc.tuple(messagesLike([...sectionEnvs, plainEnv]), fc.array(fc.uint8Array({ maxLength: 80 }), { maxLength: 4 }))
        .map(([v, extra]) => encodeSectionBatch([JSON.stringify(v) ?? 'null'].map(t => t.slice(1, -1)), [sectioned.ct, ...extra]))
    },
    wireBytes([env, env]).map(bytes => Uint8Array.from([0x04, ...bytes.subarray(1)])),
    fc.uint8Array({ maxLength: 64 }).map(bytes => Uint8Array.from([0x04, ...bytes]))
  )
  // A batch with a shared head (0x05) of three topic envelopes: its frame changed byte by byte, and its head and own parts changed as values.
  const headEnvs = [plainEnv, ...sectionEnvs.slice(0, 2).map(e => ({ ...e, payload: plain }))].map(splitJson)
  const headOwns = headEnvs.map(x => JSON.parse(x.own) as unknown)
  const sharedFrame = encodeSharedBatch(headEnvs[0].shared, headEnvs.map(x => x.own))
  const sharedFrames: fc.Arbitrary<Uint8Array> = fc.oneof(
    {
      weight: 3,
      arbitrary: fc.tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 4 }), fc.nat(), fc.uint8Array({ maxLength: 24 }))
        .map(([flips, cut, tail]) => {
          const bytes = Buffer.from(sharedFrame)
          for (const [at, byte] of flips) bytes[1 + (at % (bytes.byteLength - 1))] = byte
          return Buffer.concat([bytes.subarray(0, bytes.byteLength - (cut % 8 === 0 ? cut % bytes.byteLength : 0)), tail])
        })
    },
    { weight: 2, arbitrary: messagesLike(JSON.parse(headEnvs[0].shared)).map(h => encodeSharedBatch(JSON.stringify(h) ?? 'null', headEnvs.map(x => x.own))) },
    { weight: 2, arbitrary: messagesLike(headOwns).map(o => encodeSharedBatch(headEnvs[0].shared, (Array.isArray(o) ? o : [o]).map(x => JSON.stringify(x) ?? 'null'))) },
    fc.uint8Array({ maxLength: 64 }).map(bytes => Uint8Array.from([0x05, ...bytes]))
  )
  const inEnvelopes = (x: unknown): Envelope[] => (Array.isArray(x) ? x : [x]).map((payload, i) => ({ ...makeEnvelope({ source: a, destination: { topic: 'fuzz-topic' }, type: 'EVENT', subject: 'fuzz-topic', payload: 0, id: `env-${i}` }), payload }))
  const targets: Target[] = [
    {
      name: 'envelope: decodeEnvelope',
      codes: ['MSG001', 'MSG002'],
      input: wireBytes(env),
      run: x => decodeEnvelope(x as Uint8Array, MAX),
      accepted: v => { check(isDeepStrictEqual(decodeEnvelope(encodeEnvelope(v as Envelope), 2 * MAX), v), 'an accepted envelope does not survive re-encoding') }
    },
    {
      name: 'envelope: decodeBatch',
      codes: ['MSG001', 'MSG002'],
      input: fc.oneof(wireBytes([env, env]), wireBytes(env)),
      run: x => decodeBatch(x as Uint8Array, MAX),
      accepted: v => { for (const e of v as Envelope[]) encodeEnvelope(e) }
    },
    {
      name: 'envelope: peekId',
      codes: [],
      input: wireBytes(env),
      run: x => peekId(x as Uint8Array),
      accepted: v => { check(v === undefined || (typeof v === 'string' && v.length <= 128), `peekId gave ${String(v)}`) }
    },
    {
      name: 'rpc: FrameDecoder',
      codes: ['MSG002'],
      input: framedChunks,
      run: x => {
        const decoder = new FrameDecoder(4096)
        return (x as Uint8Array[]).flatMap(chunk => [...decoder.push(chunk)])
      },
      accepted: v => { check((v as Uint8Array[]).every(f => f.byteLength <= 4096), 'a frame over the limit') }
    },
    {
      name: 'rpc: frames survive any chunking',
      codes: [],
      input: fc.array(fc.uint8Array({ maxLength: 600 }), { maxLength: 5 }).chain(frames =>
        chunked(fc.constant(joinFrames(frames))).map(chunks => ({ frames, chunks }))),
      run: x => {
        const decoder = new FrameDecoder(4096)
        return { got: (x as { chunks: Uint8Array[] }).chunks.flatMap(c => [...decoder.push(c)].map(f => Buffer.from(f))), left: decoder.buffered }
      },
      accepted: (v, x) => {
        const { got, left } = v as { got: Buffer[], left: number }
        check(left === 0 && isDeepStrictEqual(got, (x as { frames: Uint8Array[] }).frames.map(f => Buffer.from(f))), 'frames changed on the way')
      }
    },
    {
      name: 'rpc: FramedStream.readJson',
      codes: ['MSG001', 'MSG002', 'COM002'],
      input: fc.oneof(framedChunks, chunked(frameBodies.map(body => joinFrames([body])))),
      run: async x => await new FramedStream(fakeStream(x as Uint8Array[]), 4096).readJson(WireError)
    },
    {
      name: 'errors: errorFromWire',
      codes: ['MSG001'],
      input: messagesLike({ code: 'MSG002', name: 'MessageTooLargeError', message: 'message of 9 bytes is over the limit of 1 bytes' }),
      run: x => {
        const w = WireError.safeParse(x)
        if (!w.success) throw new ValidationError('not a wire error')
        return errorFromWire(w.data)
      },
      accepted: v => { check(v instanceof AgentMeshError && isErrorCode(v.code), 'errorFromWire gave an error without a spec code') }
    },
    {
      name: 'admission: verifyCredential',
      codes: ['SEC001'],
      input: messagesLike(credential),
      run: async x => await verifyCredential(x, { issuer, mesh: 'fuzz', subject: a, now }),
      // The signature covers every field: whatever verifies is the credential as issued.
      accepted: v => { check(isDeepStrictEqual(v, credential), 'a changed credential verified') }
    },
    {
      name: 'admission: verifyRevocations',
      codes: ['SEC001'],
      input: messagesLike(revocations),
      run: async x => await verifyRevocations(x, { mesh: 'fuzz', issuer }),
      accepted: v => {
        const sorted = (l: typeof revocations): unknown => ({ ...l, serials: [...l.serials].sort(), subjects: [...l.subjects].sort() })
        check(isDeepStrictEqual(sorted(v as typeof revocations), sorted(revocations)), 'a changed revocation list verified')
      }
    },
    {
      // A refusal is an answer here (`ok: false`, SEC003 inside), never a throw; AEAD: whatever opens is what was sealed.
      name: 'sealing: SealingService.open',
      codes: [],
      input: messagesLike(sealed),
      run: x => { const r = opener.open('fuzz-topic', a, x); return r.ok ? r.value : undefined },
      accepted: v => { check(v === undefined || isDeepStrictEqual(v, plain), 'a changed sealed payload opened to something else') }
    },
    {
      // The same for a batch's sealed group (version 3): a part moved, changed, dropped or added opens nothing, or what was sealed there.
      name: 'sealing: openGroups',
      codes: [],
      input: messagesLike(groupParts),
      run: x => (openGroups(opener, 'fuzz-topic', inEnvelopes(x)) ?? []).map(r => r?.ok === true ? r.value : undefined),
      accepted: v => { (v as unknown[]).forEach((x, i) => { check(x === undefined || isDeepStrictEqual(x, groupValues[i]), 'a changed sealed group opened to something else') }) }
    },
    {
      // A batch with binary sections (0x04): its framing refused with MSG002 or taken; whatever opens of its group is what was sealed there.
      name: 'envelope: decodeBatchFrame (0x04) and its groups',
      codes: ['MSG001', 'MSG002'],
      input: sectionFrames,
      run: x => {
        const { envs, sections } = decodeBatchFrame(x as Uint8Array, MAX)
        check(sections.length <= envs.length, `${sections.length} sections for ${envs.length} envelopes`)
        return (openGroups(opener, 'fuzz-topic', envs, sections) ?? []).map((r, i) => r?.ok === true ? { id: envs[i].id, value: r.value } : undefined)
      },
      accepted: v => {
        for (const o of v as Array<{ id: string, value: unknown } | undefined>) {
          if (o !== undefined) check(isDeepStrictEqual(o.value, groupValues[groupIds.indexOf(o.id)]), 'a changed 0x04 batch opened a group to something else')
        }
      }
    },
    {
      // A batch with a shared head (0x05): refused with MSG001/MSG002, or envelopes that a 0x01 batch of them decodes to alike, within the limit.
      name: 'envelope: decodeBatchFrame (0x05)',
      codes: ['MSG001', 'MSG002'],
      input: sharedFrames,
      run: x => decodeBatchFrame(x as Uint8Array, MAX),
      accepted: v => {
        const { envs, plainBytes } = v as ReturnType<typeof decodeBatchFrame>
        check(plainBytes <= MAX, `a 0x05 batch taken whose 0x01 form is ${plainBytes} bytes`)
        check(isDeepStrictEqual(decodeBatch(encodeBatch(envs.map(envelopeToJson)), 2 * MAX), envs), 'a 0x05 batch decoded to envelopes its 0x01 form does not')
      }
    },
    ...configTargets(dir),
    ...await fileTargets(dir, a),
    ...samples(a, b).map(s => schemaTarget(s, a, b))
  ]
  return targets
}

/** A schema reached the way a peer's message reaches it: inside an envelope, a gossip batch or a conversation frame. */
function schemaTarget (s: Sample, a: string, b: string): Target {
  const codes: ErrorCode[] = s.path === 'stream' ? ['MSG001', 'MSG002', 'COM002'] : ['MSG001', 'MSG002']
  const input = s.path === 'stream'
    ? chunked(messagesLike(s.valid).map(v => joinFrames([Buffer.from(JSON.stringify(v))])))
    : messagesLike(s.valid)
  const validate = (payload: unknown): unknown => {
    const r = s.schema.safeParse(payload)
    if (!r.success) throw new ValidationError(`${s.name}: ${r.error.issues[0]?.message ?? 'invalid'}`)
    return r.data
  }
  const run = s.path === 'stream'
    ? async (x: unknown) => await new FramedStream(fakeStream(x as Uint8Array[]), DEFAULT_MAX_MESSAGE_BYTES).readJson(s.schema)
    : s.path === 'rpc'
      ? (x: unknown) => {
          const env = makeEnvelope({ source: a, destination: { peer: b }, type: 'REQUEST', subject: s.name, payload: x })
          return validate(decodeEnvelope(frameJson(JSON.stringify(env)), DEFAULT_MAX_MESSAGE_BYTES).payload)
        }
      : (x: unknown) => {
          const env = makeEnvelope({ source: a, destination: { topic: 'fuzz' }, type: 'EVENT', subject: s.name, payload: x })
          return decodeBatch(encodeBatch([JSON.stringify(env)]), DEFAULT_MAX_MESSAGE_BYTES).map(e => validate(e.payload))[0]
        }
  return { name: `${s.path}: ${s.name}`, codes, input, run, accepted: reencodes(s.schema) }
}

function configTargets (dir: string): Target[] {
  const valid = {
    mesh: 'm1',
    preset: 'local',
    name: 'n',
    roles: ['agent'],
    listen: ['/ip4/127.0.0.1/tcp/0'],
    debug: '127.0.0.1:8001',
    identity: join(dir, 'id.json'),
    rpc: { window: 8 },
    membership: { heartbeatIntervalMs: 300 },
    coordination: { electionTimeoutMaxMs: 3_000 },
    security: { mode: 'open' }
  }
  const names = configKeys().map(k => k.env)
  return [
    {
      name: 'config: parseConfig',
      codes: ['CFG001'],
      input: messagesLike(valid),
      run: x => parseConfig(x),
      // No schema key is "__proto__": one in the input is an unknown key, never a prototype to read values from.
      accepted: (v, x) => { check(!hasOwnProtoKey(x), 'a configuration with a "__proto__" key was accepted'); JSON.stringify(v) }
    },
    {
      name: 'config: configFromEnv',
      codes: ['CFG001'],
      input: fc.dictionary(fc.oneof({ weight: 5, arbitrary: fc.constantFrom(...names) }, fc.constantFrom('AGENTMESH_NOPE', 'AGENTMESH_TEST_X', 'PATH')),
        hostile.map(v => typeof v === 'string' ? v : JSON.stringify(v)), { maxKeys: 4 }),
      run: x => parseConfig(configFromEnv(x as NodeJS.ProcessEnv))
    }
  ]
}

/** The loaders of files a node reads at start: config, election state, identity. */
async function fileTargets (dir: string, peer: string): Promise<Target[]> {
  const identity = join(dir, 'identity.json')
  await loadOrCreateIdentity(identity)
  const { readFile } = await import('node:fs/promises')
  const validIdentity = JSON.parse(await readFile(identity, 'utf8'))
  const texts = (valid: unknown): fc.Arbitrary<string> => fc.oneof(
    { weight: 4, arbitrary: messagesLike(valid).map(v => JSON.stringify(v)) },
    fc.string({ maxLength: 64 }),
    fc.uint8Array({ maxLength: 64 }).map(bytes => Buffer.from(bytes).toString('latin1'))
  )
  const loader = (name: string, file: string, valid: unknown, load: (path: string) => unknown): Target => ({
    name,
    codes: ['CFG001'],
    input: texts(valid),
    run: async x => { await writeFile(file, x as string, { mode: 0o600 }); return await load(file) }
  })
  return [
    loader('file: configFromFile', join(dir, 'config.json'), { mesh: 'm1', rpc: { window: 4 } }, async p => parseConfig(await configFromFile(p))),
    loader('file: election state', join(dir, 'election.json'), { term: 3, votedFor: peer, config: { version: 1, term: 1, voters: [peer] } }, p => new ElectionStateFile(p).load()),
    loader('file: identity', identity, validIdentity, async p => await loadOrCreateIdentity(p))
  ]
}
