/**
 * The cores and memory a browser node offers by default (the browser build takes this file for
 * machine.ts): what the browser tells a page, `navigator.hardwareConcurrency` and Chromium's
 * `navigator.deviceMemory` (GB, rounded and capped at 8 by the browser; 1 where it is not told).
 * A page has no cgroups: `cgroupLimits` finds none.
 */
import type { CgroupLimits, CgroupPaths } from './machine.js'

export type { CgroupLimits, CgroupPaths } from './machine.js'

interface BrowserNavigator { hardwareConcurrency?: number, deviceMemory?: number }

function browserNavigator (): BrowserNavigator {
  return (globalThis as { navigator?: BrowserNavigator }).navigator ?? {}
}

export function cgroupLimits (_paths?: CgroupPaths): CgroupLimits { return {} }

export function machineCpuCores (_paths?: CgroupPaths): number {
  const n = browserNavigator().hardwareConcurrency
  return typeof n === 'number' && n >= 1 ? Math.floor(n) : 1
}

export function machineMemoryGb (_paths?: CgroupPaths): number {
  const gb = browserNavigator().deviceMemory
  return typeof gb === 'number' && gb > 0 ? Math.floor(gb * 10) / 10 : 1
}
