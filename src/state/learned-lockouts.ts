/**
 * The lockouts a throttle store shared between processes learnt from the shared side (its own
 * operations' answers, and those announced by the others), kept in process so that what a
 * credential-cache hit asks (is this key locked out?) needs no round trip. At most `maxEntries`,
 * the oldest learnt dropped first; an ended lockout is forgotten when asked about.
 */
import type { ThrottleScope } from '../auth/throttle-store.js'

export class LearnedLockouts {
  readonly #until = new Map<string, number>()
  readonly #maxEntries: number

  constructor(maxEntries: number) {
    this.#maxEntries = maxEntries
  }

  learn(scope: ThrottleScope, id: string, until: number): void {
    const name = `${scope}:${id}`
    this.#until.delete(name)
    this.#until.set(name, until)
    if (this.#until.size > this.#maxEntries) this.#until.delete(this.#until.keys().next().value as string)
  }

  /** Milliseconds left of a learnt lockout; 0 when there is none. */
  lockedFor(scope: ThrottleScope, id: string, now: number): number {
    const name = `${scope}:${id}`
    const until = this.#until.get(name)
    if (until === undefined) return 0
    if (until <= now) {
      this.#until.delete(name)
      return 0
    }
    return until - now
  }
}
