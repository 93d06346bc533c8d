/**
 * The CPU time of the thread that reads it, for provider threads: what a call cost is what the
 * pool rests the thread for while the front is busy (thread-pool.ts, shareWhenBusy).
 */
import { openSync, readSync } from 'node:fs'

/**
 * This thread's CPU time (user + system) from /proc/thread-self/stat, read through one open
 * descriptor (about 6 µs a read). Counted in clock ticks of 10 ms: a call shorter than a tick
 * mostly reads as 0 and now and then as 10, which averages out to what the calls used.
 */
export class CpuMeter {
  readonly #fd: number
  readonly #buf = Buffer.allocUnsafe(1024)
  #last: number

  private constructor(fd: number) {
    this.#fd = fd
    this.#last = this.#read()
  }

  /** Linux only (elsewhere, or without /proc, undefined: the pool then never rests the thread). */
  static open(): CpuMeter | undefined {
    if (process.platform !== 'linux') return undefined
    try {
      return new CpuMeter(openSync('/proc/thread-self/stat', 'r'))
    } catch {
      return undefined
    }
  }

  /** Milliseconds of CPU this thread used since the previous call (of all its calls, when they interleave). */
  since(): number | undefined {
    try {
      const now = this.#read()
      const used = now - this.#last
      this.#last = now
      return used
    } catch {
      return undefined
    }
  }

  #read(): number {
    const n = readSync(this.#fd, this.#buf, 0, this.#buf.length, 0)
    const stat = this.#buf.toString('latin1', 0, n)
    // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th, in USER_HZ (100) ticks.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  }
}
