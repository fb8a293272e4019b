/**
 * Noise's length prefixes read without a new RangeError per chunk, on our own connections only.
 *
 * Measured on @chainsafe/libp2p-noise 17.0.0 with @libp2p/utils 7.4.1 (the versions
 * test/node/adaptations/adaptations.test.ts pins; its source hashes fail when either changes the code this relies
 * on). Noise's encrypted stream splits incoming bytes with @libp2p/utils `LengthPrefixedDecoder`,
 * which after the last whole message of a chunk asks its length decoder for the next length
 * anyway, and learns that there is none from the RangeError Noise's `uint16BEDecode` throws: a
 * new error, with its stack trace captured, for nearly every chunk a connection receives. That
 * was 9.4% of the busy CPU of 30 idle agents (bench:scale --traffic 30 --profile) and costs
 * 4.5-5.3 µs a chunk against 0.8 without it (bench/wire-micro.ts). The upstream issue text is in
 * docs/upstream.md; Lodestar met the same pattern in mplex (ChainSafe/lodestar#3467).
 *
 * Until it is fixed there: the encrypter our node is built with wraps each connection it
 * secures, and gives that connection's decoder a length decoder that, for an empty buffer,
 * answers the decoder's own `maxDataLength`: a length it accepts, whose message the empty buffer
 * cannot hold, so `decode` stops to wait for more bytes, as it does on the RangeError every
 * length decoder throws for no bytes at all. What it yields and when is unchanged, and nothing is
 * thrown (a RangeError made once and thrown each time, the first version, still cost its unwinding:
 * 3-4% of an idle agent's and of a paced receiver's busy CPU, 2026-11-29). A decoder without a
 * usable `maxDataLength` gets that first version. No class is touched: a host's own libp2p nodes
 * in the same process decode as libp2p has it.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'
import type { ConnectionEncrypter } from '@libp2p/interface'
import type { Uint8ArrayList } from 'uint8arraylist'

type LengthDecoder = ((data: Uint8ArrayList | Uint8Array) => number) & { quick?: true }

/** Thrown for every empty buffer: no stack to capture, nothing to allocate. */
const NO_BYTES = new RangeError('no bytes for a length prefix')

/**
 * The connection encrypter `factory` makes, with every connection it secures given quick length
 * prefixes. A connection whose shape is not the one measured (no `decoder` that is a
 * LengthPrefixedDecoder) is left as it is: slower, never wrong.
 */
export function quickNoiseLengths<C, E> (factory: (components: C) => ConnectionEncrypter<E>): (components: C) => ConnectionEncrypter<E> {
  return (components) => {
    const encrypter = factory(components)
    const inbound = encrypter.secureInbound.bind(encrypter)
    const outbound = encrypter.secureOutbound.bind(encrypter)
    encrypter.secureInbound = async (connection, options) => quicken(await inbound(connection, options))
    encrypter.secureOutbound = async (connection, options) => quicken(await outbound(connection, options))
    return encrypter
  }
}

function quicken<S extends { connection: unknown }> (secured: S): S {
  quickLengths((secured.connection as { decoder?: unknown }).decoder)
  return secured
}

/** Give `decoder` (Noise's LengthPrefixedDecoder of one connection) the quick length decoder. */
export function quickLengths (decoder: unknown): void {
  if (!(decoder instanceof LengthPrefixedDecoder)) return
  // Private in its types, an own field of each instance in its code (pinned by the test).
  const fields = decoder as unknown as { lengthDecoder?: LengthDecoder }
  const inner = fields.lengthDecoder
  if (typeof inner !== 'function' || inner.quick === true) return
  // An own field its constructor sets (default 4 MiB; Noise's connections keep the default). Not
  // among the pinned code: were it gone or unusable, the throwing version below applies, slower only.
  const wait = (decoder as unknown as { maxDataLength?: unknown }).maxDataLength
  const quick: LengthDecoder = typeof wait === 'number' && wait > 0 && Number.isSafeInteger(wait)
    ? (data) => data.byteLength === 0 ? wait : inner(data)
    : (data) => { if (data.byteLength === 0) throw NO_BYTES; return inner(data) }
  quick.quick = true
  fields.lengthDecoder = quick
}
