/** CPU time a process has used so far (user + system), in ms, from /proc (Linux); 0 where there is none. */
import { readFileSync } from 'node:fs'

const TICKS_PER_S = 100 // USER_HZ on Linux

export function procCpuMs (pid: number): number {
  try {
    // Fields 14 and 15 of /proc/PID/stat (after the command in parentheses): utime, stime.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(f[11]) + Number(f[12])) * 1000 / TICKS_PER_S
  } catch { return 0 }
}
