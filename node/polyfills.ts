// libp2p 3 targets Node 22. Two things it uses are missing on Node 20 and fail only at runtime
// (at the first stream, or the first /ws dial), so this module is imported before any libp2p
// module by every entry point of the package. Each polyfill is guarded: Node 22 keeps its own.
import { WebSocket as WsWebSocket } from 'ws'
import './promise-resolvers.js'

if (typeof (globalThis as any).WebSocket !== 'function') {
  (globalThis as any).WebSocket = WsWebSocket
}
