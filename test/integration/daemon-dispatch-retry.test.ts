/**
 * Requests dispatched to a daemon process that has just died, before the front noticed (the
 * frames sit corked until the check phase): bodiless ones never reached the worker and are
 * retried on another process; ones with a body are never replayed.
 */
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { Readable } from 'node:stream'
import { describe, test } from 'node:test'
import { GatehouseError } from '../../src/errors.js'
import { eventually, get, groupConfig, pids, readAll, startSupervisor } from '../fixtures/apps/harness.js'
import type { Supervisor } from '../../src/daemon/supervisor.js'

/**
 * Blocks the event loop (on purpose: the front must not see the close) until `pid` is a zombie
 * or gone; bounded to 2 s. The main thread turns zombie while Node's other threads may still
 * hold the process's sockets open (a write then still succeeds), so every thread must be gone.
 * /proc/PID/stat field 3 is the state, after the parenthesised name.
 */
function waitDeadSync(pid: number): void {
  const until = Date.now() + 2_000
  for (;;) {
    let state: string | undefined
    let threads: number
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
      state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3)
      threads = readdirSync(`/proc/${pid}/task`).length
    } catch {
      return
    }
    if ((state === 'Z' || state === 'X') && threads <= 1) return
    if (Date.now() > until)
      throw new Error(`process ${pid} still in state ${state} with ${threads} threads after SIGKILL`)
  }
}

/** Kills one of the group's two processes and returns it and the survivor, the front none the wiser. */
async function killOneUnnoticed(sup: Supervisor, group: string): Promise<{ victim: number; survivor: number }> {
  const both = await eventually('two ready processes', () => {
    const p = pids(sup, group)
    return p.length === 2 ? p : undefined
  })
  const [victim, survivor] = both as [number, number]
  process.kill(victim, 'SIGKILL')
  waitDeadSync(victim)
  return { victim, survivor }
}

describe('dispatch to a process that died unnoticed', { skip: process.platform !== 'linux', timeout: 30_000 }, () => {
  test('bodiless requests dispatched after an unnoticed SIGKILL are all retried on the other process and answer 200', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('retry', { processes: 2, concurrency: 64 })])
    const h = sup.group('retry')
    const { survivor } = await killOneUnnoticed(sup, 'retry')
    const results = await Promise.all(
      Array.from({ length: 20 }, () =>
        get(h, '/pid').then(
          (r) => `${r.status} ${r.text}`,
          (err: GatehouseError) => `${err.code}: ${err.message}`,
        ),
      ),
    )
    assert.deepEqual(
      results,
      Array.from({ length: 20 }, () => `200 ${survivor}`),
    )
  })

  test('a request with a body dispatched after an unnoticed SIGKILL is not replayed: it fails with GH_ERR_GROUP_FAILED', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('noreplay', { processes: 2, concurrency: 64 })])
    const h = sup.group('noreplay')
    const { survivor } = await killOneUnnoticed(sup, 'noreplay')
    const post = () =>
      h
        .request(
          { method: 'POST', url: '/echo', headers: { host: 'test.local' } },
          Readable.from([Buffer.from('payload')]),
        )
        .then(
          async (r) => `${r.status} ${(await readAll(r.body)).toString()}`,
          (err: GatehouseError) => `${err.code} ${err.statusCode}`,
        )
    // Two in the same tick: least-outstanding balancing sends one to each process.
    const results = await Promise.all([post(), post()])
    assert.deepEqual(results.sort(), ['200 payload', 'GH_ERR_GROUP_FAILED 502'])
    assert.equal((await get(h, '/pid')).text, String(survivor))
  })
})
