/**
 * A bounded first-in, first-out line of callers waiting for something (a free process, a free
 * thread, a call slot). Each waiter leaves it in one of three ways: it is served a value, its
 * timeout passes, or its abort signal fires. Nothing here knows what is waited for, and it imports
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

interface Waiter<T> {
  resolve(value: T): void
  reject(err: Error): void
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
    if (this.full) return Promise.reject(opts.onTimeout())
    const { signal } = opts
    if (signal?.aborted) return Promise.reject(abortError(signal))
    return new Promise<T>((resolve, reject) => {
      const leave = (): void => {
        this.waitedMs += Date.now() - w.queuedAt
        signal?.removeEventListener('abort', onAbort)
      }
      const w: Waiter<T> = {
        resolve: (value) => {
          leave()
          resolve(value)
        },
        reject: (err) => {
          leave()
          reject(err)
        },
        timer: setTimeout(() => this.#drop(w, opts.onTimeout()), opts.timeoutMs),
        queuedAt: Date.now(),
      }
      const onAbort = (): void => this.#drop(w, abortError(signal as WaitSignal))
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waits++
      this.#line.push(w)
    })
  }

  /**
   * Serves waiters in order while `next()` has something for them (it is asked only while
   * someone waits, so it may take the thing it returns). Returns how many were served.
   */
  serve(next: () => T | undefined): number {
    let served = 0
    while (this.#line.length > 0) {
      const value = next()
      if (value === undefined) break
      const w = this.#line.shift() as Waiter<T>
      clearTimeout(w.timer)
      w.resolve(value)
      served++
    }
    return served
  }

  /** Everyone in line fails with `err` (the thing waited for is going away). */
  rejectAll(err: () => Error): void {
    for (const w of this.#line.splice(0)) {
      clearTimeout(w.timer)
      w.reject(err())
    }
  }

  #drop(w: Waiter<T>, err: Error): void {
    const i = this.#line.indexOf(w)
    if (i === -1) return
    this.#line.splice(i, 1)
    clearTimeout(w.timer)
    w.reject(err)
  }
}

function abortError(signal: WaitSignal): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason : Object.assign(new Error('request aborted'), { name: 'AbortError' })
}
