/**
 * Dynamic process spawning (`processes: { min, max }`) under a bounded load test: autocannon
 * against the front on 127.0.0.1 for a few seconds; the group grows to max while every
 * process is busy and shrinks back to min once idle for idleTime. Asserted on the process
 * counts of Supervisor.status(), sampled while the load runs.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import autocannon from 'autocannon'
import { MULTI_APP, APPS, eventually } from '../fixtures/apps/harness.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { parseConfig } from '../../src/config/parse.js'
import { isGatehouseError } from '../../src/errors.js'
import type { GroupStatus } from '../../src/daemon/group.js'

const live = (g: GroupStatus) => g.processes.filter((p) => p.state === 'starting' || p.state === 'ready').length
const group = (gw: TestGateway, name: string) => gw.gw.supervisor!.status().find((g) => g.name === name)!

/** Runs autocannon for `seconds` while sampling the group's live process count every 25 ms. */
async function loadAndSample(
  gw: TestGateway,
  name: string,
  seconds: number,
): Promise<{ counts: number[]; non2xx: number; requests: number }> {
  const counts: number[] = []
  const sampler = setInterval(() => counts.push(live(group(gw, name))), 25)
  try {
    const result = await autocannon({ url: `${gw.url}/slow?ms=50`, connections: 8, duration: seconds })
    return { counts, non2xx: result.non2xx + result.errors + result.timeouts, requests: result.requests.total }
  } finally {
    clearInterval(sampler)
  }
}

test(
  'processes { min: 1, max: 3 } grows to 3 under load and shrinks back to 1 after idleTime',
  { timeout: 30_000 },
  async (t) => {
    const { dir, cleanup } = tempDir('gh-autoscale-')
    t.after(cleanup)
    const gw = await startGateway(
      {
        groups: {
          pool: { app: MULTI_APP, cwd: APPS, processes: { min: 1, max: 3 }, idleTime: '400ms', concurrency: 1 },
        },
        routes: [{ path: '/slow', group: 'pool' }],
        log: { level: 'warn' },
      },
      dir,
    )
    t.after(() => gw.close())
    assert.equal(live(group(gw, 'pool')), 1)

    const load = await loadAndSample(gw, 'pool', 5)
    assert.equal(load.non2xx, 0)
    assert.ok(load.requests > 50, `only ${load.requests} requests`)
    assert.equal(Math.max(...load.counts), 3, `live process counts seen: ${[...new Set(load.counts)].join(',')}`)
    const grown = group(gw, 'pool')
    assert.equal(grown.min, 1)
    assert.equal(grown.max, 3)
    assert.ok((grown.spawned ?? 0) >= 2, `spawned ${grown.spawned}`)

    const shrunk = await eventually(
      'the group back at min',
      () => {
        const g = group(gw, 'pool')
        return live(g) === 1 && g.processes.length === 1 ? g : undefined
      },
      10_000,
    )
    assert.equal(shrunk.retired, shrunk.spawned)
    assert.equal(shrunk.restarts, 0)
    assert.equal(shrunk.processes[0]!.state, 'ready')
  },
)

test('a fixed pool (processes: 2) never grows under the same load', { timeout: 30_000 }, async (t) => {
  const { dir, cleanup } = tempDir('gh-fixed-')
  t.after(cleanup)
  const gw = await startGateway(
    {
      groups: { fixed: { app: MULTI_APP, cwd: APPS, processes: 2, concurrency: 1 } },
      routes: [{ path: '/slow', group: 'fixed' }],
      log: { level: 'warn' },
    },
    dir,
  )
  t.after(() => gw.close())
  const load = await loadAndSample(gw, 'fixed', 2)
  assert.equal(load.non2xx, 0)
  assert.equal(Math.max(...load.counts), 2)
  assert.equal(group(gw, 'fixed').spawned, 0)
  assert.equal(group(gw, 'fixed').max, 2)
})

test('processes { min, max } is validated by key path', () => {
  const parse = (groups: Record<string, unknown>) => () => parseConfig({ groups, routes: [] }, { baseDir: APPS })
  assert.throws(
    parse({ a: { app: 'multi.ts', processes: { min: 3, max: 2 } } }),
    (err) =>
      isGatehouseError(err, 'GH_ERR_CONFIG_INVALID') &&
      err.message.includes('groups.a.processes.max: expected at least processes.min (3), got 2'),
  )
  assert.throws(
    parse({ a: { app: 'multi.ts', processes: 2, idleTime: '1s' } }),
    (err) =>
      isGatehouseError(err, 'GH_ERR_CONFIG_INVALID') &&
      err.message.includes('groups.a.idleTime: only with processes: { min, max }'),
  )
  assert.throws(
    parse({ a: { app: 'multi.ts', processes: { min: 1 } } }),
    (err) =>
      isGatehouseError(err, 'GH_ERR_CONFIG_INVALID') &&
      err.message.includes('groups.a.processes.max: required key is missing'),
  )
  const ok = parseConfig(
    {
      groups: {
        a: { app: 'multi.ts', processes: { min: 1, max: 4 }, idleTime: '2s' },
        b: { app: 'multi.ts', processes: 3 },
      },
      routes: [],
    },
    { baseDir: APPS },
  )
  assert.deepEqual([ok.groups.a!.processes, ok.groups.a!.maxProcesses, ok.groups.a!.idleTimeMs], [1, 4, 2000])
  assert.deepEqual(
    [ok.groups.b!.processes, ok.groups.b!.maxProcesses, ok.groups.b!.idleTimeMs],
    [3, undefined, undefined],
  )
})
