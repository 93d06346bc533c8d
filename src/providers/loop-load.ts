/**
 * How busy the front's event loop is: its utilization (the share of time spent outside the
 * poll phase's wait, performance.eventLoopUtilization) over the last window. The provider
 * threads rest while it is high (thread-pool.ts, shareWhenBusy), so password hashing gives the
 * CPUs back to requests that are already authenticated.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

/** At or above this utilization the front counts as busy. */
export const BUSY_UTILIZATION = 0.8

export class LoopLoad {
  readonly #windowMs: number
  #last: EventLoopUtilization
  #lastAt: number
  #utilization = 0

  /** `windowMs`: a new figure is taken when the last one is at least this old. */
  constructor(windowMs = 100) {
    this.#windowMs = windowMs
    this.#last = performance.eventLoopUtilization()
    this.#lastAt = performance.now()
  }

  /**
   * The utilization since the previous figure was taken (0..1). Asked more often than
   * `windowMs`, it returns the figure it has: a short window would swing with every callback.
   */
  utilization(): number {
    const now = performance.now()
    if (now - this.#lastAt >= this.#windowMs) {
      const current = performance.eventLoopUtilization()
      this.#utilization = performance.eventLoopUtilization(current, this.#last).utilization
      this.#last = current
      this.#lastAt = now
    }
    return this.#utilization
  }

  busy(): boolean {
    return this.utilization() >= BUSY_UTILIZATION
  }
}
