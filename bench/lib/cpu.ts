/**
 * CPU time of processes from /proc/PID/stat (user + system, in clock ticks of 10 ms): the
 * benchmark divides it by the requests served, a figure that other load on the machine
 * disturbs far less than requests/s.
 */
import { readFileSync } from 'node:fs'

const TICK_US = 10_000

/** User + system CPU time of `pid` in microseconds (0 when it is gone). */
export function cpuTimeUs(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The command name may contain spaces; the fields after it are fixed.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * TICK_US
  } catch {
    return 0
  }
}

export function totalCpuUs(pids: readonly number[]): number {
  return pids.reduce((sum, pid) => sum + cpuTimeUs(pid), 0)
}
