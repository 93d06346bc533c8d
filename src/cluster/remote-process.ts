/**
 * A front worker's own data connection to one daemon process that the primary supervises: the
 * dispatcher's counters for it, and waiting for its requests to be over before it is let go.
 */
import type { Logger } from 'pino'
import { errors } from '../errors.js'
import { WorkerConnection } from '../ipc/client.js'
import type { DispatchSlot } from '../daemon/dispatch.js'

/** connecting: HELLO under way; draining: no new work, connection kept for what is in flight; closed: gone. */
export type RemoteProcessState = 'connecting' | 'ready' | 'draining' | 'closed'

/** Connection attempts to a process the table calls ready, before waiting for the next table. */
const CONNECT_ATTEMPTS = 5
const CONNECT_RETRY_MS = 200
/** The longest setTimeout delay. */
const MAX_TIMER_MS = 2 ** 31 - 1

export class RemoteProcess implements DispatchSlot {
  readonly group: string
  readonly seq: number
  readonly socketPath: string
  state: RemoteProcessState = 'connecting'
  inflight = 0
  calls = 0
  /** Requests this worker sent it (its own share of maxRequests). */
  dispatched = 0
  #conn: WorkerConnection | null = null
  #idleWaiters: Array<() => void> = []

  constructor(group: string, seq: number, socketPath: string) {
    this.group = group
    this.seq = seq
    this.socketPath = socketPath
  }

  get dispatchable(): boolean {
    return this.state === 'ready' && this.#conn !== null && !this.#conn.closed
  }

  /** The data connection is up (a draining process still serves provider calls over it). */
  get connected(): boolean {
    return this.#conn !== null && !this.#conn.closed
  }

  get outstanding(): number {
    return this.inflight + this.calls
  }

  get connection(): WorkerConnection {
    if (this.#conn === null) throw errors.GH_ERR_IPC_CLOSED(`group ${this.group} process ${this.seq} has no connection`)
    return this.#conn
  }

  /** The connection attempt under way (or done): the same promise for every caller. */
  connecting: Promise<void> = Promise.resolve()

  /** Starts connecting (see #connect); `connecting` settles when it is done either way. */
  connect(secret: Buffer, timeoutMs: number, log: Logger): Promise<void> {
    this.connecting = this.#connect(secret, timeoutMs, log)
    return this.connecting
  }

  /** Connects and proves the secret; retries a few times (the socket may be a moment behind the table). */
  async #connect(secret: Buffer, timeoutMs: number, log: Logger): Promise<void> {
    for (let attempt = 1; this.state === 'connecting'; attempt++) {
      try {
        const conn = await WorkerConnection.connect(this.group, this.socketPath, secret, timeoutMs)
        if (this.state !== 'connecting') return conn.destroy()
        this.#conn = conn
        conn.onClose(() => this.#closed())
        this.state = 'ready'
        return
      } catch (err) {
        if (attempt >= CONNECT_ATTEMPTS || this.state !== 'connecting') {
          log.warn(
            { group: this.group, seq: this.seq, err: err instanceof Error ? err.message : String(err) },
            'cannot connect to a daemon process; waiting for the next process table',
          )
          this.state = 'closed'
          return
        }
        await new Promise((r) => setTimeout(r, CONNECT_RETRY_MS))
      }
    }
  }

  settled(): void {
    if (this.outstanding > 0) return
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }

  /** Takes no new work (the connection stays for what is in flight). */
  stopTaking(): void {
    if (this.state === 'connecting' || this.state === 'ready') this.state = 'draining'
  }

  /** Takes no new work; resolves once its requests here are over, or after timeoutMs. */
  drain(timeoutMs: number): Promise<void> {
    this.stopTaking()
    if (this.outstanding === 0 || this.state === 'closed') return Promise.resolve()
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        this.#idleWaiters = this.#idleWaiters.filter((w) => w !== done)
        resolve()
      }
      const timer = setTimeout(done, timeoutMs)
      timer.unref()
      this.#idleWaiters.push(done)
    })
  }

  /**
   * The process left the table: it was stopped after a drain, or it died (then the connection
   * closes by itself). Either way, once nothing is in flight here, the connection goes.
   */
  async release(): Promise<void> {
    await this.drain(MAX_TIMER_MS)
    this.destroy()
  }

  destroy(): void {
    this.state = 'closed'
    this.#conn?.destroy()
    this.settled()
  }

  #closed(): void {
    this.state = 'closed'
    // Streams on the connection already failed (and settled through the dispatcher); waiters go too.
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }
}
