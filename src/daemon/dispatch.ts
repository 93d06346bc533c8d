/**
 * Sends requests and provider calls to the processes of one group: the least outstanding ready
 * process below the per-process concurrency limit (ties rotate), a bounded wait for one to
 * free up (queueTimeout, then 503 busy), another process when the chosen one closed before it
 * took the request, 503 with Retry-After when no process is live. Who owns the processes (the
 * supervising Group, or a front worker's view of a group another process supervises) is the
 * host's business: it says which processes serve and hears what was sent where.
 */
import type { Readable } from 'node:stream'
import { errors, type GatehouseError } from '../errors.js'
import type { AbortLike } from '../ipc/abort.js'
import { isNotAccepted, type ResponseStart, type WorkerConnection } from '../ipc/client.js'
import type { GatewayInfo } from '../ipc/protocol.js'
import { WaitQueue } from '../wait-queue.js'

export interface RequestHeadInput {
  method: string
  url: string
  headers: Record<string, string | string[]>
  /** The client's address, seen by the app as req.socket.remoteAddress. */
  remoteAddress?: string
  /** For WSGI groups: SCRIPT_NAME, REMOTE_USER and the rest of the environ the head lacks. */
  gateway?: GatewayInfo
}

/** A 503 carries how many seconds the client should wait before retrying. */
export type RetryableError = GatehouseError & { retryAfter: number }

/** One process as the dispatcher sees it; the counters are the dispatcher's to change. */
export interface DispatchSlot {
  /** May take new work: ready, and its data connection is open. */
  readonly dispatchable: boolean
  /** Requests outstanding (bounded by the concurrency limit). */
  inflight: number
  /** Provider calls outstanding. */
  calls: number
  readonly outstanding: number
  readonly connection: WorkerConnection
  /** Told after each completed request or call (whoever waits for the process to be idle hears it). */
  settled(): void
}

export interface DispatchLimits {
  /** Requests in flight to one process at once. */
  concurrency: number
  queueTimeoutMs: number
  requestTimeoutMs: number
}

export interface DispatchHost<P extends DispatchSlot> {
  readonly name: string
  /** False once the group is closing: everything is refused as unavailable. */
  isOpen(): boolean
  /** The serving processes; their order is the rotation order for ties. */
  serving(): readonly P[]
  /** For a provider call while none serves: a draining process still up, if any. */
  draining(): P | undefined
  limits(): DispatchLimits
  /** Some process is starting or ready: a request may wait for it rather than fail. */
  hasLive(): boolean
  unavailable(): RetryableError
  /** A request was given to `p`. */
  assigned(p: P): void
  /** A request or call on `p` is over (its counters already lowered). */
  released(p: P): void
  /** A request is being dispatched; `allBusy` when no process was idle (or it had to wait). */
  demand(allBusy: boolean): void
  /** A request on `p` timed out (`phase`: before or after its response head). */
  stuck(p: P, phase: 'head' | 'body'): void
}

const MAX_DISPATCH_ATTEMPTS = 3

export class Dispatcher<P extends DispatchSlot> {
  readonly #host: DispatchHost<P>
  readonly #queue = new WaitQueue<P>()
  #rr = 0
  /** Requests answered 503 because no process freed up within queueTimeout. */
  busyRejections = 0

  constructor(host: DispatchHost<P>) {
    this.#host = host
  }

  get queued(): number {
    return this.#queue.length
  }

  /** Requests that waited for a free process, and their total wait. */
  get queueWaits(): number {
    return this.#queue.waits
  }

  get queueWaitMs(): number {
    return this.#queue.waitedMs
  }

  async request(head: RequestHeadInput, body: Readable | null, signal?: AbortLike): Promise<ResponseStart> {
    const { requestTimeoutMs } = this.#host.limits()
    for (let attempt = 1; ; attempt++) {
      const p = await this.#acquire(signal)
      try {
        return await p.connection.request(head, body, {
          signal,
          timeoutMs: requestTimeoutMs,
          onTimeout: (phase) => this.#host.stuck(p, phase),
          onDone: () => this.#release(p, 'request'),
        })
      } catch (err) {
        if (isNotAccepted(err) && attempt < MAX_DISPATCH_ATTEMPTS) continue
        throw err
      }
    }
  }

  /** Provider calls skip the concurrency limit and the wait: they are short, and a login must not queue behind app requests. */
  async call(method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    this.#assertOpen()
    const p = this.#pick(false) ?? this.#host.draining()
    if (p === undefined) throw this.#host.unavailable()
    p.calls++
    try {
      return await p.connection.call(method, args, timeoutMs)
    } finally {
      this.#release(p, 'call')
    }
  }

  /** Hands free processes to waiting requests (after a process became ready or a generation changed). */
  pump(): void {
    this.#queue.serve(() => {
      const p = this.#pick()
      return p === undefined ? undefined : this.#assign(p)
    })
  }

  /** Every waiting request fails as unavailable (the group is closing). */
  rejectWaiting(): void {
    this.#queue.rejectAll(() => this.#host.unavailable())
  }

  #assertOpen(): void {
    if (!this.#host.isOpen()) throw this.#host.unavailable()
  }

  /** Least outstanding among dispatchable processes below the concurrency limit; ties rotate. */
  #pick(limit = true): P | undefined {
    const procs = this.#host.serving()
    const { concurrency } = this.#host.limits()
    let best: P | undefined
    const n = procs.length
    for (let i = 0; i < n; i++) {
      const p = procs[(this.#rr + i) % n] as P
      if (!p.dispatchable || (limit && p.inflight >= concurrency)) continue
      if (best === undefined || p.outstanding < best.outstanding) best = p
    }
    this.#rr = (this.#rr + 1) % Math.max(n, 1)
    return best
  }

  #acquire(signal?: AbortLike): Promise<P> {
    this.#assertOpen()
    const p = this.#pick()
    this.#host.demand(p === undefined || p.outstanding > 0)
    if (p !== undefined) return Promise.resolve(this.#assign(p))
    if (!this.#host.hasLive()) return Promise.reject(this.#host.unavailable())
    const { queueTimeoutMs } = this.#host.limits()
    if (queueTimeoutMs <= 0) {
      this.busyRejections++
      return Promise.reject(this.#busy(queueTimeoutMs))
    }
    return this.#queue.wait({
      timeoutMs: queueTimeoutMs,
      signal,
      onTimeout: () => {
        this.busyRejections++
        return this.#busy(queueTimeoutMs)
      },
    })
  }

  #assign(p: P): P {
    p.inflight++
    this.#host.assigned(p)
    return p
  }

  #release(p: P, kind: 'request' | 'call'): void {
    if (kind === 'request') p.inflight--
    else p.calls--
    p.settled()
    this.#host.released(p)
    this.pump()
  }

  #busy(queueTimeoutMs: number): RetryableError {
    return Object.assign(errors.GH_ERR_GROUP_BUSY(this.#host.name, queueTimeoutMs), {
      retryAfter: Math.max(1, Math.ceil(queueTimeoutMs / 1000)),
    })
  }
}
