/**
 * How a front worker's served counts reach the primary: this test process is the primary (a
 * real Supervisor and GroupHost), a forked child the worker (RemoteGroups over its IPC pipe,
 * test/fixtures/cluster/served-notes-child.ts). Every note wakes the primary, so a group
 * without maxRequests hears of its requests once per report interval, however many there were;
 * a group with maxRequests hears every tenth of it at once, so it is recycled on time.
 */
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import { describe, test, type TestContext } from 'node:test'
import { fileURLToPath } from 'node:url'
import type { GroupConfig } from '../../src/config/types.js'
import { Channel } from '../../src/cluster/channel.js'
import { GroupHost } from '../../src/cluster/group-host.js'
import { Topic } from '../../src/cluster/group-messages.js'
import type { Supervisor } from '../../src/daemon/supervisor.js'
import { eventually, groupConfig, silent, startSupervisor } from '../fixtures/apps/harness.js'

const CHILD = fileURLToPath(new URL('../fixtures/cluster/served-notes-child.ts', import.meta.url))

interface Worker {
  sup: Supervisor
  /** Served notes the primary received so far. */
  notes(): number
  many(group: string, count: number): Promise<number[]>
}

async function startWorker(t: TestContext, groups: GroupConfig[], reportIntervalMs?: number): Promise<Worker> {
  const sup = await startSupervisor(t, groups)
  const host = new GroupHost(sup, silent)
  const child = fork(CHILD, [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, ...(reportIntervalMs !== undefined ? { GH_TEST_REPORT_MS: String(reportIntervalMs) } : {}) },
  })
  t.after(() => {
    host.close()
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let notes = 0
  child.on('message', (m) => {
    if ((m as { t?: unknown }).t === Topic.served) notes++
  })
  const channel = new Channel(child)
  const started = new Promise<void>((resolve, reject) => {
    channel.on('ready', () => resolve())
    channel.on('failed', (e) => reject(new Error(`worker failed to start: ${(e as { message: string }).message}`)))
  })
  host.attach(channel)
  await started
  return {
    sup,
    notes: () => notes,
    many: (group, count) => channel.request<number[]>('many', { group, url: '/pid', count, concurrency: 4 }, 60_000),
  }
}

function served(sup: Supervisor, group: string): number {
  return (sup.status().find((g) => g.name === group)?.processes ?? []).reduce((n, p) => n + p.served, 0)
}

describe('served counts from a front worker', { skip: process.platform === 'win32' }, () => {
  test('without maxRequests, 300 requests send the primary no note before the report interval ends', async (t) => {
    // An interval longer than the test: any note that arrives was sent for the count, not the clock.
    const w = await startWorker(t, [groupConfig('app')], 600_000)
    const statuses = await w.many('app', 300)
    assert.equal(statuses.length, 300)
    assert.ok(
      statuses.every((s) => s === 200),
      'every request answered 200',
    )
    // The reply came after anything the worker sent before it, on the same pipe.
    assert.equal(w.notes(), 0)
    assert.equal(served(w.sup, 'app'), 0)
  })

  test('with the default interval the counts still reach the primary, in a few notes', async (t) => {
    const w = await startWorker(t, [groupConfig('app')])
    await w.many('app', 300)
    await eventually('all 300 counted by the primary', () => served(w.sup, 'app') === 300)
    assert.ok(w.notes() >= 1)
  })

  test('with maxRequests, every tenth of it is reported at once, and the process is recycled after maxRequests', async (t) => {
    const w = await startWorker(t, [groupConfig('app', { maxRequests: 100 })], 600_000)
    const first = w.sup.status().find((g) => g.name === 'app')?.processes[0]?.pid as number
    await w.many('app', 50)
    // 50 requests, a note at every 10th: all of them counted when the reply arrives.
    assert.equal(served(w.sup, 'app'), 50)
    assert.equal(w.notes(), 5)
    await w.many('app', 60)
    await eventually('the process that served 100 is replaced', () =>
      w.sup.status().some((g) => g.name === 'app' && g.processes.every((p) => p.pid !== first)),
    )
  })
})
