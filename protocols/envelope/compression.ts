/**
 * Compressed frames (R-CONF "compression"; docs/wire-format.md, "Compression"). A frame whose
 * first byte is WIRE_JSON_V1 is JSON; one whose first byte names a codec below carries that
 * codec's compression of the JSON bytes. Only codecs built into Node 20 (zlib); a sender
 * compresses only for a peer that said it accepts the codec (the fan-out stream's hello), so a
 * node that has never heard of compression is never sent a compressed frame.
 */
import { brotliCompressSync, brotliDecompressSync, constants, deflateRawSync, inflateRawSync } from 'node:zlib'
import { MessageTooLargeError, SerializationError } from '../core/errors.js'
import { WIRE_JSON_V1 } from './constants.js'

export type CompressionCodec = 'deflate' | 'brotli'
export const COMPRESSION_CODECS: readonly CompressionCodec[] = ['deflate', 'brotli']

/** The first byte of a frame compressed with each codec (0x01 is plain JSON; 0x02 is kept for CBOR). */
export const WIRE_COMPRESSED: Readonly<Record<CompressionCodec, number>> = { deflate: 0x11, brotli: 0x12 }

/**
 * The fast levels: measured (bench/compression.ts) within a few points of the default levels'
 * ratio on agents' payloads at a third to a tenth of the CPU; a node compresses on its hot path.
 */
const DEFLATE_LEVEL = 1
const BROTLI_QUALITY = 1

/** `frame` (WIRE_JSON_V1 then JSON) compressed with `codec`: its codec's byte, then the compressed JSON. */
export function compressFrame (frame: Uint8Array, codec: CompressionCodec): Uint8Array {
  const json = frame.subarray(1)
  const body = codec === 'deflate'
    ? deflateRawSync(json, { level: DEFLATE_LEVEL })
    : brotliCompressSync(json, { params: { [constants.BROTLI_PARAM_QUALITY]: BROTLI_QUALITY, [constants.BROTLI_PARAM_SIZE_HINT]: json.byteLength } })
  const out = Buffer.allocUnsafe(body.byteLength + 1)
  out[0] = WIRE_COMPRESSED[codec]
  out.set(body, 1)
  return out
}

/** The codec of a compressed frame, or undefined for any other first byte. */
export function codecOf (frame: Uint8Array): CompressionCodec | undefined {
  if (frame.byteLength === 0) return undefined
  if (frame[0] === WIRE_COMPRESSED.deflate) return 'deflate'
  if (frame[0] === WIRE_COMPRESSED.brotli) return 'brotli'
  return undefined
}

/**
 * A compressed frame made plain again (WIRE_JSON_V1 then the JSON); any other frame as it is.
 * The output is bounded by `maxBytes` while it is produced: a small frame that would expand past
 * the limit (a decompression bomb) is refused after `maxBytes` of work, never buffered whole.
 */
export function inflateFrame (frame: Uint8Array, maxBytes: number): Uint8Array {
  const codec = codecOf(frame)
  if (codec === undefined) return frame
  const body = frame.subarray(1)
  let json: Buffer
  try {
    const options = { maxOutputLength: maxBytes }
    json = codec === 'deflate' ? inflateRawSync(body, options) : brotliDecompressSync(body, options)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new MessageTooLargeError(maxBytes + 1, maxBytes, { cause: err })
    }
    throw new SerializationError(`${codec} frame does not decompress: ${(err as Error).message}`, { cause: err })
  }
  const out = Buffer.allocUnsafe(json.byteLength + 1)
  out[0] = WIRE_JSON_V1
  out.set(json, 1)
  return out
}
