/**
 * libp2p's loggers, when none of its debug output is asked for: one logger that does nothing,
 * for every component, connection and stream. libp2p's own (`@libp2p/logger`) makes three
 * `debug` instances for each scope (the log, its error and trace), each with its getters,
 * setters and options, for every connection, muxer and stream, whether or not anything prints:
 * ~350 KiB of heap per agent at 15 connections and ~80 streams (bench/memory.ts,
 * bench/heap-paths.ts --owners), a seventh of an agent's heap. With `DEBUG` set at start (or
 * `localStorage.debug` in a browser), libp2p keeps its own and prints as it always did.
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'

const off = Object.assign((): void => {}, { enabled: false })
const QUIET: Logger = Object.assign((): void => {}, { error: off, trace: off, enabled: false, newScope: (): Logger => QUIET })
const QUIET_COMPONENTS: ComponentLogger = { forComponent: () => QUIET }

/** True where libp2p's `debug` output was asked for. */
function debugWanted (): boolean {
  try {
    const env = typeof process !== 'undefined' ? process.env?.DEBUG : undefined
    if (env !== undefined && env !== '') return true
    const stored = (globalThis as { localStorage?: { getItem: (k: string) => string | null } }).localStorage?.getItem('debug')
    return stored != null && stored !== ''
  } catch {
    return false
  }
}

/** The `logger` for createLibp2p: undefined (libp2p's own) when its debug output is wanted. */
export function libp2pLogger (): ComponentLogger | undefined {
  return debugWanted() ? undefined : QUIET_COMPONENTS
}
