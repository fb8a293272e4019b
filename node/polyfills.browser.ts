// The browser build takes this file for polyfills.ts: a browser has its own WebSocket (the `ws`
// package is for Node), and only browsers older than libp2p 3 supports lack Promise.withResolvers.
import './promise-resolvers.js'

export {}
