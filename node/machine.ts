/**
 * The cores and memory this process may use: the machine's, cut down to the limits of its cgroup
 * when it runs in one (a container started with `--cpus` / `--memory`, a systemd unit with
 * CPUQuota / MemoryMax). Node 20's availableParallelism() and totalmem() report the host, so an
 * agent in a 1-CPU, 512 MB container would otherwise offer every core and all the memory of the
 * host to tasks, and accept work it cannot do.
 *
 * Read synchronously: the config's defaults (node/config.ts) are computed while parsing.
 */
import { existsSync, readFileSync } from 'node:fs'
import { availableParallelism, totalmem } from 'node:os'
import { join, relative, resolve, sep } from 'node:path'

/** Where the cgroup file systems are mounted, and the file naming this process's cgroups. */
export interface CgroupPaths {
  /** Mount point of cgroup v2, or of the v1 controller directories (cpu/, memory/). */
  root?: string
  /** The `hierarchy:controllers:path` lines of this process (/proc/self/cgroup). */
  self?: string
}

/** Limits found in the cgroups; a field is absent when nothing limits it. */
export interface CgroupLimits {
  /** CPU time per period over the period: 1.5 means one and a half CPUs. */
  cpus?: number
  memoryBytes?: number
}

const DEFAULT_ROOT = '/sys/fs/cgroup'
const DEFAULT_SELF = '/proc/self/cgroup'

export function cgroupLimits ({ root = DEFAULT_ROOT, self = DEFAULT_SELF }: CgroupPaths = {}): CgroupLimits {
  const lines = readText(self)?.split('\n').map(parseLine).filter(l => l !== undefined) ?? []
  // The unified hierarchy has cgroup.controllers at its root; a v1 or hybrid host has one
  // directory per controller instead (and, if hybrid, an empty unified/ without controllers).
  if (existsSync(join(root, 'cgroup.controllers'))) {
    const path = lines.find(l => l.hierarchy === '0')?.path ?? '/'
    const dirs = ancestry(root, path)
    return found(
      smallest(dirs.map(d => cpuMax(readText(join(d, 'cpu.max'))))),
      smallest(dirs.map(d => bytes(readText(join(d, 'memory.max')))))
    )
  }
  const v1 = (controller: string): string[] => {
    const line = lines.find(l => l.controllers.includes(controller))
    // The controller's directory is named by its comma-joined list (cpu,cpuacct) or by itself.
    const mount = [line?.controllers.join(','), controller]
      .filter(n => n !== undefined)
      .map(n => join(root, n))
      .find(d => existsSync(d))
    return mount === undefined ? [] : ancestry(mount, line?.path ?? '/')
  }
  return found(
    smallest(v1('cpu').map(d => ratio(readText(join(d, 'cpu.cfs_quota_us')), readText(join(d, 'cpu.cfs_period_us'))))),
    smallest(v1('memory').map(d => bytes(readText(join(d, 'memory.limit_in_bytes')))))
  )
}

/** Whole cores offered: a quota of 1.5 CPUs offers 1, and a quota below one CPU still offers 1. */
export function machineCpuCores (paths?: CgroupPaths): number {
  const { cpus } = cgroupLimits(paths)
  const cores = availableParallelism()
  return cpus === undefined ? cores : Math.min(cores, Math.max(1, Math.floor(cpus)))
}

/** Memory offered, in GB (2^30 bytes) rounded down to a tenth, so a 512 MB container offers 0.5. */
export function machineMemoryGb (paths?: CgroupPaths): number {
  const { memoryBytes } = cgroupLimits(paths)
  const usable = Math.min(totalmem(), memoryBytes ?? Infinity)
  return Math.floor(usable / 2 ** 30 * 10) / 10
}

function parseLine (line: string): { hierarchy: string, controllers: string[], path: string } | undefined {
  const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim())
  if (m === null) return undefined
  return { hierarchy: m[1]!, controllers: m[2]!.split(',').filter(c => c.length > 0), path: m[3]! }
}

/**
 * The directories of a cgroup and of each parent up to the mount point: a parent's limit binds
 * its children too. The path in /proc/self/cgroup may not exist under the mount (a container
 * without its own cgroup namespace sees the host's path but has its own cgroup mounted as the
 * root); then only the levels that exist count, the mount point always among them.
 */
function ancestry (mount: string, path: string): string[] {
  const top = resolve(mount)
  const dirs: string[] = []
  let dir = resolve(top, '.' + sep + path)
  // A path climbing out of the mount (`/..` in a nested namespace) counts as the mount itself.
  if (relative(top, dir).startsWith('..')) dir = top
  for (;;) {
    if (existsSync(dir)) dirs.push(dir)
    if (dir === top) return dirs
    dir = resolve(dir, '..')
  }
}

function readText (file: string): string | undefined {
  try {
    return readFileSync(file, 'utf8').trim()
  } catch {
    return undefined
  }
}

/** cgroup v2 cpu.max: "max 100000" (no limit) or "<quota> <period>" in microseconds. */
function cpuMax (text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').split(/\s+/)
  return ratio(quota, period ?? '100000')
}

/** CPUs from a quota and its period; v1's cpu.cfs_quota_us is -1, v2's "max", without a limit. */
function ratio (quota: string | undefined, period: string | undefined): number | undefined {
  const q = Number(quota)
  const p = Number(period)
  return Number.isFinite(q) && q > 0 && Number.isFinite(p) && p > 0 ? q / p : undefined
}

/**
 * memory.max ("max" without a limit) or memory.limit_in_bytes (v1 writes "no limit" as a number
 * near 2^63, larger than any machine: the min with totalmem() takes care of it).
 */
function bytes (text: string | undefined): number | undefined {
  const n = Number(text)
  return Number.isFinite(n) && n > 0 ? n : undefined
}

function found (cpus: number | undefined, memoryBytes: number | undefined): CgroupLimits {
  return { ...(cpus !== undefined ? { cpus } : {}), ...(memoryBytes !== undefined ? { memoryBytes } : {}) }
}

function smallest (values: Array<number | undefined>): number | undefined {
  const found = values.filter((v): v is number => v !== undefined)
  return found.length === 0 ? undefined : Math.min(...found)
}
