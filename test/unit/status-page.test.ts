/**
 * The status page's two renderers agree: the inline script (status-page-script.ts) redraws the
 * charts and figures from /status.json exactly as the server drew them (same chart paths, same
 * series, same figure texts), values from configuration and clients are escaped, and the
 * LockoutBoard lists a throttle's lockouts while they last.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { STATUS_SCRIPT } from '../../src/admin/status-page-script.js'
import { chartSeries, sparkPath, statusPage } from '../../src/admin/status-page.js'
import type { StatusReport } from '../../src/admin/status-report.js'
import { StatusSampler, SLOT_MS } from '../../src/metrics/status-sampler.js'
import { LockoutBoard, MAX_LOCKOUTS } from '../../src/metrics/lockout-board.js'
import { LoginThrottle } from '../../src/auth/throttle.js'

interface ScriptParts {
  SERIES: Record<string, (s: unknown) => number[]>
  sparkPath: (values: Array<number | null>, top: number) => string
  figures: (r: unknown) => Record<string, string>
}

/** The script's pure part (constants, series, chart path, formatting, figures), run on its own. */
function scriptParts(): ScriptParts {
  const from = STATUS_SCRIPT.indexOf('const W')
  const to = STATUS_SCRIPT.indexOf('function el(')
  assert.ok(from > 0 && to > from)
  return new Function(`${STATUS_SCRIPT.slice(from, to)}; return { SERIES, sparkPath, figures }`)() as ScriptParts
}

function report(): StatusReport {
  let now = 1_700_000_000_000
  const sampler = new StatusSampler({ now: () => now, cache: () => ({ hits: 7, misses: 3 }) })
  for (let slot = 0; slot < 30; slot++) {
    for (let i = 0; i < slot % 7; i++) sampler.request()
    if (slot % 3 === 0) sampler.auth('ok')
    if (slot % 4 === 0) sampler.auth('bad_password')
    if (slot % 5 === 0) sampler.auth('throttled')
    if (slot === 9) sampler.auth('error')
    sampler.providerCall('<accounts>', slot === 2 ? 'error' : 'ok', 0.001 * (slot + 1))
    now += SLOT_MS
  }
  return {
    version: '1.2.3',
    pid: 42,
    startedAt: '2026-01-01T00:00:00.000Z',
    uptimeSeconds: 3725,
    listen: 'http://127.0.0.1:8080',
    configFile: '/etc/<g>.yaml',
    rssBytes: 50 * 1048576,
    ready: true,
    lastConfigReload: null,
    groups: [
      {
        name: 'wiki"><script>',
        state: 'running',
        generation: 1,
        min: 1,
        max: 3,
        queued: 0,
        restarts: 0,
        reloads: 1,
        recycled: 0,
        spawned: 0,
        retired: 0,
        lastReload: { at: '2026-01-01T00:00:00.000Z', reason: 'touched <app>.ts' },
        processes: [
          {
            seq: 1,
            pid: 99,
            state: 'ready',
            inflight: 2,
            served: 10,
            startedAt: '2026-01-01T00:00:00.000Z',
            uptimeSeconds: 61,
            rssBytes: 1048576,
          },
        ],
      },
    ],
    activity: sampler.report(),
    lockouts: [
      {
        scope: 'user',
        address: '127.0.0.9',
        user: '<img src=x onerror=alert(1)>',
        providers: 'a&b',
        since: '2026-01-01T00:00:00.000Z',
        until: '2026-01-01T00:05:00.000Z',
        secondsLeft: 300,
      },
    ],
  }
}

describe('status page', () => {
  test('the script draws the same chart paths and series as the server', () => {
    const js = scriptParts()
    for (const values of [[0, 0, 0], [1, 5, 2, 0, 9], [null, 3, null], [0.25, 1, 0.5], [7]]) {
      assert.equal(js.sparkPath(values, 0), sparkPath(values, 0))
      assert.equal(js.sparkPath(values, 1), sparkPath(values, 1))
    }
    const r = report()
    const server = chartSeries(r.activity!.series)
    for (const [k, values] of Object.entries(server)) {
      assert.deepEqual(js.SERIES[k]!(r.activity!.series), values, k)
      assert.ok(
        statusPage(r).includes(
          `data-series="${k}" viewBox="0 0 180 40" preserveAspectRatio="none" role="img" aria-label="`,
        ),
        k,
      )
    }
    assert.ok(statusPage(r).includes(`<path d="${sparkPath(server.requests)}"/>`))
  })

  test('the script writes the same figure texts the server rendered', () => {
    const r = report()
    const html = statusPage(r).split('<script>')[0]!
    const figures = scriptParts().figures(JSON.parse(JSON.stringify(r)))
    const rendered = [...html.matchAll(/data-k="(\w+)"[^>]*>([^<]*)</g)].map((m) => [m[1]!, m[2]!] as const)
    assert.deepEqual(rendered.map(([k]) => k).sort(), Object.keys(figures).sort())
    for (const [k, text] of rendered) assert.equal(figures[k], text, k)
    assert.equal(figures.rps, r.activity!.summary.requestsPerSecond.toFixed(2))
    assert.equal(figures.uptime, '1h02m')
    assert.equal(figures.cache, '70.0%')
  })

  test('names from configuration, file names and clients are escaped; text figures stand next to each chart', () => {
    const html = statusPage(report())
    for (const raw of ['<img src=x', '<script>"', '<accounts>', '<app>', '/etc/<g>'])
      assert.ok(!html.includes(raw), raw)
    assert.ok(html.includes('<td class="l">&lt;img src=x onerror=alert(1)&gt;</td><td class="l">a&amp;b</td>'))
    assert.ok(html.includes('data-group="wiki&quot;&gt;&lt;script&gt;"'))
    assert.ok(html.includes('<td class="l">&lt;accounts&gt;</td><td>30</td><td>1</td>'))
    assert.match(html, /<caption>Processes of group wiki&quot;&gt;&lt;script&gt;<\/caption>/)
    assert.equal((html.match(/<h2 /g) ?? []).length, 4, 'traffic, providers, lockouts, one group')
    assert.equal((html.match(/<caption>/g) ?? []).length, 3)
  })
})

describe('LockoutBoard', () => {
  const rule = { maxFailures: 2, windowMs: 60_000, lockoutMs: 30_000 }

  test("lists a throttle's lockouts while they last, the longest to run first, user and providers apart", () => {
    let now = 1_000_000
    const throttle = new LoginThrottle({
      perAddress: rule,
      perUser: { ...rule, lockoutMs: 90_000 },
      maxLockoutMs: 3_600_000,
      delayMs: 0,
      maxDelayMs: 0,
      maxEntries: 100,
      now: () => now,
    })
    const board = new LockoutBoard(() => now)
    board.watch(throttle)
    board.watch(throttle)
    assert.deepEqual(board.current(throttle), [])
    void throttle.recordFailure('office\0ann', '10.0.0.1')
    void throttle.recordFailure('office\0bea', '10.0.0.1')
    now += 1000
    void throttle.recordFailure('office\0cy', '10.0.0.2')
    void throttle.recordFailure('office\0cy', '10.0.0.3')
    const list = board.current(throttle)
    assert.deepEqual(
      list.map((l) => [l.scope, l.address, l.user, l.providers, l.secondsLeft]),
      [
        ['user', '10.0.0.3', 'cy', 'office', 90],
        ['address', '10.0.0.1', undefined, undefined, 29],
      ],
    )
    assert.ok(!('user' in list[1]!))
    now += 29_000
    assert.deepEqual(
      board.current(throttle).map((l) => l.scope),
      ['user'],
    )
    now += 61_000
    assert.deepEqual(board.current(throttle), [])
    assert.deepEqual(
      board.current(new LoginThrottle({ perAddress: rule, maxLockoutMs: 1, delayMs: 0, maxDelayMs: 0, maxEntries: 1 })),
      [],
      "another front's throttle",
    )
    assert.deepEqual(board.current(undefined), [])
  })

  test('keeps at most MAX_LOCKOUTS, dropping the soonest to end', () => {
    const now = 0
    const throttle = new LoginThrottle({
      perAddress: { maxFailures: 1, windowMs: 60_000, lockoutMs: 1000 },
      maxLockoutMs: 10_000_000,
      delayMs: 0,
      maxDelayMs: 0,
      maxEntries: MAX_LOCKOUTS * 2,
      now: () => now,
    })
    const board = new LockoutBoard(() => now)
    board.watch(throttle)
    for (let i = 0; i < MAX_LOCKOUTS + 5; i++)
      throttle.emit('lockout', { scope: 'address', address: `10.1.${i >> 8}.${i & 255}`, lockoutMs: 10_000 + i })
    const list = board.current(throttle)
    assert.equal(list.length, MAX_LOCKOUTS)
    assert.equal(list.at(-1)!.address, '10.1.0.5')
  })
})
