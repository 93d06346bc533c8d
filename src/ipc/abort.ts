/**
 * Cancelling a request on its way to a daemon (the client went away). The request path needs
 * only this much of AbortSignal, and AbortSignal satisfies it; `Cancellation` is the cheap
 * implementation the front makes per request: an AbortController and its EventTarget cost
 * several microseconds per request, a noticeable share of a proxied hello world.
 */

export interface AbortLike {
  readonly aborted: boolean
  readonly reason: unknown
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void
  removeEventListener(type: 'abort', listener: () => void): void
}

export class Cancellation implements AbortLike {
  #aborted = false
  #reason: unknown = undefined
  #listeners: Array<() => void> | null = null

  get aborted(): boolean {
    return this.#aborted
  }

  get reason(): unknown {
    return this.#reason
  }

  /** Listeners run once, on abort (every listener is a one-shot one: `once` is implied). */
  addEventListener(_type: 'abort', listener: () => void): void {
    if (this.#aborted) return
    ;(this.#listeners ??= []).push(listener)
  }

  removeEventListener(_type: 'abort', listener: () => void): void {
    const list = this.#listeners
    if (list === null) return
    const i = list.indexOf(listener)
    if (i !== -1) list.splice(i, 1)
  }

  /** Idempotent. `reason` defaults to an AbortError, as AbortController's does. */
  abort(reason: unknown = Object.assign(new Error('request aborted'), { name: 'AbortError' })): void {
    if (this.#aborted) return
    this.#aborted = true
    this.#reason = reason
    const list = this.#listeners
    this.#listeners = null
    if (list !== null) for (const fn of list) fn()
  }
}
