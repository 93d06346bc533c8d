/**
 * Exponential backoff for restarting what keeps failing (a daemon process, a front worker):
 * first, 2×first, 4×first … up to max; reset() once the thing has run well again.
 */
export class Backoff {
  readonly #first: number
  readonly #max: number
  #failures = 0

  constructor(firstMs: number, maxMs: number) {
    this.#first = firstMs
    this.#max = maxMs
  }

  /** The delay before the next attempt, counting one more failure. */
  next(): number {
    return Math.min(this.#first * 2 ** this.#failures++, this.#max)
  }

  /** The delay next() would give now, without counting a failure. */
  peek(): number {
    return Math.min(this.#first * 2 ** this.#failures, this.#max)
  }

  reset(): void {
    this.#failures = 0
  }
}
