import { test } from 'node:test'
import assert from 'node:assert/strict'
import { addLoads } from '../../src/cluster/group-loads.js'
import { readLoadBody, type GroupLoad } from '../../src/cluster/group-messages.js'
import type { GroupStatus } from '../../src/daemon/group.js'

function status(): GroupStatus[] {
  const proc = (seq: number, state: 'ready' | 'draining') => ({
    seq,
    pid: 100 + seq,
    state,
    inflight: 0,
    served: 9,
    startedAt: 1,
  })
  return [
    {
      name: 'app',
      state: 'running',
      generation: 2,
      queued: 0,
      restarts: 0,
      reloads: 1,
      processes: [proc(3, 'draining'), proc(4, 'ready'), proc(5, 'ready')],
      queueWaits: 0,
      queueWaitMs: 0,
      busyRejections: 0,
    },
    {
      name: 'idle',
      state: 'running',
      generation: 0,
      queued: 0,
      restarts: 0,
      reloads: 0,
      processes: [proc(1, 'ready')],
    },
  ]
}

const load = (over: Partial<GroupLoad>): GroupLoad => ({
  group: 'app',
  queued: 0,
  queueWaits: 0,
  queueWaitMs: 0,
  busyRejections: 0,
  inflight: [],
  ...over,
})

test('addLoads sums every worker into the supervisor status: in flight per process, queued and the queue totals per group', () => {
  const sup = status()
  const merged = addLoads(sup, [
    {
      groups: [
        load({
          queued: 2,
          queueWaits: 5,
          queueWaitMs: 70,
          busyRejections: 1,
          inflight: [
            { seq: 3, count: 1 },
            { seq: 4, count: 2 },
          ],
        }),
      ],
    },
    {
      groups: [
        load({
          queued: 1,
          queueWaits: 1,
          queueWaitMs: 30,
          inflight: [
            { seq: 4, count: 2 },
            { seq: 5, count: 1 },
          ],
        }),
      ],
    },
    { groups: [] },
  ])
  const app = merged.find((g) => g.name === 'app')!
  assert.deepEqual(
    app.processes.map((p) => [p.seq, p.inflight]),
    [
      [3, 1],
      [4, 4],
      [5, 1],
    ],
  )
  assert.deepEqual([app.queued, app.queueWaits, app.queueWaitMs, app.busyRejections], [3, 6, 100, 1])
  assert.deepEqual(
    merged.find((g) => g.name === 'idle'),
    sup[1],
    'a group no worker has work in is as the supervisor says',
  )
  assert.equal(sup[0]!.queued, 0, "the supervisor's own status is not changed")
  assert.equal(sup[0]!.processes[1]!.inflight, 0)
})

test('addLoads leaves out what the primary no longer lists: a removed group, a process that ended', () => {
  const merged = addLoads(status(), [
    {
      groups: [
        load({ group: 'gone', queued: 4 }),
        load({
          inflight: [
            { seq: 2, count: 7 },
            { seq: 5, count: 1 },
          ],
        }),
      ],
    },
  ])
  assert.deepEqual(
    merged.map((g) => g.name),
    ['app', 'idle'],
  )
  assert.deepEqual(
    merged[0]!.processes.map((p) => p.inflight),
    [0, 0, 1],
  )
})

test('readLoadBody keeps well-formed loads and refuses any malformed one', () => {
  const good = { groups: [load({ queued: 1, queueWaitMs: 12, inflight: [{ seq: 1, count: 2 }] })] }
  assert.deepEqual(readLoadBody({ ...good, extra: 1 }), good)
  assert.deepEqual(readLoadBody({ groups: [] }), { groups: [] })
  for (const bad of [
    undefined,
    null,
    [],
    { groups: {} },
    { groups: [{ ...load({}), queued: -1 }] },
    { groups: [{ ...load({}), group: 7 }] },
    { groups: [{ ...load({}), queueWaitMs: 'x' }] },
    { groups: [{ ...load({}), inflight: [{ seq: 1 }] }] },
    { groups: [{ ...load({}), inflight: [{ seq: 1.5, count: 1 }] }] },
    { groups: [{ ...load({}), inflight: null }] },
  ])
    assert.equal(readLoadBody(bad), undefined, JSON.stringify(bad))
})
