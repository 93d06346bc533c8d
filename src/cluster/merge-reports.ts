/**
 * One view over the front workers for the admin listener: their Prometheus metrics summed
 * (prom-client's AggregatorRegistry, which sums counters and histograms and applies each
 * default metric's own rule), their status-page activity added slot by slot (slots start on
 * the same wall-clock boundaries in every process), and their lockout lists joined.
 */
import { AggregatorRegistry, type MetricObjectWithValues, type MetricValue } from 'prom-client'
import type { Activity, ProviderActivity } from '../metrics/status-sampler.js'
import type { Lockout } from '../metrics/lockout-board.js'

export type MetricsJson = Array<MetricObjectWithValues<MetricValue<string>>>

export function aggregateMetrics(perProcess: MetricsJson[]): Promise<string> {
  return AggregatorRegistry.aggregate(perProcess).metrics()
}

/** The workers' activity as one: counts added; a provider's latency quantiles are the worst worker's. */
export function mergeActivity(reports: readonly Activity[]): Activity | undefined {
  const [first, ...rest] = reports
  if (first === undefined) return undefined
  const out: Activity = structuredClone(first)
  for (const r of rest) {
    for (const key of Object.keys(out.series) as Array<keyof Activity['series']>)
      addInto(out.series[key], r.series[key] ?? [])
    out.summary.requestsPerSecond = round2(out.summary.requestsPerSecond + r.summary.requestsPerSecond)
    for (const key of Object.keys(out.summary.auth) as Array<keyof Activity['summary']['auth']>)
      out.summary.auth[key] += r.summary.auth[key] ?? 0
    out.summary.cacheHits += r.summary.cacheHits
    out.summary.cacheMisses += r.summary.cacheMisses
    for (const p of r.providers) {
      const mine = out.providers.find((q) => q.name === p.name)
      if (mine === undefined) out.providers.push(structuredClone(p))
      else mergeProvider(mine, p)
    }
  }
  const { cacheHits: hits, cacheMisses: misses } = out.summary
  out.summary.cacheHitRatio = hits + misses === 0 ? null : Math.round((hits / (hits + misses)) * 10_000) / 10_000
  out.providers.sort((a, b) => a.name.localeCompare(b.name))
  return out
}

/** Every worker's lockouts; one entry per address or user, the one ending last. */
export function mergeLockouts(lists: ReadonlyArray<Lockout[] | null>): Lockout[] | null {
  if (lists.every((l) => l === null)) return null
  const byKey = new Map<string, Lockout>()
  for (const l of lists)
    for (const e of l ?? []) {
      const key = e.scope === 'user' ? `u\0${e.providers ?? ''}\0${e.user ?? ''}` : `a\0${e.address}`
      const seen = byKey.get(key)
      if (seen === undefined || seen.until < e.until) byKey.set(key, e)
    }
  return [...byKey.values()].sort((a, b) => (a.until < b.until ? 1 : a.until > b.until ? -1 : 0))
}

function mergeProvider(into: ProviderActivity, p: ProviderActivity): void {
  into.calls += p.calls
  into.failures += p.failures
  into.p50Ms = worst(into.p50Ms, p.p50Ms)
  into.p99Ms = worst(into.p99Ms, p.p99Ms)
  addInto(into.series.calls, p.series.calls)
  addInto(into.series.failures, p.series.failures)
  into.series.p99Ms = into.series.p99Ms.map((v, i) => worst(v, p.series.p99Ms[i] ?? null))
}

function addInto(into: number[], more: readonly number[]): void {
  for (let i = 0; i < into.length; i++) into[i]! += more[i] ?? 0
}

function worst(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b)
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}
