import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Counter, Histogram, Registry } from 'prom-client'
import { LabelTally, RequestTally, tallyHistogram } from '../../src/metrics/request-tally.js'

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.1, 1]
const OBSERVED: Array<[string, number]> = [
  ['/a', 0.0005],
  ['/a', 0.001],
  ['/a', 0.0011],
  ['/a', 0.7],
  ['/b', 3],
  ['/a', 0.01],
  ['/b', 0.0025],
]

describe('per-request tallies read at scrape time', () => {
  test("the tally histogram prints exactly what prom-client's Histogram prints for the same observations", async () => {
    const reference = new Registry()
    const h = new Histogram({
      name: 'x_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [reference],
    })
    const tally = new RequestTally(BUCKETS)
    const ours = new Registry()
    ours.registerMetric(tallyHistogram('x_seconds', 'h', tally))
    for (const [route, s] of OBSERVED) {
      h.observe({ route }, s)
      tally.record(route, 200, s)
    }
    assert.equal(await ours.metrics(), await reference.metrics())
    ours.resetMetrics()
    assert.equal(await ours.metrics(), '# HELP x_seconds h\n# TYPE x_seconds histogram\n')
  })

  test('a label tally sets its counter at each scrape, counts unchanged between scrapes', async () => {
    const registry = new Registry()
    const tally = new LabelTally(['provider', 'result'] as const)
    new Counter({
      name: 'x_total',
      help: 'c',
      labelNames: ['provider', 'result'],
      registers: [registry],
      collect: tally.collector(),
    })
    tally.inc('office', 'ok')
    tally.inc('office', 'ok')
    tally.inc('local', 'error')
    const text = await registry.metrics()
    assert.match(text, /^x_total\{provider="office",result="ok"\} 2$/m)
    assert.match(text, /^x_total\{provider="local",result="error"\} 1$/m)
    assert.equal(await registry.metrics(), text, 'a second scrape does not count twice')
  })

  test('statuses and 503s are counted per route', () => {
    const tally = new RequestTally(BUCKETS)
    tally.record('/a', 200, 0.001)
    tally.record('/a', 503, 0.001)
    tally.record('/a', 503, 0.001)
    const a = new Map(tally.routes()).get('/a')!
    assert.deepEqual(
      [...a.statuses],
      [
        [200, 1],
        [503, 2],
      ],
    )
    assert.equal(a.unavailable, 2)
    assert.equal(a.count, 3)
  })
})
