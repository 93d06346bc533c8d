/**
 * The last quarter of an hour in numbers, for the status page: a ring of 5-second slots holding
 * requests, authentication outcomes, credential-cache hits and misses, and per provider its calls,
 * failures and a latency histogram. Prometheus keeps history for those who run one; an operator
 * opening /status without one still sees what happened in the last minutes.
 *
 * The request path only increments numbers in preallocated typed arrays (a provider's ring is
 * allocated the first time it is called; provider names are configured, so bounded). Slots are
 * advanced lazily, by whoever records or reads next, so there is no timer to own or stop. The
 * cache's counters live in the cache; their growth is read when a slot closes.
 */
import type { AuthResultLabel } from './auth-result.js'

/** Width of one slot. */
export const SLOT_MS = 5000
/** Slots kept: 15 minutes. */
export const SLOTS = 180
/** Slots the summaries (rates, p50/p99, failures) look at: the last 5 minutes. */
export const SUMMARY_SLOTS = 60

export const AUTH_RESULTS: readonly AuthResultLabel[] = [
  'ok',
  'forbidden',
  'bad_password',
  'unknown_user',
  'error',
  'throttled',
  'stale',
  'invalid',
]
const RESULT_INDEX = Object.fromEntries(AUTH_RESULTS.map((r, i) => [r, i])) as Record<AuthResultLabel, number>

/**
 * Latency buckets: a quarter-octave log scale from 50 µs (each bucket's bound 19% above the
 * previous), so p50/p99 read from them are within 19% of the truth, from 50 µs to about 65 s.
 */
const MIN_S = 50e-6
const PER_OCTAVE = 4
const BUCKETS = 82

export function bucketOf(seconds: number): number {
  if (!(seconds > MIN_S)) return 0
  return Math.min(BUCKETS - 1, Math.ceil(Math.log2(seconds / MIN_S) * PER_OCTAVE))
}

/** The upper bound of a bucket, in seconds (the last one is open-ended: its lower bound). */
export function bucketBound(i: number): number {
  return MIN_S * 2 ** (Math.min(i, BUCKETS - 2) / PER_OCTAVE)
}

export interface CacheTotals {
  hits: number
  misses: number
}

export interface SamplerOptions {
  /** Cumulative hits and misses of the live credential caches; undefined when there are none. */
  cache?: () => CacheTotals | undefined
  now?: () => number
}

class ProviderRing {
  readonly calls = new Uint32Array(SLOTS)
  readonly failures = new Uint32Array(SLOTS)
  readonly buckets = new Uint32Array(SLOTS * BUCKETS)

  clear(slot: number): void {
    this.calls[slot] = 0
    this.failures[slot] = 0
    this.buckets.fill(0, slot * BUCKETS, (slot + 1) * BUCKETS)
  }
}

export interface ProviderActivity {
  name: string
  /** Calls and failures (the provider threw or timed out) over the summary window. */
  calls: number
  failures: number
  /** Latency quantiles over the summary window, in milliseconds (a bucket's upper bound); null without calls. */
  p50Ms: number | null
  p99Ms: number | null
  series: { calls: number[]; failures: number[]; p99Ms: Array<number | null> }
}

export interface Activity {
  slotSeconds: number
  summarySeconds: number
  /** When the newest slot (the one still filling) began. */
  lastSlotStart: string
  /** Per slot, oldest first; the last slot is the one still filling. */
  series: { requests: number[]; cacheHits: number[]; cacheMisses: number[] } & Record<AuthResultLabel, number[]>
  /** Over the summary window. */
  summary: {
    requestsPerSecond: number
    auth: Record<AuthResultLabel, number>
    cacheHits: number
    cacheMisses: number
    /** hits / (hits + misses), null when the cache was not asked. */
    cacheHitRatio: number | null
  }
  providers: ProviderActivity[]
}

export class StatusSampler {
  readonly #now: () => number
  readonly #cache: () => CacheTotals | undefined
  readonly #requests = new Uint32Array(SLOTS)
  readonly #auth = new Uint32Array(SLOTS * AUTH_RESULTS.length)
  readonly #cacheHits = new Uint32Array(SLOTS)
  readonly #cacheMisses = new Uint32Array(SLOTS)
  readonly #providers = new Map<string, ProviderRing>()
  #slot = 0
  #slotStart: number
  #lastCache: CacheTotals = { hits: 0, misses: 0 }

  constructor(opts: SamplerOptions = {}) {
    this.#now = opts.now ?? Date.now
    this.#cache = opts.cache ?? (() => undefined)
    const now = this.#now()
    this.#slotStart = now - (now % SLOT_MS)
  }

  request(): void {
    this.#advance()
    this.#requests[this.#slot]! += 1
  }

  auth(result: AuthResultLabel): void {
    this.#advance()
    this.#auth[this.#slot * AUTH_RESULTS.length + RESULT_INDEX[result]]! += 1
  }

  providerCall(provider: string, outcome: 'ok' | 'error', seconds: number): void {
    this.#advance()
    let ring = this.#providers.get(provider)
    if (ring === undefined) this.#providers.set(provider, (ring = new ProviderRing()))
    const s = this.#slot
    ring.calls[s]! += 1
    if (outcome === 'error') ring.failures[s]! += 1
    ring.buckets[s * BUCKETS + bucketOf(seconds)]! += 1
  }

  report(): Activity {
    this.#advance()
    this.#takeCache()
    const order = Array.from({ length: SLOTS }, (_, i) => (this.#slot + 1 + i) % SLOTS)
    const recent = order.slice(-SUMMARY_SLOTS)
    const pick = (a: Uint32Array) => order.map((s) => a[s] as number)
    const authSeries = Object.fromEntries(
      AUTH_RESULTS.map((r, i) => [r, order.map((s) => this.#auth[s * AUTH_RESULTS.length + i] as number)]),
    ) as Record<AuthResultLabel, number[]>
    const sum = (a: readonly number[]) => a.slice(-SUMMARY_SLOTS).reduce((x, y) => x + y, 0)
    const requests = pick(this.#requests)
    const cacheHits = pick(this.#cacheHits)
    const cacheMisses = pick(this.#cacheMisses)
    const hits = sum(cacheHits)
    const misses = sum(cacheMisses)
    // The filling slot counts for the time it has run, so the rate does not dip at each slot start.
    const seconds = ((SUMMARY_SLOTS - 1) * SLOT_MS + Math.max(1, this.#now() - this.#slotStart)) / 1000
    return {
      slotSeconds: SLOT_MS / 1000,
      summarySeconds: (SUMMARY_SLOTS * SLOT_MS) / 1000,
      lastSlotStart: new Date(this.#slotStart).toISOString(),
      series: { requests, cacheHits, cacheMisses, ...authSeries },
      summary: {
        requestsPerSecond: round(sum(requests) / seconds, 2),
        auth: Object.fromEntries(AUTH_RESULTS.map((r) => [r, sum(authSeries[r])])) as Record<AuthResultLabel, number>,
        cacheHits: hits,
        cacheMisses: misses,
        cacheHitRatio: hits + misses === 0 ? null : round(hits / (hits + misses), 4),
      },
      providers: [...this.#providers]
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([name, ring]) => providerActivity(name, ring, order, recent)),
    }
  }

  /** Moves to the slot of now, clearing the slots skipped over (nothing happened in them). */
  #advance(): void {
    const now = this.#now()
    if (now < this.#slotStart + SLOT_MS) return
    this.#takeCache()
    const steps = Math.floor((now - this.#slotStart) / SLOT_MS)
    for (let i = 1; i <= Math.min(steps, SLOTS); i++) this.#clear((this.#slot + i) % SLOTS)
    this.#slot = (this.#slot + steps) % SLOTS
    this.#slotStart += steps * SLOT_MS
  }

  /** Books the cache's growth since the last look into the current slot. */
  #takeCache(): void {
    const c = this.#cache()
    if (c === undefined) return
    // A reload builds new caches whose counters start again from 0: a count that went down did.
    const fresh = c.hits < this.#lastCache.hits || c.misses < this.#lastCache.misses
    const hits = fresh ? c.hits : c.hits - this.#lastCache.hits
    const misses = fresh ? c.misses : c.misses - this.#lastCache.misses
    this.#cacheHits[this.#slot]! += hits
    this.#cacheMisses[this.#slot]! += misses
    this.#lastCache = { hits: c.hits, misses: c.misses }
  }

  #clear(slot: number): void {
    this.#requests[slot] = 0
    this.#cacheHits[slot] = 0
    this.#cacheMisses[slot] = 0
    this.#auth.fill(0, slot * AUTH_RESULTS.length, (slot + 1) * AUTH_RESULTS.length)
    for (const ring of this.#providers.values()) ring.clear(slot)
  }
}

function providerActivity(
  name: string,
  ring: ProviderRing,
  order: readonly number[],
  recent: readonly number[],
): ProviderActivity {
  const window = new Float64Array(BUCKETS)
  for (const s of recent) for (let b = 0; b < BUCKETS; b++) window[b]! += ring.buckets[s * BUCKETS + b] as number
  const calls = recent.reduce((n, s) => n + (ring.calls[s] as number), 0)
  return {
    name,
    calls,
    failures: recent.reduce((n, s) => n + (ring.failures[s] as number), 0),
    p50Ms: quantileMs(window, 0.5),
    p99Ms: quantileMs(window, 0.99),
    series: {
      calls: order.map((s) => ring.calls[s] as number),
      failures: order.map((s) => ring.failures[s] as number),
      p99Ms: order.map((s) => quantileMs(ring.buckets.subarray(s * BUCKETS, (s + 1) * BUCKETS), 0.99)),
    },
  }
}

/** The upper bound of the bucket holding the q-quantile, in ms; null for an empty histogram. */
export function quantileMs(buckets: ArrayLike<number>, q: number): number | null {
  let total = 0
  for (let b = 0; b < buckets.length; b++) total += buckets[b] as number
  if (total === 0) return null
  const rank = Math.ceil(q * total)
  let acc = 0
  for (let b = 0; b < buckets.length; b++) {
    acc += buckets[b] as number
    if (acc >= rank) return round(bucketBound(b) * 1000, 3)
  }
  return round(bucketBound(buckets.length - 1) * 1000, 3)
}

function round(x: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(x * f) / f
}
