// The browser build takes this file for polyfills.ts: a browser has its own WebSocket (the `ws`
// package is for Node), and only browsers older than libp2p 3 supports lack Promise.withResolvers.
if (typeof (Promise as any).withResolvers !== 'function') {
  (Promise as any).withResolvers = function withResolvers<T> () {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    return { promise, resolve, reject }
  }
}

export {}
