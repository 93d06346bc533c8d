/**
 * One daemon group as a front worker sees it: the processes the primary's table lists, each
 * reached over this worker's own data connection, and the same dispatch as a single-process
 * gatehouse (src/daemon/dispatch.ts). What the primary needs to supervise (requests served,
 * demand, stuck requests) goes back through a RemoteReporter.
 */
import type { Readable } from 'node:stream'
import type { Logger } from 'pino'
import { errors } from '../errors.js'
import type { AbortLike } from '../ipc/abort.js'
import type { ResponseStart } from '../ipc/client.js'
import type { ProviderMethodName } from '../ipc/protocol.js'
import {
  Dispatcher,
  type DispatchHost,
  type DispatchLimits,
  type RequestHeadInput,
  type RetryableError,
} from '../daemon/dispatch.js'
import type { GroupHandle } from '../daemon/group.js'
import type { GroupTable } from '../daemon/group-table.js'
import type { GroupLoad } from './group-messages.js'
import { RemoteProcess } from './remote-process.js'

export interface RemoteReporter {
  /** `now`: send the count at once rather than with the next batch. */
  served(group: string, seq: number, maxRequests: number, now: boolean): void
  demand(group: string): void
  stuck(group: string, seq: number, phase: 'head' | 'body'): void
  noticeChanges(group: string): Promise<void>
}

export interface RemoteGroupOptions {
  /** Front workers in all (each one's share of a process's concurrency). */
  workers: number
  connectTimeoutMs: number
  reporter: RemoteReporter
  log: Logger
}

/** A worker asks the primary to grow a group at most this often (autoscaling starts one process at a time anyway). */
const DEMAND_INTERVAL_MS = 100
/** A worker asks the primary to look at a group's watched files at most this often (its own check interval by default). */
const NOTICE_INTERVAL_MS = 100

export class RemoteGroup implements GroupHandle, DispatchHost<RemoteProcess> {
  readonly name: string
  #table: GroupTable
  #secret: Buffer
  readonly #procs = new Map<number, RemoteProcess>()
  #serving: RemoteProcess[] = []
  readonly #dispatch: Dispatcher<RemoteProcess>
  readonly #opts: RemoteGroupOptions
  #open = true
  #demandAt = 0
  #noticedAt = 0

  constructor(table: GroupTable, opts: RemoteGroupOptions) {
    this.name = table.name
    this.#table = table
    this.#secret = Buffer.from(table.secret, 'hex')
    this.#opts = opts
    this.#dispatch = new Dispatcher<RemoteProcess>(this)
  }

  get table(): GroupTable {
    return this.#table
  }

  /**
   * Applies the primary's newest table: connects to processes that became ready, stops sending
   * to those that drain, and lets go of those that left once this worker's requests on them
   * are over. Resolves when no connection is under way (each is up, or failed).
   */
  update(table: GroupTable): Promise<void> {
    this.#table = table
    this.#secret = Buffer.from(table.secret, 'hex')
    const listed = new Map(table.processes.map((p) => [p.seq, p]))
    for (const [seq, p] of this.#procs) {
      const entry = listed.get(seq)
      // A connection closed while its process drained, and the table lists the process ready again: start afresh below.
      if (entry === undefined || (p.state === 'closed' && entry.state === 'ready')) {
        this.#procs.delete(seq)
        void p.release()
      } else if (entry.state === 'draining') void p.drain(table.config.gracefulTimeoutMs)
    }
    for (const entry of table.processes) {
      if (entry.state !== 'ready' || this.#procs.has(entry.seq)) continue
      const p = new RemoteProcess(this.name, entry.seq, entry.socketPath, {
        secret: this.#secret,
        connectTimeoutMs: this.#opts.connectTimeoutMs,
        log: this.#opts.log,
        onChange: () => {
          this.#refresh()
          this.#dispatch.pump()
        },
      })
      this.#procs.set(entry.seq, p)
      void p.connect()
    }
    this.#refresh()
    this.#dispatch.pump()
    return Promise.all([...this.#procs.values()].map((p) => p.connecting)).then(() => undefined)
  }

  /** The processes this worker has requests or calls on. */
  busy(): number[] {
    const seqs: number[] = []
    for (const p of this.#procs.values()) if (p.outstanding > 0) seqs.push(p.seq)
    return seqs
  }

  /** What this worker has in flight and waiting in this group: the primary's status adds every worker's. */
  load(): GroupLoad {
    const inflight: GroupLoad['inflight'] = []
    for (const p of this.#procs.values()) if (p.inflight > 0) inflight.push({ seq: p.seq, count: p.inflight })
    return {
      group: this.name,
      queued: this.#dispatch.queued,
      queueWaits: this.#dispatch.queueWaits,
      queueWaitMs: this.#dispatch.queueWaitMs,
      busyRejections: this.#dispatch.busyRejections,
      inflight,
    }
  }

  /** The primary is about to stop process `seq`: resolves once this worker's requests on it are over. */
  async drain(seq: number, timeoutMs: number): Promise<void> {
    const p = this.#procs.get(seq)
    if (p === undefined) return
    const drained = p.drain(timeoutMs)
    this.#refresh()
    await drained
  }

  /** The group left the configuration: nothing new is taken; resolves once in-flight requests are over. */
  async retire(): Promise<void> {
    this.#open = false
    this.#dispatch.rejectWaiting()
    // Kept in #procs meanwhile: the primary's drain requests for them must find them.
    const procs = [...this.#procs.values()]
    for (const p of procs) p.stopTaking()
    this.#refresh()
    await Promise.all(procs.map((p) => p.release()))
    this.#procs.clear()
  }

  /** Immediate: waiting requests fail, connections close (their requests fail with 502). */
  destroy(): void {
    this.#open = false
    this.#dispatch.rejectWaiting()
    for (const p of this.#procs.values()) p.destroy()
    this.#procs.clear()
    this.#refresh()
  }

  // ── GroupHandle ──────────────────────────────────────────────────────────────────────────

  request(head: RequestHeadInput, body: Readable | null, signal?: AbortLike): Promise<ResponseStart> {
    return this.#dispatch.request(head, body, signal)
  }

  call(method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    return this.#dispatch.call(method, args, timeoutMs)
  }

  providerMethods(): readonly ProviderMethodName[] | undefined {
    return this.#table.providerMethods
  }

  /**
   * The front asks this before every login on a route with this group's provider. The primary
   * checks the watched files by itself every reloadCheckInterval, so asking it each time would
   * only add a round trip per request: at most one ask per NOTICE_INTERVAL_MS goes out, and the
   * request that made it waits for the reload it may start, as the one that noticed does in a
   * single process.
   */
  async noticeChanges(): Promise<void> {
    const now = Date.now()
    if (!this.#open || now - this.#noticedAt < NOTICE_INTERVAL_MS) return
    this.#noticedAt = now
    await this.#opts.reporter.noticeChanges(this.name).catch(() => {})
  }

  // ── DispatchHost ─────────────────────────────────────────────────────────────────────────

  isOpen(): boolean {
    return this.#open
  }

  serving(): readonly RemoteProcess[] {
    return this.#serving
  }

  draining(): RemoteProcess | undefined {
    for (const p of this.#procs.values()) if (p.state === 'draining' && p.connected) return p
    return undefined
  }

  /**
   * A process's `concurrency` is split between the workers: each sends it at most
   * ceil(concurrency / workers) requests at once, so all together stay within the limit the
   * operator set (with `wsgi`, the process's thread count: more would only queue inside the
   * process, out of reach of the other processes and of queueTimeout). The price is that one
   * worker's burst cannot borrow another worker's unused share; the kernel spreads connections
   * over the workers evenly enough that the shares are used alike.
   */
  limits(): DispatchLimits {
    const { concurrency, queueTimeoutMs, requestTimeoutMs } = this.#table.config
    return {
      concurrency: Math.max(1, Math.ceil(concurrency / Math.max(1, this.#opts.workers))),
      queueTimeoutMs,
      requestTimeoutMs,
    }
  }

  /**
   * The table lists a process starting or ready: a request waits for it. One this worker lost
   * or stopped using (maxRequests) still counts, as in the primary: it is about to be replaced.
   */
  hasLive(): boolean {
    return this.#table.processes.some((e) => e.state === 'starting' || e.state === 'ready')
  }

  unavailable(): RetryableError {
    return Object.assign(errors.GH_ERR_GROUP_UNAVAILABLE(this.name), { retryAfter: this.#table.retryAfter })
  }

  /**
   * The primary recycles a process once all workers together sent it maxRequests; this worker
   * alone reaching that stops sending to it at once (with one worker: after exactly
   * maxRequests) instead of one table round trip later.
   */
  assigned(p: RemoteProcess): void {
    const { maxRequests, gracefulTimeoutMs } = this.#table.config
    p.dispatched++
    const spent = maxRequests > 0 && p.dispatched >= maxRequests
    this.#opts.reporter.served(this.name, p.seq, maxRequests, spent)
    if (spent) {
      void p.drain(gracefulTimeoutMs)
      this.#refresh()
    }
  }

  released(): void {}

  demand(allBusy: boolean): void {
    const { processes, maxProcesses } = this.#table.config
    if (!allBusy || (maxProcesses ?? processes) <= processes) return
    const now = Date.now()
    if (now - this.#demandAt < DEMAND_INTERVAL_MS) return
    this.#demandAt = now
    this.#opts.reporter.demand(this.name)
  }

  stuck(p: RemoteProcess, phase: 'head' | 'body'): void {
    this.#opts.log.warn(
      { group: this.name, seq: p.seq, timeoutMs: this.#table.config.requestTimeoutMs },
      phase === 'head'
        ? 'request timed out (no response head); asking the primary to kill the daemon process'
        : 'response body stalled; asking the primary to kill the daemon process',
    )
    this.#opts.reporter.stuck(this.name, p.seq, phase)
  }

  /** The processes new requests may go to, in the table's order (the dispatcher rotates ties over it). */
  #refresh(): void {
    this.#serving = [...this.#procs.values()].filter((p) => p.state === 'ready')
  }
}
