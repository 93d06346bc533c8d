/**
 * StatusSampler (the status page's last 15 minutes) with an injected clock: counts land in the
 * slot of their time, skipped slots read zero, the ring forgets what is older than 15 minutes,
 * cache growth is booked per slot (and survives a cache that starts again from 0), and p50/p99
 * come out of the latency buckets within one bucket's width of the exact value.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  bucketBound,
  bucketOf,
  quantileMs,
  SLOT_MS,
  SLOTS,
  StatusSampler,
  SUMMARY_SLOTS,
} from '../../src/metrics/status-sampler.js'

const T0 = 1_700_000_000_000 - (1_700_000_000_000 % SLOT_MS)
const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0)

function clock() {
  let now = T0
  return {
    now: () => now,
    tick(ms: number) {
      now += ms
    },
  }
}

describe('StatusSampler', () => {
  test('counts land in the slot of their time, the newest last, and skipped slots read zero', () => {
    const c = clock()
    const s = new StatusSampler({ now: c.now })
    s.request()
    s.request()
    s.auth('ok')
    c.tick(SLOT_MS)
    s.request()
    s.auth('bad_password')
    c.tick(3 * SLOT_MS)
    s.request()
    const r = s.report()
    assert.equal(r.series.requests.length, SLOTS)
    assert.deepEqual(r.series.requests.slice(-5), [2, 1, 0, 0, 1])
    assert.deepEqual(r.series.ok.slice(-5), [1, 0, 0, 0, 0])
    assert.deepEqual(r.series.bad_password.slice(-5), [0, 1, 0, 0, 0])
    assert.equal(sum(r.series.requests), 4)
    assert.equal(r.lastSlotStart, new Date(T0 + 4 * SLOT_MS).toISOString())
    assert.deepEqual(r.summary.auth, {
      ok: 1,
      forbidden: 0,
      bad_password: 1,
      unknown_user: 0,
      error: 0,
      throttled: 0,
      stale: 0,
      invalid: 0,
    })
  })

  test('the ring forgets what is older than its 15 minutes, and a long silence clears it all', () => {
    const c = clock()
    const s = new StatusSampler({ now: c.now })
    s.request()
    c.tick((SLOTS - 1) * SLOT_MS)
    s.request()
    assert.deepEqual([s.report().series.requests[0], sum(s.report().series.requests)], [1, 2])
    c.tick(SLOT_MS)
    assert.equal(sum(s.report().series.requests), 1, 'the first slot fell off')
    c.tick(SLOTS * SLOT_MS * 3)
    s.providerCall('p', 'ok', 0.01)
    const r = s.report()
    assert.equal(sum(r.series.requests), 0)
    assert.equal(r.providers[0]!.calls, 1)
  })

  test('summaries cover the last 5 minutes: the rate counts the filling slot for the time it ran', () => {
    const c = clock()
    const s = new StatusSampler({ now: c.now })
    s.request() // falls out of the summary window below
    c.tick(SUMMARY_SLOTS * SLOT_MS)
    for (let i = 0; i < 60; i++) s.request()
    c.tick(2000)
    const r = s.report()
    assert.equal(sum(r.series.requests), 61)
    // 60 requests over 59 full slots and 2 s of the filling one.
    assert.equal(r.summary.requestsPerSecond, Math.round((60 / ((59 * SLOT_MS + 2000) / 1000)) * 100) / 100)
  })

  test('credential-cache growth is booked in the slot it happened in, and a cache that restarts from 0 is no negative count', () => {
    const c = clock()
    let totals = { hits: 0, misses: 0 }
    const s = new StatusSampler({ now: c.now, cache: () => totals })
    totals = { hits: 3, misses: 1 }
    c.tick(SLOT_MS)
    s.request()
    totals = { hits: 5, misses: 1 }
    assert.deepEqual(s.report().series.cacheHits.slice(-2), [3, 2])
    totals = { hits: 1, misses: 2 } // a configuration reload built fresh caches
    c.tick(SLOT_MS)
    const r = s.report()
    // Growth is seen when someone looks: the fresh caches' counts go to the slot that was filling.
    assert.deepEqual(r.series.cacheHits.slice(-3), [3, 3, 0])
    assert.deepEqual(r.series.cacheMisses.slice(-3), [1, 2, 0])
    assert.equal(r.summary.cacheHits, 6)
    assert.equal(r.summary.cacheMisses, 3)
    assert.equal(r.summary.cacheHitRatio, 0.6667)
  })

  test('per provider: calls, failures and p50/p99 within one bucket of the exact quantile', () => {
    const c = clock()
    const s = new StatusSampler({ now: c.now })
    // 1 ms .. 100 ms, one call each: exact p50 50 ms, p99 99 ms.
    for (let ms = 1; ms <= 100; ms++) s.providerCall('accounts', ms % 10 === 0 ? 'error' : 'ok', ms / 1000)
    s.providerCall('office', 'ok', 0.002)
    const r = s.report()
    assert.deepEqual(
      r.providers.map((p) => p.name),
      ['accounts', 'office'],
    )
    const a = r.providers[0]!
    assert.deepEqual([a.calls, a.failures], [100, 10])
    assert.ok(a.p50Ms! >= 50 && a.p50Ms! <= 50 * 2 ** 0.25, String(a.p50Ms))
    assert.ok(a.p99Ms! >= 99 && a.p99Ms! <= 99 * 2 ** 0.25, String(a.p99Ms))
    assert.equal(a.series.calls.at(-1), 100)
    assert.equal(a.series.failures.at(-1), 10)
    assert.equal(a.series.p99Ms.at(-1), a.p99Ms)
    assert.equal(a.series.p99Ms.at(-2), null, 'no calls: no latency')
    assert.equal(r.summary.cacheHitRatio, null)
  })
})

describe('latency buckets', () => {
  test('each value falls in the bucket whose bound is the first at or above it', () => {
    for (const v of [60e-6, 0.001, 0.0123, 0.5, 3, 40]) {
      const b = bucketOf(v)
      assert.ok(bucketBound(b) >= v * (1 - 1e-12), `${v} <= bound of ${b}`)
      assert.ok(bucketBound(b - 1) < v, `${v} > bound of ${b - 1}`)
    }
    assert.equal(bucketOf(0), 0)
    assert.equal(bucketOf(Number.NaN), 0)
    assert.equal(bucketOf(1e6), bucketOf(1e7), 'past the top, the last bucket')
  })

  test('quantileMs reads the bound of the bucket holding the rank, null when empty', () => {
    const h = new Uint32Array(10)
    assert.equal(quantileMs(h, 0.5), null)
    h[2] = 98
    h[7] = 2
    assert.equal(quantileMs(h, 0.5), Math.round(bucketBound(2) * 1e6) / 1000)
    assert.equal(quantileMs(h, 0.98), Math.round(bucketBound(2) * 1e6) / 1000)
    assert.equal(quantileMs(h, 0.99), Math.round(bucketBound(7) * 1e6) / 1000)
  })
})
