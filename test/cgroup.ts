/**
 * A cgroup with a CPU quota and a memory limit, as `docker run --cpus --memory` makes one, for a
 * process of the tests to run in: cgroup v2 (cpu.max, memory.max) or v1 (cpu.cfs_quota_us,
 * memory.limit_in_bytes), whichever /sys/fs/cgroup holds. Needs root and a writable cgroup file
 * system (not the read-only one of an unprivileged container).
 *
 * A process joins it before any of its code runs: `node --import <JOIN_CGROUP> ...` with
 * AGENTMESH_TEST_CGROUP_PROCS set to `procsFiles` (fixtures/join-cgroup.ts).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = '/sys/fs/cgroup'
const PREFIX = 'agentmesh-test-'

/** The preload that moves a process into the cgroups named by AGENTMESH_TEST_CGROUP_PROCS. */
export const JOIN_CGROUP = pathToFileURL(fileURLToPath(new URL('./fixtures/join-cgroup.js', import.meta.url))).href

export interface Limits { cpus: number, memoryBytes: number }

export class Cgroup {
  /** The cgroup.procs files a process writes its pid to, to join. */
  readonly procsFiles: string[]
  private readonly dirs: string[]

  private constructor (dirs: string[]) {
    this.dirs = dirs
    this.procsFiles = dirs.map(d => join(d, 'cgroup.procs'))
  }

  /** Makes the cgroup (one directory on v2; one per controller on v1) and writes the limits. */
  static create ({ cpus, memoryBytes }: Limits, name = `${PREFIX}${process.pid}-${Math.floor(Math.random() * 1e6)}`): Cgroup {
    const period = 100_000
    const quota = String(Math.round(cpus * period))
    removeOrphans()
    const made: string[] = []
    const mk = (dir: string): string => { mkdirSync(dir); made.push(dir); return dir }
    try {
      if (existsSync(join(ROOT, 'cgroup.controllers'))) {
        // v2: the controllers must be enabled for the children of the root (no-op when they are).
        const enabled = readFileSync(join(ROOT, 'cgroup.subtree_control'), 'utf8').split(/\s+/)
        const wanted = ['cpu', 'memory'].filter(c => !enabled.includes(c))
        if (wanted.length > 0) writeFileSync(join(ROOT, 'cgroup.subtree_control'), wanted.map(c => `+${c}`).join(' '))
        const dir = mk(join(ROOT, name))
        writeFileSync(join(dir, 'cpu.max'), `${quota} ${period}`)
        writeFileSync(join(dir, 'memory.max'), String(memoryBytes))
        return new Cgroup([dir])
      }
      const cpuMount = ['cpu', 'cpu,cpuacct'].map(d => join(ROOT, d)).find(d => existsSync(d))
      const memoryMount = join(ROOT, 'memory')
      if (cpuMount === undefined || !existsSync(memoryMount)) throw new Error(`no cgroup v2 and no v1 cpu and memory controllers under ${ROOT}`)
      const cpu = mk(join(cpuMount, name))
      writeFileSync(join(cpu, 'cpu.cfs_period_us'), String(period))
      writeFileSync(join(cpu, 'cpu.cfs_quota_us'), quota)
      const memory = mk(join(memoryMount, name))
      writeFileSync(join(memory, 'memory.limit_in_bytes'), String(memoryBytes))
      return new Cgroup([cpu, memory])
    } catch (err) {
      new Cgroup(made).remove()
      throw err
    }
  }

  /** Removes the directories; their processes must have exited first (else EBUSY). */
  remove (): void {
    for (const dir of this.dirs) {
      try { rmdirSync(dir) } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      }
    }
  }
}

/** Cgroups left by test runs whose process died before removing them (emptied when it died). */
function removeOrphans (): void {
  const parents = [ROOT, ...['cpu', 'cpu,cpuacct', 'memory'].map(d => join(ROOT, d))].filter(d => existsSync(d))
  for (const parent of parents) {
    for (const name of readdirSync(parent)) {
      const pid = new RegExp(`^${PREFIX}(\\d+)-`).exec(name)?.[1]
      if (pid === undefined) continue
      let alive = true
      try { process.kill(Number(pid), 0) } catch { alive = false }
      if (!alive) { try { rmdirSync(join(parent, name)) } catch {} }
    }
  }
}

/** Why this machine cannot make a limited cgroup, or undefined when it can. */
export function cgroupUnavailable (): string | undefined {
  if (process.platform !== 'linux') return `cgroups need Linux (this is ${process.platform})`
  if (process.getuid?.() !== 0) return 'making a cgroup needs root (CI runs as root)'
  try {
    Cgroup.create({ cpus: 1, memoryBytes: 2 ** 30 }, `${PREFIX}${process.pid}-probe`).remove()
    return undefined
  } catch (err) {
    return `cannot make a cgroup with limits under ${ROOT}: ${(err as Error).message}`
  }
}
