/**
 * Dynamic process spawning for a group with `processes: { min, max }`, in the spirit of
 * Passenger's pool: when a request finds every live process busy (none idle, or all at their
 * concurrency limit so it queues), one more process is started, one at a time, up to max. A
 * process above min that stays without work for idleTime is retired (drained, then stopped).
 * With min == max (`processes: N`) nothing here ever acts: mod_wsgi's fixed pool.
 */
import type { WorkerProcess } from './worker-process.js'

export interface ScaleLimits {
  min: number
  max: number
  idleTimeMs: number
}

/** What the scaler needs from its group. */
export interface ScalableGroup {
  /** Processes counted against min/max: starting or ready, not draining. */
  liveCount(): number
  /** Processes still starting (growth waits for them: one spawn at a time). */
  startingCount(): number
  /** Starts one more process. */
  grow(): void
  /** Drains and stops `p`, without a replacement. */
  shrink(p: WorkerProcess): void
}

export class Autoscaler {
  #limits: ScaleLimits
  readonly #group: ScalableGroup
  readonly #idle = new Map<WorkerProcess, NodeJS.Timeout>()
  /** Processes started above min because all were busy. */
  spawned = 0
  /** Processes retired after idleTime. */
  retired = 0

  constructor(limits: ScaleLimits, group: ScalableGroup) {
    this.#limits = { ...limits }
    this.#group = group
  }

  get limits(): Readonly<ScaleLimits> {
    return this.#limits
  }

  get dynamic(): boolean {
    return this.#limits.max > this.#limits.min
  }

  setLimits(limits: ScaleLimits): void {
    this.#limits = { ...limits }
    if (!this.dynamic) this.close()
  }

  /** A request is being dispatched; `allBusy` when no live process was idle (or it queued). */
  demand(allBusy: boolean): void {
    if (!allBusy || !this.dynamic) return
    if (this.#group.startingCount() > 0 || this.#group.liveCount() >= this.#limits.max) return
    this.spawned++
    this.#group.grow()
  }

  /** `p` took work: it is not idle. */
  busy(p: WorkerProcess): void {
    const t = this.#idle.get(p)
    if (t !== undefined) {
      clearTimeout(t)
      this.#idle.delete(p)
    }
  }

  /** `p` has nothing outstanding: retire it after idleTime if the group is above min then. */
  idle(p: WorkerProcess): void {
    if (!this.dynamic) return
    this.busy(p)
    const timer = setTimeout(() => {
      this.#idle.delete(p)
      if (p.state !== 'ready' || p.outstanding > 0 || this.#group.liveCount() <= this.#limits.min) return
      this.retired++
      this.#group.shrink(p)
    }, this.#limits.idleTimeMs)
    timer.unref()
    this.#idle.set(p, timer)
  }

  forget(p: WorkerProcess): void {
    this.busy(p)
  }

  close(): void {
    for (const t of this.#idle.values()) clearTimeout(t)
    this.#idle.clear()
  }
}

/** `processes` of a GroupConfig as scaling limits (maxProcesses defaults to processes: a fixed pool). */
export function scaleLimits(config: { processes: number; maxProcesses?: number; idleTimeMs?: number }): ScaleLimits {
  return {
    min: config.processes,
    max: Math.max(config.processes, config.maxProcesses ?? config.processes),
    idleTimeMs: config.idleTimeMs ?? DEFAULT_IDLE_TIME_MS,
  }
}

export const DEFAULT_IDLE_TIME_MS = 30_000
