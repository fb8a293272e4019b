/**
 * `node:events` in a browser bundle: `setMaxListeners`, which the protocols call on their
 * AbortSignals so Node does not warn about many listeners. Browsers keep no such count and
 * never warn: there is nothing to set.
 */
export function setMaxListeners (_n?: number, ..._targets: unknown[]): void {}
