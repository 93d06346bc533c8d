/**
 * Rolling reload of one group (pm2's softReload, written out): start a whole new generation,
 * wait until every new process reported ready, switch new requests to it, then let the old
 * generation drain (up to gracefulTimeout) and stop. If the new code fails to start, the old
 * generation keeps serving and the failure is logged. Concurrent reload requests coalesce:
 * whoever asks while one runs gets the next one, which starts after it.
 */
import type { Logger } from 'pino'
import type { WorkerProcess } from './worker-process.js'

export interface ReloadTarget {
  readonly name: string
  /** False once the group is closing: a new generation must not be started, nor adopted. */
  readonly open: boolean
  /** Snapshot of the watched files taken before spawning; the returned function records it. */
  captureFiles(): () => void
  /** Starts a full new generation; all ready, or rejects after stopping the partial one. */
  spawnGeneration(): Promise<WorkerProcess[]>
  /** Makes `fresh` the serving generation; returns the previous one. */
  adopt(fresh: WorkerProcess[], reason: string): WorkerProcess[]
  /** Drains then stops `old`. */
  retire(old: WorkerProcess[]): Promise<void>
}

export class Reloader {
  readonly #target: ReloadTarget
  readonly #log: Logger
  #running: Promise<boolean> | null = null
  #next: Promise<boolean> | null = null

  constructor(target: ReloadTarget, log: Logger) {
    this.#target = target
    this.#log = log
  }

  get running(): boolean {
    return this.#running !== null
  }

  /** Resolves once no reload is running or queued (the group's close waits for it). */
  async settled(): Promise<void> {
    while (this.#running !== null || this.#next !== null) await (this.#next ?? this.#running)
  }

  /** Resolves true when new processes serve, false when they failed and the old ones stay. */
  reload(reason: string): Promise<boolean> {
    if (this.#running === null) {
      this.#running = this.#run(reason).finally(() => {
        this.#running = null
      })
      return this.#running
    }
    if (this.#next === null) {
      this.#next = this.#running.then(() => {
        this.#next = null
        return this.reload(reason)
      })
    }
    return this.#next
  }

  async #run(reason: string): Promise<boolean> {
    const target = this.#target
    if (!target.open) return false
    const commit = target.captureFiles()
    let fresh: WorkerProcess[]
    try {
      fresh = await target.spawnGeneration()
    } catch (err) {
      commit()
      this.#log.error(
        { group: target.name, reason, err: err instanceof Error ? err.message : String(err) },
        'reload failed: new processes did not start; the running ones keep serving',
      )
      return false
    }
    commit()
    if (!target.open) {
      // The group began closing while these started: they never served, and nothing else
      // would stop them (its close stops only the processes it knows).
      this.#log.info(
        { group: target.name, reason, pids: fresh.map((p) => p.pid) },
        'reload abandoned: the group is closing',
      )
      await Promise.all(fresh.map((p) => p.stop(0)))
      return false
    }
    const old = target.adopt(fresh, reason)
    this.#log.info({ group: target.name, reason, pids: fresh.map((p) => p.pid) }, 'group reloaded')
    void target.retire(old)
    return true
  }
}
