/**
 * Property-based fuzzing of every decoder and schema entry point (harness/fuzz-targets.ts): a short
 * run with a fixed seed. AGENTMESH_TEST_FUZZ_SEED and AGENTMESH_TEST_FUZZ_RUNS change them; the
 * long run is `npm run fuzz -- --runs N --seed S` (bench/fuzz.ts). A failure prints the seed and
 * the smallest counterexample fast-check found.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { RPC_PROTOCOL } from '../../surfaces/index.js'
import { isErrorCode } from '../../protocols/core/errors.js'
import { decodeEnvelope, encodeEnvelope, makeEnvelope, type Envelope } from '../../protocols/envelope/index.js'
import { FrameDecoder, joinFrames } from '../../protocols/rpc/frames.js'
import { CALL_LIMIT_MS, makeTargets, once } from '../../harness/fuzz-targets.js'
import { PAYLOAD_HOLE, chunked, framedChunks, wireBytes } from '../../harness/fuzz-inputs.js'
import { samples } from '../../harness/fuzz-samples.js'
import { startMesh, stopAll, waitFor, withTempDir } from '../helpers.js'

const SEED = Number(process.env.AGENTMESH_TEST_FUZZ_SEED ?? 13)
const RUNS = Number(process.env.AGENTMESH_TEST_FUZZ_RUNS ?? 40)

test('fuzz: every valid sample parses, so mutating it reaches past the first check', { timeout: 3 * 60_000 }, () => {
  const id = '12D3KooWLTDZ8mNdoC2YAkgd4emA2M6w6ZVNQ7Ew5yFmyrCWF2kC'
  for (const s of samples(id, id)) {
    const r = s.schema.safeParse(s.valid)
    assert.ok(r.success, `${s.name}: ${JSON.stringify(r.error?.issues)}`)
  }
})

test('fuzz: decoders and schemas return a valid value or a typed error, in time, leaving prototypes alone', { timeout: 3 * 60_000 }, async (t) => {
  t.diagnostic(`seed ${SEED}, ${RUNS} runs per target`)
  await withTempDir(async (dir) => {
    for (const target of await makeTargets(dir)) {
      await fc.assert(fc.asyncProperty(target.input, async (x) => { await once(target, x) }), {
        seed: SEED,
        numRuns: RUNS,
        // A shrink of a slow counterexample could take long: the first failure is enough here.
        endOnFailure: true,
        includeErrorInReport: true,
        timeout: 5 * CALL_LIMIT_MS
      })
    }
  })
})

test('fuzz: a node fed random frames on /agentmesh/rpc answers typed errors or closes the stream, and serves an honest request after', { timeout: 3 * 60_000 }, async (t) => {
  const runs = Math.max(1, Math.round(RUNS / 4))
  t.diagnostic(`seed ${SEED}, ${runs} runs`)
  const [victim, attacker] = await startMesh(2, () => ({ rpc: { stallTimeoutMs: 500 } }))
  try {
    victim.handle('echo', (x) => x)
    const request = makeEnvelope({ source: attacker.peerId, destination: { peer: victim.peerId }, type: 'REQUEST', subject: 'echo', payload: PAYLOAD_HOLE })
    const envelopes = chunked(fc.array(wireBytes(request), { minLength: 1, maxLength: 4 }).map(frames => joinFrames(frames)))
    const input = fc.oneof(framedChunks, { weight: 2, arbitrary: envelopes })
    // The victim runs in this process: a promise it leaves rejected unhandled would crash a real node.
    const rejections: unknown[] = []
    const onRejection = (reason: unknown): void => { rejections.push(reason) }
    process.on('unhandledRejection', onRejection)
    t.after(() => { process.off('unhandledRejection', onRejection) })
    await fc.assert(fc.asyncProperty(input, async (chunks) => {
      const stream = await attacker.libp2p.dialProtocol(victim.libp2p.peerId, RPC_PROTOCOL)
      const decoder = new FrameDecoder(1 << 22)
      const answers: Envelope[] = []
      let closed = false
      stream.addEventListener('message', (e) => { for (const f of decoder.push(e.data)) answers.push(decodeEnvelope(f, 1 << 22)) })
      stream.addEventListener('close', () => { closed = true })
      try {
        for (const c of chunks) stream.send(c)
        // Where the victim's framing stands after the garbage, read as it reads it. A frame left
        // unfinished (or a broken prefix) would swallow the sentinel's bytes, and what they then
        // make depends on its random id: the victim must close such a stream (stalled, or
        // framing broken) before anything else is sent on it.
        const own = new FrameDecoder(victim.config.maxMessageBytes)
        let boundary = true
        try { for (const c of chunks) for (const _ of own.push(c)) { /* count nothing */ } boundary = own.buffered === 0 } catch { boundary = false }
        const sentinel = { ...request, id: `sentinel-${Math.random()}`, payload: 'sentinel', timestamp: Date.now() }
        if (!boundary) {
          await waitFor(() => closed, 'the stream owing a frame, or with its framing broken, closed', 20_000)
        } else {
          // An honest request after the garbage: answered if the framing survived it, else the stream is closed.
          stream.send(joinFrames([encodeEnvelope(sentinel)]))
          await waitFor(() => closed || answers.some(a => a.correlationId === sentinel.id), 'the sentinel answered or the stream closed', 20_000)
        }
        for (const a of answers) {
          if (a.error !== undefined) assert.ok(isErrorCode(a.error.code), `an answer with the code ${a.error.code}`)
        }
        const reply = answers.find(a => a.correlationId === sentinel.id)
        if (reply !== undefined) assert.equal(reply.payload, 'sentinel')
      } finally {
        stream.abort(new Error('next run'))
      }
      assert.equal(await attacker.request(victim.peerId, 'echo', 'still here', { timeoutMs: 15_000 }), 'still here')
      assert.deepEqual(rejections.map(String), [], 'the node left a promise rejected unhandled')
    }), { seed: SEED, numRuns: runs, endOnFailure: true, includeErrorInReport: true })
  } finally {
    await stopAll([victim, attacker])
  }
})
