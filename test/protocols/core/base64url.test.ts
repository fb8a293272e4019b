// base64url without patching anyone's Buffer (protocols/core/base64url.ts): Node's encoding, and the
// hand-written one the browser bundle uses over the `buffer` package (which has no base64url),
// read back by that package's base64 decoder. Random bytes from a printed seed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { fromBase64url, toBase64url, urlSafe } from '../../../protocols/core/base64url.js'
import { seededRandom } from '../../../harness/random.js'

// The npm package the browser bundle binds (node/browser/globals.ts): by its file, since in Node the
// bare name 'buffer' is Node's own module.
const { Buffer: PackageBuffer } = createRequire(import.meta.url)('buffer/index.js') as { Buffer: typeof Buffer }

test('base64url: the browser\'s hand-written form is Node\'s, and the `buffer` package (which has no base64url) reads it back', { timeout: 60_000 }, () => {
  const seed = Number(process.env.SEED ?? Math.floor(Math.random() * 2 ** 31))
  console.log(`base64url: seed ${seed} (SEED=${seed} repeats it)`)
  const random = seededRandom(seed)
  for (let i = 0; i < 500; i++) {
    const bytes = Uint8Array.from({ length: Math.floor(random() * 70) }, () => Math.floor(random() * 256))
    const native = Buffer.from(bytes).toString('base64url')
    assert.equal(toBase64url(bytes), native)
    // A view into a larger buffer encodes only its own bytes.
    const inside = new Uint8Array(bytes.length + 8); inside.set(bytes, 4)
    assert.equal(toBase64url(inside.subarray(4, 4 + bytes.length)), native)
    // What the browser bundle does with the package's Buffer: base64, then the URL-safe alphabet.
    assert.equal(urlSafe(PackageBuffer.from(bytes).toString('base64')), native)
    assert.deepEqual([...PackageBuffer.from(native, 'base64')], [...bytes], 'the package reads base64url as base64')
    assert.deepEqual([...fromBase64url(native)], [...bytes])
  }
  assert.equal(PackageBuffer.isEncoding('base64url'), false, 'the package has no base64url of its own (were it to, the hand-written form could go)')
})
