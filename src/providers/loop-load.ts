/**
 * Whether the event loop the provider pools run on (the front's) was busy over a stretch of
 * time: its utilization (the share of time spent outside the poll phase's wait,
 * performance.eventLoopUtilization) since a mark. The provider threads rest while it is high
 * (thread-pool.ts, shareWhenBusy), so password hashing gives the CPUs back to requests that
 * are already authenticated. Measured per call, from its dispatch to its answer: the question
 * is whether the front was busy while the call ran, not at some earlier moment.
 */
import { performance, type EventLoopUtilization } from 'node:perf_hooks'

/** At or above this utilization the loop counts as busy. */
export const BUSY_UTILIZATION = 0.8

export type LoopMark = EventLoopUtilization

export function loopMark(): LoopMark {
  return performance.eventLoopUtilization()
}

/**
 * True when the loop was at least BUSY_UTILIZATION utilized since `mark`. A stretch shorter
 * than `minMs` (or than a clock step) cannot tell, and reads as busy: resting stays the choice
 * until there is evidence the front has CPU to spare.
 */
export function busySince(mark: LoopMark, minMs = 0): boolean {
  const d = performance.eventLoopUtilization(mark)
  const ms = d.idle + d.active
  return ms <= 0 || ms < minMs || d.active / ms >= BUSY_UTILIZATION
}
