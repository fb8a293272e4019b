import { Uint8ArrayList } from 'uint8arraylist'
import { MessageTooLargeError, SerializationError } from '../core/errors.js'

/*
 * Frames on /agentmesh/rpc/1.0.0: an unsigned varint length, then that many bytes (an encoded
 * envelope). The length is checked against the limit as soon as the prefix is read, so an
 * oversized frame is refused before its body is buffered, let alone decoded.
 */

const MAX_VARINT_BYTES = 8 // 2^56: any larger prefix is garbage, not a length

export function encodeLength (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80)
    n = Math.floor(n / 0x80)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** Length-prefix each frame and join them into one buffer: one write for many frames. */
export function joinFrames (frames: readonly Uint8Array[]): Uint8Array {
  let size = 0
  const prefixes = frames.map(f => { const p = encodeLength(f.byteLength); size += p.byteLength + f.byteLength; return p })
  const out = Buffer.allocUnsafe(size)
  let at = 0
  for (let i = 0; i < frames.length; i++) {
    out.set(prefixes[i], at); at += prefixes[i].byteLength
    out.set(frames[i], at); at += frames[i].byteLength
  }
  return out
}

/** Incremental decoder of length-prefixed frames from stream chunks. */
export class FrameDecoder {
  private readonly buffer = new Uint8ArrayList()
  constructor (private readonly maxFrameBytes: number) {}

  /** Yields every complete frame in the buffer; throws a typed error on a bad prefix. */
  * push (chunk: Uint8Array | Uint8ArrayList): Generator<Uint8Array> {
    this.buffer.append(chunk)
    while (true) {
      const prefix = this.readLength()
      if (prefix === undefined) return
      const [length, prefixBytes] = prefix
      if (length > this.maxFrameBytes) throw new MessageTooLargeError(length, this.maxFrameBytes)
      if (this.buffer.byteLength < prefixBytes + length) return
      const frame = this.buffer.subarray(prefixBytes, prefixBytes + length)
      this.buffer.consume(prefixBytes + length)
      yield frame
    }
  }

  get buffered (): number { return this.buffer.byteLength }

  private readLength (): [number, number] | undefined {
    let value = 0
    let scale = 1
    const n = Math.min(this.buffer.byteLength, MAX_VARINT_BYTES)
    for (let i = 0; i < n; i++) {
      const b = this.buffer.get(i)
      value += (b & 0x7f) * scale
      if ((b & 0x80) === 0) return [value, i + 1]
      scale *= 0x80
    }
    if (this.buffer.byteLength >= MAX_VARINT_BYTES) throw new SerializationError('frame length prefix is not a varint')
    return undefined
  }
}
