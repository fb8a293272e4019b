/**
 * libp2p's loggers, when none of its debug output is asked for: one logger that does nothing,
 * for every component, connection and stream. libp2p's own (`@libp2p/logger`) makes three
 * `debug` instances for each scope (the log, its error and trace), each with its getters,
 * setters and options, for every connection, muxer and stream, whether or not anything prints:
 * ~350 KiB of heap per agent at 15 connections and ~80 streams (bench/memory.ts,
 * bench/heap-paths.ts --owners), a seventh of an agent's heap.
 *
 * libp2p keeps its own when, as the node is built, its output is wanted: `DEBUG` (or a browser's
 * `localStorage.debug`) names a libp2p namespace or everything (`libp2p:*`, `libp2p:noise`,
 * `*`), or code called `@libp2p/logger`'s `enable('libp2p:…')` first. A `DEBUG` for other
 * modules only (`express:*`) keeps libp2p quiet. Enabling libp2p's output after a node is built
 * takes a restart of that node (README, "Logs").
 */
import type { ComponentLogger, Logger } from '@libp2p/interface'
import { enabled } from '@libp2p/logger'

const off = Object.assign((): void => {}, { enabled: false })
const QUIET: Logger = Object.assign((): void => {}, { error: off, trace: off, enabled: false, newScope: (): Logger => QUIET })
const QUIET_COMPONENTS: ComponentLogger = { forComponent: () => QUIET }

/** Whether a `debug` namespace list (DEBUG's syntax: comma or space separated, `-` excludes) asks for any of libp2p's output. */
export function namesLibp2p (list: string): boolean {
  return list.split(/[\s,]+/).some(item => item !== '' && !item.startsWith('-') && (item.startsWith('libp2p') || item.startsWith('*')))
}

/** True where libp2p's `debug` output was asked for. */
function debugWanted (): boolean {
  try {
    const env = typeof process !== 'undefined' ? process.env?.DEBUG : undefined
    const stored = (globalThis as { localStorage?: { getItem: (k: string) => string | null } }).localStorage?.getItem('debug')
    return namesLibp2p(env ?? '') || namesLibp2p(stored ?? '') || enabled('libp2p:agentmesh')
  } catch {
    return false
  }
}

/** The `logger` for createLibp2p: undefined (libp2p's own) when its debug output is wanted. */
export function libp2pLogger (): ComponentLogger | undefined {
  return debugWanted() ? undefined : QUIET_COMPONENTS
}
