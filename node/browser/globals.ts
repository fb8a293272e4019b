// Runs in a page: its types are the DOM's (MessageChannel here), which the build does not otherwise include.
/// <reference lib="dom" />
/**
 * The Node globals the protocols use, as the browser bundle binds them (esbuild's `inject`: each
 * free reference to one of these names in bundled code becomes an import of this module; the
 * page's window gets nothing, and code that looks for `globalThis.process` still finds none).
 * - `Buffer`: the `buffer` package, Node's API for what the protocols use (base64, hex, utf8,
 *   latin1, byteLength, allocUnsafe); base64url is protocols/core/base64url.ts's.
 * - `setImmediate`: a task after the pending I/O, as in Node, on a MessageChannel (a zero
 *   setTimeout would be clamped to 4 ms once nested, and the rpc channel yields with it per batch).
 * - `process`: only `process.memoryUsage.rss()` is read (a metric report's rss_mb); a page has no
 *   resident size, so it is the JS heap Chromium reports, or 0.
 */
import { Buffer as PackageBuffer } from 'buffer'

/**
 * The `buffer` package's Buffer as it is: it has no 'base64url' encoding, which our code writes
 * and reads through protocols/core/base64url.ts rather than by patching the package (a host that
 * bundles us may share its copy).
 */
export const Buffer = PackageBuffer

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
