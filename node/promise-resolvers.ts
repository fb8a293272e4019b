// Promise.withResolvers (Node 22, browsers of 2024 on), which libp2p 3 calls at its first stream.
// Guarded: where the platform has it, its own stays. Imported by polyfills.ts and its browser twin.
if (typeof (Promise as any).withResolvers !== 'function') {
  (Promise as any).withResolvers = function withResolvers<T> () {
    let resolve!: (value: T | PromiseLike<T>) => void
    let reject!: (reason?: unknown) => void
    const promise = new Promise<T>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
    return { promise, resolve, reject }
  }
}

export {}
