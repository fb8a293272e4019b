// Runs in a page: its types are the DOM's (MessageChannel here), which the build does not otherwise include.
/// <reference lib="dom" />
/**
 * The Node globals the protocols use, as the browser bundle binds them (esbuild's `inject`: each
 * free reference to one of these names in bundled code becomes an import of this module; the
 * page's window gets nothing, and code that looks for `globalThis.process` still finds none).
 * - `Buffer`: the `buffer` package, Node's API for what the protocols use (base64, hex, utf8,
 *   latin1, byteLength, allocUnsafe), with base64url added (below).
 * - `setImmediate`: a task after the pending I/O, as in Node, on a MessageChannel (a zero
 *   setTimeout would be clamped to 4 ms once nested, and the rpc channel yields with it per batch).
 * - `process`: only `process.memoryUsage.rss()` is read (a metric report's rss_mb); a page has no
 *   resident size, so it is the JS heap Chromium reports, or 0.
 */
import { Buffer as PackageBuffer } from 'buffer'

/**
 * The `buffer` package's Buffer, with the 'base64url' encoding Node has had since v15 (envelope
 * signatures and sealed payloads' key ids and tags use it): written as base64 with the URL-safe
 * alphabet and no padding, read as base64 (the package's decoder already takes '-' and '_' and
 * missing padding). Patched on the bundle's own copy of the package, which only this module binds.
 */
function withBase64url (B: typeof PackageBuffer): typeof PackageBuffer {
  const toString = B.prototype.toString
  B.prototype.toString = function (this: PackageBuffer, encoding?: string, start?: number, end?: number): string {
    if (encoding !== 'base64url') return toString.call(this, encoding as BufferEncoding, start, end)
    return toString.call(this, 'base64', start, end).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')
  }
  const from = B.from as (value: unknown, encoding?: unknown, length?: unknown) => PackageBuffer
  B.from = function (value: unknown, encoding?: unknown, length?: unknown): PackageBuffer {
    return from.call(B, value, typeof value === 'string' && encoding === 'base64url' ? 'base64' : encoding, length)
  } as typeof B.from
  return B
}

export const Buffer = withBase64url(PackageBuffer)

const waiting: Array<() => void> = []
let channel: MessageChannel | undefined

export function setImmediate<A extends unknown[]> (fn: (...args: A) => void, ...args: A): void {
  if (channel === undefined) {
    channel = new MessageChannel()
    // One message per call: a callback that throws leaves the others queued behind it to run.
    channel.port1.onmessage = () => { waiting.shift()?.() }
  }
  waiting.push(() => { fn(...args) })
  channel.port2.postMessage(null)
}

interface ChromiumMemory { usedJSHeapSize?: number }

export const process = {
  memoryUsage: {
    rss: (): number => (globalThis.performance as unknown as { memory?: ChromiumMemory }).memory?.usedJSHeapSize ?? 0
  }
}
