/**
 * Our adaptations of libp2p (node/adaptations/) apply to our nodes and to nothing else, and each
 * still fits the code it was measured on.
 * - A host process that runs its own libp2p and embeds agentmesh (test/fixtures/host-process.ts)
 *   keeps its classes as they were, and its own connections behave as libp2p has them (a yamux
 *   stream with js-yamux's window updates, TCP's own sends, a RangeError per chunk in Noise's
 *   decoder), while agentmesh's nodes beside them are adapted.
 * - The upstream code each adaptation relies on is pinned by a hash of its source, with the
 *   package version it was measured on: an `npm update` that changes it fails here, saying which
 *   adaptation to measure again (docs/upstream.md has each one's figures and upstream issue).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { YamuxStream } from '@chainsafe/libp2p-yamux/stream'
import { Proc } from '../../helpers.js'

const HOST = fileURLToPath(new URL('../../fixtures/host-process.js', import.meta.url))

test('a host that embeds agentmesh keeps its own libp2p as it was: classes unchanged, its connections not adapted, ours adapted', { timeout: 3 * 60_000 }, async () => {
  const host = new Proc([HOST])
  try {
    const seen = await host.json(o => 'changed' in o, 'the host\'s findings', 60_000)
    assert.deepEqual(seen.changed, { LengthPrefixedDecoder: [], YamuxStream: [] }, 'no property of a host class changed')
    assert.deepEqual(seen.hostStream, { isYamux: true, ownWindowUpdate: false }, 'the host\'s yamux stream gives its window back as js-yamux does')
    assert.deepEqual(seen.ourStream, { isYamux: true, ownWindowUpdate: true }, 'an agentmesh stream gives it back at half the window')
    assert.equal(seen.hostTcp?.ownSendData, false, 'the host\'s TCP connection sends as @libp2p/tcp does')
    assert.match(seen.hostTcp?.classSendData ?? '', /^sendData\(data\) \{/, 'TCP\'s class keeps its own sendData')
    // 200 round trips: about one error a chunk received on the host's connection, next to none on ours.
    assert.ok(seen.rangeErrors.host >= 200, `host connection: ${seen.rangeErrors.host} RangeErrors (Noise's decoder as libp2p has it)`)
    assert.ok(seen.rangeErrors.ours < 50, `agentmesh connection: ${seen.rangeErrors.ours} RangeErrors`)
  } finally {
    await host.stop()
  }
})

/** A package's folder and version, found from what it exports. */
function pkg (name: string, exported = name): { dir: string, version: string } {
  let dir = dirname(fileURLToPath(import.meta.resolve(exported)))
  while (!dir.endsWith(join('node_modules', ...name.split('/')))) dir = dirname(dir)
  return { dir, version: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).version }
}
/** The text of a method of a compiled class, from its name to the closing brace at its indent. */
function method (file: string, signature: string): string {
  const text = readFileSync(file, 'utf8')
  const m = new RegExp(`\\n( +)${signature.replace(/[()[\]{}.*+?^$|\\]/g, '\\$&')} \\{[\\s\\S]*?\\n\\1\\}`).exec(text)
  assert.ok(m !== null, `${signature} in ${file}`)
  return m[0]
}
const sha = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 16)

/**
 * What each adaptation relies on, the version it was measured on, and the hash of that code then.
 * When one fails: read the new code, measure the adaptation again (bench/wire-micro.ts,
 * bench:coordination), update or remove it, then the figures in docs/upstream.md, then here.
 */
const PINS: Array<{ adaptation: string, package: string, measured: string, code: () => string, hash: string }> = [
  {
    adaptation: 'noise-lengths.ts: a RangeError from the length decoder, or a length up to maxDataLength the buffer cannot hold, means "wait for more bytes"',
    package: '@libp2p/utils',
    measured: '7.4.1',
    code: () => LengthPrefixedDecoder.prototype.decode.toString(),
    hash: 'c5f365bb64c2c0f7'
  },
  {
    adaptation: 'noise-lengths.ts: each encrypted connection has its own LengthPrefixedDecoder in `decoder`, with Noise\'s two-byte length decoder',
    package: '@chainsafe/libp2p-noise',
    measured: '17.0.0',
    code: () => method(join(pkg('@chainsafe/libp2p-noise').dir, 'dist/src/utils.js'), 'constructor(stream, handshake, metrics)'),
    hash: 'dd79bb87da081fbe'
  },
  {
    adaptation: 'yamux-half-window.ts: a stream\'s window update and the fields it reads',
    package: '@chainsafe/libp2p-yamux',
    measured: '8.0.1',
    code: () => YamuxStream.prototype.sendWindowUpdate.toString(),
    hash: 'ad75cb27323f9a29'
  },
  {
    adaptation: 'yamux-half-window.ts: every stream of a muxer is made by its _newStream',
    package: '@chainsafe/libp2p-yamux',
    measured: '8.0.1',
    code: () => method(join(pkg('@chainsafe/libp2p-yamux').dir, 'dist/src/muxer.js'), '_newStream(streamId, state, direction)'),
    hash: '6a24e0ca5b48f897'
  },
  {
    adaptation: 'tcp-cork.ts: a send is sendData writing each buffer of the list to the socket',
    package: '@libp2p/tcp',
    measured: '11.0.28',
    code: () => method(join(pkg('@libp2p/tcp').dir, 'dist/src/socket-to-conn.js'), 'sendData(data)'),
    hash: '4a025f828fa7c475'
  }
]

test('each adaptation of libp2p still fits the upstream code it was measured on (source hashes)', { timeout: 3 * 60_000 }, () => {
  const changed: string[] = []
  for (const pin of PINS) {
    const got = sha(pin.code())
    if (got !== pin.hash) changed.push(`${pin.adaptation}: ${pin.package} ${pkg(pin.package).version} (measured on ${pin.measured}) hashes ${got}, pinned ${pin.hash}`)
  }
  assert.deepEqual(changed, [], 'upstream code changed under an adaptation: measure it again (docs/upstream.md)')
})
