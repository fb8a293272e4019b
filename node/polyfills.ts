// libp2p 3 targets Node 22. Two things it uses are missing on Node 20 and fail only at runtime
// (at the first stream, or the first /ws dial), so this module is imported before any libp2p
// module by every entry point of the package. Each polyfill is guarded: Node 22 keeps its own.
import { WebSocket as WsWebSocket } from 'ws'

if (typeof (Promise as any).withResolvers !== 'function') {
  (Promise as any).withResolvers = function withResolvers<T> () {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    return { promise, resolve, reject }
  }
}

if (typeof (globalThis as any).WebSocket !== 'function') {
  (globalThis as any).WebSocket = WsWebSocket
}
