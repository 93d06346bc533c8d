/**
 * Per-request counts kept as plain numbers and handed to prom-client only when /metrics is
 * scraped. prom-client hashes the label set on every inc() and observe(); with a counter, a
 * histogram and an auth counter per request that was ~4% of the front's busy time, while a
 * scrape comes every few seconds at most. Label sets stay bounded: routes are configured
 * paths, statuses HTTP codes, providers configured names.
 */
import type { Counter, Metric, MetricObjectWithValues, MetricValueWithName } from 'prom-client'

/** One route's counts. */
export class RouteTally {
  readonly statuses = new Map<number, number>()
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  readonly buckets: Float64Array
  sum = 0
  count = 0
  unavailable = 0

  constructor(bucketCount: number) {
    this.buckets = new Float64Array(bucketCount + 1)
  }
}

export class RequestTally {
  readonly #routes = new Map<string, RouteTally>()
  readonly #bounds: readonly number[]

  constructor(bounds: readonly number[]) {
    this.#bounds = bounds
  }

  get bounds(): readonly number[] {
    return this.#bounds
  }

  record(route: string, status: number, seconds: number): void {
    let t = this.#routes.get(route)
    if (t === undefined) this.#routes.set(route, (t = new RouteTally(this.#bounds.length)))
    t.statuses.set(status, (t.statuses.get(status) ?? 0) + 1)
    let i = 0
    while (i < this.#bounds.length && seconds > (this.#bounds[i] as number)) i++
    t.buckets[i]! += 1
    t.sum += seconds
    t.count++
    if (status === 503) t.unavailable++
  }

  routes(): IterableIterator<[string, RouteTally]> {
    return this.#routes.entries()
  }

  clear(): void {
    this.#routes.clear()
  }
}

/** Counts by a fixed set of label values, e.g. (provider, result). */
export class LabelTally<L extends string> {
  readonly #counts = new Map<string, { labels: Record<L, string>; n: number }>()
  readonly #names: readonly L[]

  constructor(names: readonly L[]) {
    this.#names = names
  }

  inc(...values: string[]): void {
    const key = values.join('\0')
    const e = this.#counts.get(key)
    if (e !== undefined) {
      e.n++
      return
    }
    const labels = {} as Record<L, string>
    this.#names.forEach((name, i) => {
      labels[name] = values[i] as string
    })
    this.#counts.set(key, { labels, n: 1 })
  }

  /** A prom-client `collect` that sets `counter` from this tally. */
  collector(): (this: Counter<L>) => void {
    const counts = this.#counts
    return function (this: Counter<L>) {
      this.reset()
      for (const { labels, n } of counts.values()) this.inc(labels as never, n)
    }
  }
}

/**
 * A histogram by route whose numbers live in a RequestTally: registered in a prom-client
 * Registry like its own Histogram, and printed the same way (`le` first, then `route`).
 */
export function tallyHistogram(name: string, help: string, tally: RequestTally): Metric<'route' | 'le'> {
  const metric = {
    name,
    help,
    type: 'histogram',
    aggregator: 'sum',
    collect: undefined,
    async get(): Promise<MetricObjectWithValues<MetricValueWithName<'route' | 'le'>>> {
      const values: Array<MetricValueWithName<'route' | 'le'>> = []
      for (const [route, t] of tally.routes()) {
        let acc = 0
        tally.bounds.forEach((le, i) => {
          acc += t.buckets[i] as number
          values.push({ metricName: `${name}_bucket`, labels: { le, route }, value: acc })
        })
        values.push({ metricName: `${name}_bucket`, labels: { le: '+Inf', route }, value: t.count })
        values.push({ metricName: `${name}_sum`, labels: { route }, value: t.sum })
        values.push({ metricName: `${name}_count`, labels: { route }, value: t.count })
      }
      return { name, help, type: 'histogram' as never, aggregator: 'sum', collect: undefined as never, values }
    },
    reset(): void {
      tally.clear()
    },
  }
  return metric as unknown as Metric<'route' | 'le'>
}
