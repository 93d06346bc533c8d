/**
 * A bounded first-in, first-out line of callers waiting for something (a free process, a free
 * thread, a call slot). Each waiter leaves it in one of three ways: it is served a value, its
 * timeout passes, or its abort signal fires. A value is handed over synchronously: the waiter's
 * `served` runs inside the serve() call of whoever freed it, so nobody arriving later can take
 * it first, and a waiter that left by timeout or abort is out of the line and never handed one. Nothing here knows what is waited for, and it imports
 * nothing: the daemon's dispatch and the provider runtime, which may not import each other's
 * layers, both use it.
 */

/**
 * As much of an abort signal as a waiter needs. AbortSignal satisfies it, and so does the wire's
 * cheaper `Cancellation` (src/ipc/abort.ts).
 */
export interface WaitSignal {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

export interface WaitOptions {
  /** Rejects with `onTimeout()` after this long in line. */
  timeoutMs: number
  onTimeout: () => Error
  signal?: WaitSignal
}

/** How a waiter leaves the line: exactly one of these runs, once. */
export interface WaitOutcome<T> {
  /** Runs inside serve(): the value is the waiter's from this moment on. */
  served(value: T): void
  failed(err: Error): void
}

interface Waiter<T> extends WaitOutcome<T> {
  timer: NodeJS.Timeout
  queuedAt: number
}

export class WaitQueue<T> {
  readonly #limit: number
  #line: Waiter<T>[] = []
  /** Waiters that joined the line, and the total time in line of those that left it. */
  waits = 0
  waitedMs = 0

  /** `limit`: most waiters at once; one more is refused at once with the error wait() was given. */
  constructor(limit = Number.POSITIVE_INFINITY) {
    this.#limit = limit
  }

  get length(): number {
    return this.#line.length
  }

  /** True when one more waiter would be refused. */
  get full(): boolean {
    return this.#line.length >= this.#limit
  }

  /** Joins the line; resolves with what serve() hands over. A full line rejects at once with `onTimeout()`. */
  wait(opts: WaitOptions): Promise<T> {
    return new Promise<T>((resolve, reject) => this.join(opts, { served: resolve, failed: reject }))
  }

  /**
   * Joins the line with callbacks instead of a promise, for a caller that must use the value in
   * the tick it is handed over (a call sent to the thread whose slot it got). A full line or an
   * aborted signal fails at once, before join returns.
   */
  join(opts: WaitOptions, outcome: WaitOutcome<T>): void {
    if (this.full) return outcome.failed(opts.onTimeout())
    const { signal } = opts
    if (signal?.aborted) return outcome.failed(abortError(signal))
    const leave = (): void => {
      this.waitedMs += Date.now() - w.queuedAt
      signal?.removeEventListener('abort', onAbort)
    }
    const w: Waiter<T> = {
      served: (value) => {
        leave()
        outcome.served(value)
      },
      failed: (err) => {
        leave()
        outcome.failed(err)
      },
      timer: setTimeout(() => this.#drop(w, opts.onTimeout()), opts.timeoutMs),
      queuedAt: Date.now(),
    }
    const onAbort = (): void => this.#drop(w, abortError(signal as WaitSignal))
    signal?.addEventListener('abort', onAbort, { once: true })
    this.waits++
    this.#line.push(w)
  }

  /**
   * Serves waiters in order while `next()` has something for them (it is asked only while
   * someone waits, so it may take the thing it returns; each waiter's `served` runs before
   * `next()` is asked again). Returns how many were served.
   */
  serve(next: () => T | undefined): number {
    let served = 0
    while (this.#line.length > 0) {
      const value = next()
      if (value === undefined) break
      const w = this.#line.shift() as Waiter<T>
      clearTimeout(w.timer)
      w.served(value)
      served++
    }
    return served
  }

  /** Everyone in line fails with `err` (the thing waited for is going away). */
  rejectAll(err: () => Error): void {
    for (const w of this.#line.splice(0)) {
      clearTimeout(w.timer)
      w.failed(err())
    }
  }

  #drop(w: Waiter<T>, err: Error): void {
    const i = this.#line.indexOf(w)
    if (i === -1) return
    this.#line.splice(i, 1)
    clearTimeout(w.timer)
    w.failed(err)
  }
}

function abortError(signal: WaitSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason : Object.assign(new Error('request aborted'), { name: 'AbortError' })
}
