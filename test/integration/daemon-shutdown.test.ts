/** Stopping daemon groups: graceful close drains in-flight requests; no daemon outlives its front. */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { describe, test } from 'node:test'
import { GatehouseError } from '../../src/errors.js'
import { alive, APPS, eventually, get, groupConfig, pids, startSupervisor, tempDir } from '../fixtures/apps/harness.js'

describe('daemon group shutdown', { skip: process.platform === 'win32' }, () => {
  test('close() lets an in-flight request finish, refuses new ones with 503, and leaves no process behind', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('graceful', { processes: 2 })])
    const h = sup.group('graceful')
    const before = pids(sup, 'graceful')
    const inflight = get(h, '/slow?ms=400')
    await eventually('request dispatched', () => sup.status()[0]?.processes.some((p) => p.inflight === 1))
    const closing = sup.close()
    await assert.rejects(
      get(h, '/pid'),
      (err) => err instanceof GatehouseError && err.code === 'GH_ERR_GROUP_UNAVAILABLE' && err.statusCode === 503,
    )
    const res = await inflight
    assert.equal(res.status, 200)
    assert.match(res.text, /^slept 400 /)
    await closing
    for (const pid of before) assert.equal(alive(pid), false, `pid ${pid} still alive`)
    assert.equal(sup.close(), sup.close(), 'close() is idempotent')
  })

  test('close() stops a request still running after gracefulTimeout', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('impatient', { gracefulTimeoutMs: 200 })])
    const h = sup.group('impatient')
    const [pid] = pids(sup, 'impatient')
    const hanging = get(h, '/hang').then(
      () => 'answered',
      (err: GatehouseError) => err.code,
    )
    await eventually('request dispatched', () => sup.status()[0]?.processes.some((p) => p.inflight === 1))
    await sup.close()
    assert.equal(await hanging, 'GH_ERR_GROUP_FAILED')
    assert.equal(alive(pid as number), false)
  })

  test('daemon processes exit when the front is killed with SIGKILL', async (t) => {
    const runtimeDir = join(tempDir(t), 'run')
    const front = spawn(process.execPath, ['--import', 'tsx', join(APPS, 'front-process.ts')], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, RUNTIME_DIR: runtimeDir },
    })
    t.after(() => {
      if (front.exitCode === null && front.signalCode === null) front.kill('SIGKILL')
    })
    const line = await new Promise<string>((resolve) => createInterface({ input: front.stdout }).once('line', resolve))
    const daemons = JSON.parse(line) as number[]
    assert.equal(daemons.length, 2)
    assert.ok(daemons.every(alive))
    front.kill('SIGKILL')
    await eventually('every daemon gone', () => daemons.every((pid) => !alive(pid)))
    assert.deepEqual(readdirSync(runtimeDir), [], 'daemons removed their sockets')
  })
})
