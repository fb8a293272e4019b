/**
 * A fast path for the decoder that splits Noise's incoming bytes into messages (@libp2p/utils
 * `LengthPrefixedDecoder`, used by @chainsafe/libp2p-noise's encrypted stream). After the last
 * whole message of a chunk the decoder asks its length decoder for the next length anyway, and
 * learns that there is none from the RangeError Noise's `uint16BEDecode` throws: a new error,
 * with its stack trace captured, for nearly every chunk a connection receives. That was 9.4% of
 * the busy CPU of 30 idle agents (bench:scale --traffic 30 --profile) and costs 4.5-5.3 µs a
 * chunk against 0.8 without it (the same decoder fed 300,000 one-message chunks). Lodestar met
 * the same pattern in mplex (ChainSafe/lodestar#3467); the fix belongs upstream (check the
 * buffer's length before decoding one, docs/benchmarks.md says so with the figures).
 *
 * Until then: each decoder's length decoder is wrapped, on its first use, so that an empty
 * buffer throws one RangeError made once here instead of a new one. Every length decoder throws
 * a RangeError for no bytes at all (Noise's two-byte one, a varint's), and the decoder reads an
 * empty buffer as "wait for more", so what it yields and when is unchanged; the rest of
 * `decode` is libp2p's own. test/noise-decoder.test.ts counts the errors made over a real
 * connection.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { Uint8ArrayList } from 'uint8arraylist'

type LengthDecoder = ((data: Uint8ArrayList | Uint8Array) => number) & { quick?: true }
interface Internals { lengthDecoder: LengthDecoder, decode: (buf: Uint8Array | Uint8ArrayList) => Generator<Uint8ArrayList> }

/** Thrown for every empty buffer: no stack to capture, nothing to allocate. */
const NO_BYTES = new RangeError('no bytes for a length prefix')

const proto = LengthPrefixedDecoder.prototype as unknown as Internals
const decode = proto.decode
if ((decode as { quick?: true }).quick !== true) {
  const patched = function (this: Internals, buf: Uint8Array | Uint8ArrayList): Generator<Uint8ArrayList> {
    if (this.lengthDecoder.quick !== true) {
      const inner = this.lengthDecoder
      const quick: LengthDecoder = (data) => { if (data.byteLength === 0) throw NO_BYTES; return inner(data) }
      quick.quick = true
      this.lengthDecoder = quick
    }
    return decode.call(this, buf)
  }
  proto.decode = Object.assign(patched, { quick: true as const })
}
