/**
 * CPU time of processes from /proc/PID/stat (user + system, in clock ticks of 10 ms): the
 * benchmark divides it by the requests served, a figure that other load on the machine
 * disturbs far less than requests/s. Also the main thread's alone (a Node server's event loop:
 * when it nears one CPU, it is the limit) and how busy the whole machine was (/proc/stat): a
 * run that leaves CPUs idle is held back by something other than CPU time.
 */
import { readFileSync } from 'node:fs'

export const TICK_US = 10_000

/** User + system CPU time of `pid` (`thread`: of its main thread only) in microseconds (0 when it is gone). */
export function cpuTimeUs(pid: number, thread = false): number {
  try {
    const stat = readFileSync(thread ? `/proc/${pid}/task/${pid}/stat` : `/proc/${pid}/stat`, 'utf8')
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

/** Busy and total jiffies of the whole machine so far (all CPUs; idle and iowait count as not busy). */
export function machineTicks(): { busy: number; total: number } {
  try {
    const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1, 9).map(Number)
    const total = fields.reduce((a, b) => a + b, 0)
    return { busy: total - (fields[3] ?? 0) - (fields[4] ?? 0), total }
  } catch {
    return { busy: 0, total: 0 }
  }
}

/** Voluntary + involuntary context switches of `pid`'s main thread so far (0 when it is gone). */
export function contextSwitches(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const count = (key: string): number => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(status)?.[1] ?? 0)
    return count('voluntary_ctxt_switches') + count('nonvoluntary_ctxt_switches')
  } catch {
    return 0
  }
}
