/**
 * Compressed frames in a browser bundle (tools/build-browser.ts takes this file for
 * compression.ts): a tab has no zlib, so it accepts no codec (its fan-out hello says so, and no
 * peer sends it a compressed frame) and writes every frame plain, whatever its `compression`
 * setting. A compressed frame that arrives anyway is refused as undecodable (MSG002).
 */
import { SerializationError } from '../core/errors.js'

export type CompressionCodec = 'deflate' | 'brotli'
export const COMPRESSION_CODECS: readonly CompressionCodec[] = []

export const WIRE_COMPRESSED: Readonly<Record<CompressionCodec, number>> = { deflate: 0x11, brotli: 0x12 }

/** The frame as it is: a browser bundle does not compress. */
export function compressFrame (frame: Uint8Array, _codec: CompressionCodec): Uint8Array { return frame }

export function codecOf (frame: Uint8Array): CompressionCodec | undefined {
  if (frame.byteLength === 0) return undefined
  if (frame[0] === WIRE_COMPRESSED.deflate) return 'deflate'
  if (frame[0] === WIRE_COMPRESSED.brotli) return 'brotli'
  return undefined
}

export function inflateFrame (frame: Uint8Array, _maxBytes: number): Uint8Array {
  const codec = codecOf(frame)
  if (codec !== undefined) throw new SerializationError(`a ${codec} frame, and this browser build has no decompression`)
  return frame
}
