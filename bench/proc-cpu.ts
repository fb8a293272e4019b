/** The CPU of the processes a bench starts: what each has used, and a profile of each on request. */
import { readFileSync } from 'node:fs'

/** BENCH_PROFILE=DIR: the node arguments that make a process write a CPU profile there (node --cpu-prof); none without it. */
export function profileArgs (): string[] {
  const dir = process.env.BENCH_PROFILE
  return dir !== undefined ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : []
}

const TICKS_PER_S = 100 // USER_HZ on Linux

/** CPU time a process has used so far (user + system), in ms, from /proc (Linux); 0 where there is none. */
export function procCpuMs (pid: number): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat (after the command in parentheses): utime, stime.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 1000 / TICKS_PER_S
  } catch { return 0 }
}
