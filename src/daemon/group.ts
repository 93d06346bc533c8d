/**
 * One daemon process group: N processes of one app, crash respawn with backoff, recycling
 * (maxRequests, inactivityTimeout), stuck-request kills, autoscaling and rolling reload on
 * touch. Requests go out through a Dispatcher (src/daemon/dispatch.ts); front workers that
 * dispatch to these processes themselves report back through RemoteDispatchNotes.
 */
import { Backoff } from '../backoff.js'
import { randomBytes } from 'node:crypto'
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import type { GroupConfig } from '../config/types.js'
import { errors } from '../errors.js'
import type { AbortLike } from '../ipc/abort.js'
import type { ResponseStart } from '../ipc/client.js'
import type { ProviderMethodName } from '../ipc/protocol.js'
import { socketPath } from '../ipc/socket-path.js'
import { Dispatcher, type RequestHeadInput, type RetryableError } from './dispatch.js'
import type { GroupTable, RemoteDispatchNotes, TableProcess } from './group-table.js'
import { Reloader, type ReloadTarget } from './reload.js'
import { Autoscaler, scaleLimits } from './autoscale.js'
import { buildSpawnSpec, type SpawnSpec } from './spawn-spec.js'
import { TouchWatcher } from './touch-watcher.js'
import { WorkerProcess, type ExitInfo, type ProcessStatus } from './worker-process.js'

export type { ResponseStart } from '../ipc/client.js'
export type { RequestHeadInput, RetryableError } from './dispatch.js'

export interface GroupHandle {
  readonly name: string
  request(head: RequestHeadInput, body: Readable | null, signal?: AbortLike): Promise<ResponseStart>
  call(method: string, args: unknown[], timeoutMs: number): Promise<unknown>
  /** The methods of the group's provider module as its newest ready process reported them (kept while none is up). */
  providerMethods(): readonly ProviderMethodName[] | undefined
  /** Reloads now if a watched file changed (what a request or call would notice); never rejects. */
  noticeChanges(): Promise<void>
}

export type GroupState = 'starting' | 'running' | 'closing' | 'closed'

export interface GroupStatus {
  name: string
  state: GroupState
  generation: number
  queued: number
  restarts: number
  reloads: number
  processes: ProcessStatus[]
  /** processes.min and processes.max (equal for a fixed pool). */
  min?: number
  max?: number
  /** Processes replaced after maxRequests or inactivityTimeout. */
  recycled?: number
  /** Processes started above min under load, and retired after idleTime. */
  spawned?: number
  retired?: number
  /** Requests that waited for a free process, their total wait, and those answered 503 after queueTimeout. */
  queueWaits?: number
  queueWaitMs?: number
  busyRejections?: number
  /** The last rolling reload: when (epoch ms) and why (touched FILE, restart command, configuration). */
  lastReload?: { at: number; reason: string } | null
}

export interface GroupOptions {
  index: number
  runtimeDir: string
  log: Logger
  startTimeoutMs: number
  reloadCheckIntervalMs: number
  onReload(reason: string): void
  /** A process's provider module called env.changed(). */
  onChanged(): void
  /** The process table changed (a process started, became ready, began draining, or ended). */
  onProcesses?(): void
  /** Front workers that dispatch to this group's processes stop using one; resolves when their requests on it are over. */
  drainElsewhere?(seq: number, timeoutMs: number): Promise<void>
}

const BACKOFF_FIRST_MS = 100
const BACKOFF_MAX_MS = 5_000

export class Group implements GroupHandle, ReloadTarget, RemoteDispatchNotes {
  #closing: Promise<void> | undefined
  readonly name: string
  /** Replaced by reconfigure() (a configuration reload); read it, do not keep it. */
  config: GroupConfig
  #state: GroupState = 'starting'
  #procs: WorkerProcess[] = []
  readonly #retiring = new Set<WorkerProcess>()
  /** A reload's new generation while it starts: not serving yet, and not in #procs. */
  readonly #starting = new Set<WorkerProcess>()
  readonly #dispatch: Dispatcher<WorkerProcess>
  #generation = 0
  #seq = 0
  /** Respawns after unexpected exits: reset once a process starts. */
  readonly #backoff = new Backoff(BACKOFF_FIRST_MS, BACKOFF_MAX_MS)
  #restarts = 0
  #reloads = 0
  #recycled = 0
  #lastReload: { at: number; reason: string } | null = null
  readonly #scaler: Autoscaler
  #providerMethods: readonly ProviderMethodName[] | undefined
  readonly #secret = randomBytes(32)
  #spec: SpawnSpec
  readonly #opts: GroupOptions
  readonly #log: Logger
  #watcher: TouchWatcher
  readonly #reloader: Reloader

  constructor(config: GroupConfig, opts: GroupOptions) {
    this.name = config.name
    this.config = config
    this.#opts = opts
    this.#log = opts.log.child({ group: config.name })
    this.#spec = buildSpawnSpec(config)
    this.#watcher = new TouchWatcher(watchedFiles(config), opts.reloadCheckIntervalMs)
    this.#reloader = new Reloader(this, this.#log)
    this.#dispatch = new Dispatcher<WorkerProcess>({
      name: this.name,
      isOpen: () => this.open,
      serving: () => this.#procs,
      draining: () => [...this.#retiring].find((r) => r.state === 'draining'),
      limits: () => this.config,
      hasLive: () => this.#procs.some((q) => q.state === 'starting' || q.state === 'ready'),
      unavailable: () => this.#unavailable(),
      assigned: (p) => this.#assigned(p, 1),
      released: (p) => this.#released(p),
      demand: (allBusy) => this.#scaler.demand(allBusy),
      stuck: (p, phase) => this.#stuck(p, phase),
    })
    this.#scaler = new Autoscaler(scaleLimits(config), {
      liveCount: () => this.#procs.filter((p) => p.state === 'starting' || p.state === 'ready').length,
      startingCount: () => this.#procs.filter((p) => p.state === 'starting').length,
      grow: () => {
        this.#log.info({ processes: this.#procs.length + 1 }, 'all processes busy: starting one more')
        this.#spawnInto(this.#generation)
      },
      shrink: (p) => this.#recycle(p, 'idleTime', false),
    })
  }

  async start(): Promise<void> {
    this.#procs = await this.spawnGeneration()
    this.#state = 'running'
    for (const p of this.#procs) this.#armIdle(p)
    this.#changedProcesses()
  }

  /**
   * Applies a changed configuration of this group (a configuration reload): a rolling reload
   * onto processes spawned from the new settings. If they fail to start, the old settings and
   * processes stay. Handles (targets, providers) keep pointing at this same group.
   */
  async reconfigure(config: GroupConfig, reason: string): Promise<boolean> {
    this.#assertOpen()
    const before = { config: this.config, spec: this.#spec, watcher: this.#watcher }
    const spec = buildSpawnSpec(config)
    this.config = config
    this.#spec = spec
    this.#watcher = new TouchWatcher(watchedFiles(config), this.#opts.reloadCheckIntervalMs)
    this.#scaler.setLimits(scaleLimits(config))
    const ok = await this.#reloader.reload(reason)
    if (ok) {
      before.watcher.close()
      return true
    }
    this.#watcher.close()
    this.config = before.config
    this.#spec = before.spec
    this.#watcher = before.watcher
    this.#scaler.setLimits(scaleLimits(before.config))
    return false
  }

  async request(head: RequestHeadInput, body: Readable | null, signal?: AbortLike): Promise<ResponseStart> {
    await this.#noticeTouch()
    return this.#dispatch.request(head, body, signal)
  }

  async call(method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    await this.#noticeTouch()
    return this.#dispatch.call(method, args, timeoutMs)
  }

  providerMethods(): readonly ProviderMethodName[] | undefined {
    const live = this.#procs.find((p) => p.state === 'ready' && p.providerMethods !== undefined)
    if (live !== undefined) this.#providerMethods = live.providerMethods
    return this.#providerMethods
  }

  async noticeChanges(): Promise<void> {
    if (this.#state === 'running') await this.#noticeTouch()
  }

  reload(reason: string): Promise<boolean> {
    this.#assertOpen()
    return this.#reloader.reload(reason)
  }

  status(): GroupStatus {
    return {
      name: this.name,
      state: this.#state,
      generation: this.#generation,
      queued: this.#dispatch.queued,
      restarts: this.#restarts,
      reloads: this.#reloads,
      processes: [...this.#procs, ...this.#retiring].map((p) => p.status()),
      min: this.#scaler.limits.min,
      max: this.#scaler.limits.max,
      recycled: this.#recycled,
      spawned: this.#scaler.spawned,
      retired: this.#scaler.retired,
      queueWaits: this.#dispatch.queueWaits,
      queueWaitMs: this.#dispatch.queueWaitMs,
      busyRejections: this.#dispatch.busyRejections,
      lastReload: this.#lastReload,
    }
  }

  /** Stops accepting, fails queued requests, lets in-flight ones finish (gracefulTimeout), stops processes. Callers share one completion. */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    if (this.#state === 'closed') return
    this.#state = 'closing'
    this.#stopAccepting()
    // A reload under way: its new generation never served, so it is killed, not drained, and
    // the reload (seeing the group closing) adopts nothing.
    for (const p of this.#starting) p.kill()
    await this.#reloader.settled()
    await Promise.all(
      [...this.#procs, ...this.#retiring].map(async (p) => {
        p.state = 'draining'
        await this.#drained(p)
        await p.stop(0)
      }),
    )
    this.#state = 'closed'
  }

  /** Immediate stop: queued requests fail, processes are killed. */
  async destroy(): Promise<void> {
    this.#state = 'closed'
    this.#stopAccepting()
    const all = [...this.#procs, ...this.#retiring, ...this.#starting]
    for (const p of all) p.kill()
    await Promise.all(all.map((p) => p.exited()))
  }

  #stopAccepting(): void {
    this.#watcher.close()
    this.#scaler.close()
    this.#dispatch.rejectWaiting()
  }

  // ── ReloadTarget ─────────────────────────────────────────────────────────────────────────

  get open(): boolean {
    return this.#state === 'running'
  }

  captureFiles(): () => void {
    return this.#watcher.capture()
  }

  async spawnGeneration(): Promise<WorkerProcess[]> {
    const fresh = Array.from({ length: this.config.processes }, () => this.#newProcess())
    for (const p of fresh) this.#starting.add(p)
    const results = await Promise.allSettled(fresh.map((p) => p.start()))
    for (const p of fresh) this.#starting.delete(p)
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) {
      await Promise.all(
        fresh.map((p) => {
          p.kill()
          return p.exited()
        }),
      )
      throw failed.reason
    }
    return fresh
  }

  adopt(fresh: WorkerProcess[], reason: string): WorkerProcess[] {
    const old = this.#procs
    this.#procs = fresh
    this.#generation++
    this.#reloads++
    this.#lastReload = { at: Date.now(), reason }
    for (const p of old) {
      this.#scaler.forget(p)
      p.state = p.state === 'dead' ? 'dead' : 'draining'
      this.#retiring.add(p)
    }
    for (const p of fresh) {
      p.generation = this.#generation
      this.#armIdle(p)
    }
    this.#dispatch.pump()
    this.#changedProcesses()
    this.#opts.onReload(reason)
    return old
  }

  async retire(old: WorkerProcess[]): Promise<void> {
    await Promise.all(
      old.map(async (p) => {
        await this.#drained(p)
        await p.stop(0)
        this.#retiring.delete(p)
        this.#changedProcesses()
      }),
    )
  }

  // ── RemoteDispatchNotes: front workers dispatching to these processes ───────────────────────

  served(seq: number, count: number, busy: boolean): void {
    const p = this.#procs.find((q) => q.seq === seq)
    if (p === undefined) return
    if (count > 0) this.#assigned(p, count)
    // Busy somewhere: the idle timers stay off until a note says the worker is done with it
    // (workers repeat the note while busy, so one worker's "done" cannot outlast another's work).
    if (busy) {
      clearTimeout(p.idleTimer)
      this.#scaler.busy(p)
    } else this.#released(p)
  }

  demand(): void {
    if (this.#state === 'running') this.#scaler.demand(true)
  }

  stuck(seq: number, phase: 'head' | 'body'): void {
    const p = [...this.#procs, ...this.#retiring].find((q) => q.seq === seq)
    if (p !== undefined) this.#stuck(p, phase)
  }

  table(): GroupTable {
    const entry = (p: WorkerProcess): TableProcess | undefined => {
      const state = p.state === 'starting' || p.state === 'ready' ? p.state : p.state === 'dead' ? null : 'draining'
      if (state === null) return undefined
      return { seq: p.seq, pid: p.pid, socketPath: p.socketPath, state, generation: p.generation }
    }
    const providerMethods = this.providerMethods()
    return {
      name: this.name,
      secret: this.#secret.toString('hex'),
      config: this.config,
      generation: this.#generation,
      ...(providerMethods === undefined ? {} : { providerMethods: [...providerMethods] }),
      retryAfter: this.#retryAfter(),
      processes: [...this.#procs, ...this.#retiring].flatMap((p) => entry(p) ?? []),
    }
  }

  // ── internals ────────────────────────────────────────────────────────────────────────────

  #newProcess(): WorkerProcess {
    const seq = ++this.#seq
    const path = socketPath(this.#opts.runtimeDir, this.#opts.index, seq)
    const p = new WorkerProcess({
      group: this.name,
      seq,
      spec: this.#spec,
      secret: this.#secret,
      log: this.#log,
      startTimeoutMs: this.#opts.startTimeoutMs,
      init: {
        group: this.name,
        app: this.config.app,
        provider: this.config.provider,
        providerOptions: this.config.providerOptions,
        socketPath: path,
        secret: this.#secret.toString('hex'),
        user: this.config.user,
        unixGroup: this.config.group,
        ...(this.config.kind === 'python'
          ? {
              threads: this.config.threads,
              pythonPath: this.config.pythonPath,
              multiprocess: (this.config.maxProcesses ?? this.config.processes) > 1,
              fileRoots: this.config.fileRoots,
            }
          : {}),
      },
    })
    p.onExit = (info) => this.#onExit(p, info)
    p.onChanged = () => this.#opts.onChanged()
    return p
  }

  async #noticeTouch(): Promise<void> {
    this.#assertOpen()
    if (this.#reloader.running) return
    const file = this.#watcher.changed()
    if (file !== null) await this.#reloader.reload(`touched ${file}`)
  }

  #assertOpen(): void {
    if (!this.open) throw this.#unavailable()
  }

  /** `count` requests went to `p` (here, or from a front worker): maxRequests and the idle timers count them. */
  #assigned(p: WorkerProcess, count: number): void {
    p.served += count
    clearTimeout(p.idleTimer)
    this.#scaler.busy(p)
    const { maxRequests } = this.config
    if (maxRequests > 0 && p.served >= maxRequests) this.#recycle(p, 'maxRequests')
  }

  #released(p: WorkerProcess): void {
    if (p.outstanding === 0) {
      this.#armIdle(p)
      this.#scaler.idle(p)
    }
  }

  /** Resolves once nobody (here or in a front worker) has work on `p`, or after gracefulTimeout. */
  async #drained(p: WorkerProcess): Promise<void> {
    const ms = this.config.gracefulTimeoutMs
    await Promise.all([p.whenIdle(ms), this.#opts.drainElsewhere?.(p.seq, ms)])
  }

  #changedProcesses(): void {
    this.#opts.onProcesses?.()
  }

  #armIdle(p: WorkerProcess): void {
    const ms = this.config.inactivityTimeoutMs
    if (ms <= 0 || p.state !== 'ready') return
    clearTimeout(p.idleTimer)
    p.idleTimer = setTimeout(() => {
      if (p.outstanding === 0) this.#recycle(p, 'inactivityTimeout')
    }, ms)
    p.idleTimer.unref()
  }

  /** Takes `p` out of rotation, starts its replacement (unless retiring it), stops `p` once its requests are done. */
  #recycle(p: WorkerProcess, why: string, replace = true): void {
    const i = this.#procs.indexOf(p)
    if (i === -1 || this.#state !== 'running') return
    this.#procs.splice(i, 1)
    this.#scaler.forget(p)
    p.state = 'draining'
    this.#retiring.add(p)
    this.#log.info({ pid: p.pid, why }, replace ? 'recycling daemon process' : 'retiring idle daemon process')
    if (replace) {
      this.#recycled++
      this.#spawnInto(this.#generation)
    }
    this.#changedProcesses()
    void this.retire([p])
  }

  #stuck(p: WorkerProcess, phase: 'head' | 'body'): void {
    const what = phase === 'head' ? 'request timed out (no response head)' : 'response body stalled'
    this.#log.warn({ pid: p.pid, timeoutMs: this.config.requestTimeoutMs }, `${what}; killing the daemon process`)
    p.kill(false, true)
  }

  #onExit(p: WorkerProcess, info: ExitInfo): void {
    const i = this.#procs.indexOf(p)
    if (i !== -1) this.#procs.splice(i, 1)
    this.#retiring.delete(p)
    this.#scaler.forget(p)
    this.#changedProcesses()
    if (i === -1 || info.expected || this.#state !== 'running') return
    this.#restarts++
    const delay = info.stuck ? 0 : this.#backoff.next()
    this.#log.warn(
      { pid: p.pid, code: info.code, signal: info.signal, respawnInMs: delay },
      'daemon process exited; respawning',
    )
    const generation = this.#generation
    setTimeout(() => this.#spawnInto(generation), delay).unref()
  }

  #spawnInto(generation: number): void {
    if (this.#state !== 'running' || generation !== this.#generation) return
    const p = this.#newProcess()
    p.generation = generation
    this.#procs.push(p)
    this.#changedProcesses()
    p.start().then(
      () => {
        this.#backoff.reset()
        this.#armIdle(p)
        this.#dispatch.pump()
        if (p.outstanding === 0) this.#scaler.idle(p)
        this.#changedProcesses()
      },
      (err: unknown) => {
        this.#log.error({ err: err instanceof Error ? err.message : String(err) }, 'daemon process failed to start')
      },
    )
  }

  #unavailable(): RetryableError {
    return Object.assign(errors.GH_ERR_GROUP_UNAVAILABLE(this.name), { retryAfter: this.#retryAfter() })
  }

  #retryAfter(): number {
    return Math.max(1, Math.ceil(this.#backoff.peek() / 1000))
  }
}

function watchedFiles(config: GroupConfig): string[] {
  return [config.app, ...(config.provider ? [config.provider] : []), ...config.reloadOn]
}
