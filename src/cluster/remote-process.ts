/**
 * A front worker's own data connection to one daemon process that the primary supervises: the
 * dispatcher's counters for it, connecting (and connecting again while the process is meant to
 * serve), and waiting for its requests to be over before it is let go.
 */
import type { Logger } from 'pino'
import { Backoff } from '../backoff.js'
import { errors } from '../errors.js'
import { WorkerConnection } from '../ipc/client.js'
import type { DispatchSlot } from '../daemon/dispatch.js'

/**
 * connecting: no proven connection (HELLO under way, or waiting to try again); ready: takes
 * work; draining: no new work, connection kept for what is in flight; closed: gone.
 */
export type RemoteProcessState = 'connecting' | 'ready' | 'draining' | 'closed'

export interface RemoteProcessOptions {
  /** The group's secret, which a data connection's HELLO proves. */
  secret: Buffer
  /** A HELLO must be answered within this. */
  connectTimeoutMs: number
  log: Logger
  /** Told whenever the process starts or stops taking work by itself (connected, connection lost). */
  onChange(): void
}

/** Failed attempts after which `connecting` settles and a warning is logged (the attempts go on). */
const CONNECT_ATTEMPTS = 5
/** Delays between attempts: the shared backoff, from this up to that. */
const RETRY_FIRST_MS = 100
const RETRY_MAX_MS = 5_000
/** A connection that stayed up this long was a good one: after it closes, the next attempt is immediate. */
const STABLE_MS = RETRY_MAX_MS
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
  #connectedAt = 0
  #idleWaiters: Array<() => void> = []
  readonly #opts: RemoteProcessOptions
  readonly #backoff = new Backoff(RETRY_FIRST_MS, RETRY_MAX_MS)
  /** Ends the wait before the next attempt (the process stopped taking work meanwhile). */
  #wake: (() => void) | undefined

  constructor(group: string, seq: number, socketPath: string, opts: RemoteProcessOptions) {
    this.group = group
    this.seq = seq
    this.socketPath = socketPath
    this.#opts = opts
  }

  /** Ready, over a connection that proved the secret and is still open both ways. */
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

  /**
   * Settles once connected, or after CONNECT_ATTEMPTS failed attempts (the attempts go on), or
   * when the process stopped taking work: the same promise for every caller.
   */
  connecting: Promise<void> = Promise.resolve()

  /** Starts connecting; attempts go on with backoff until one succeeds or the process stops taking work. */
  connect(): Promise<void> {
    this.connecting = this.#connect(0)
    return this.connecting
  }

  /**
   * The socket may be a moment behind the table, and a live process must not be given up on
   * while the table lists it ready: other workers still use it, and this one would serve with
   * less until the next table. Only stopTaking() (the table drains or drops it) or destroy()
   * ends the attempts.
   */
  #connect(delayMs: number): Promise<void> {
    return new Promise<void>((settle) => {
      const attempt = async (failures: number, delay: number): Promise<void> => {
        if (delay > 0) await this.#sleep(delay)
        if (this.state !== 'connecting') return settle()
        try {
          const conn = await WorkerConnection.connect(
            this.group,
            this.socketPath,
            this.#opts.secret,
            this.#opts.connectTimeoutMs,
          )
          if (this.state !== 'connecting') {
            conn.destroy()
            return settle()
          }
          this.#up(conn, failures)
          settle()
        } catch (err) {
          if (this.state !== 'connecting') return settle()
          if (failures + 1 === CONNECT_ATTEMPTS) {
            this.#opts.log.warn(
              { group: this.group, seq: this.seq, err: err instanceof Error ? err.message : String(err) },
              'cannot connect to a daemon process; trying again with backoff while the process table lists it ready',
            )
            settle()
          }
          void attempt(failures + 1, this.#backoff.next())
        }
      }
      void attempt(0, delayMs)
    })
  }

  #up(conn: WorkerConnection, failures: number): void {
    this.#conn = conn
    this.#connectedAt = Date.now()
    this.state = 'ready'
    conn.onClose(() => this.#lost(conn))
    if (failures >= CONNECT_ATTEMPTS)
      this.#opts.log.info({ group: this.group, seq: this.seq }, 'connected to the daemon process after all')
    this.#opts.onChange()
  }

  /**
   * The data connection closed. Its streams already failed (and settled through the
   * dispatcher). A process that was taking work and is still listed gets a new connection: at
   * once after a connection that served a while, else after the backoff's next delay (a process
   * that drops every connection is not hammered). If it died instead, the attempts fail until
   * the next table drops it.
   */
  #lost(conn: WorkerConnection): void {
    if (conn !== this.#conn) return
    this.#conn = null
    if (this.state === 'ready') {
      this.state = 'connecting'
      const stable = Date.now() - this.#connectedAt >= STABLE_MS
      if (stable) this.#backoff.reset()
      this.#opts.log.info(
        { group: this.group, seq: this.seq },
        'data connection to a daemon process closed; reconnecting',
      )
      this.connecting = this.#connect(stable ? 0 : this.#backoff.next())
      this.#opts.onChange()
      return
    }
    this.state = 'closed'
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }

  /** Waits `ms`, or less if the process stops taking work meanwhile (#wakeUp). */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => this.#wakeUp(), ms)
      timer.unref()
      this.#wake = () => {
        clearTimeout(timer)
        resolve()
      }
    })
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
    this.#wakeUp()
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
    this.#wakeUp()
    this.#conn?.destroy()
    this.settled()
  }

  #wakeUp(): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}
