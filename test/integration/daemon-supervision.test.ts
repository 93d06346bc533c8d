/**
 * Daemon groups under supervision: balancing, crash and respawn, recycling, stuck-request
 * kills, queue overflow, no live process, inactivity, app errors.
 */
import assert from 'node:assert/strict'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import { GatehouseError } from '../../src/errors.js'
import { alive, eventually, get, groupConfig, pids, startSupervisor, tempDir } from '../fixtures/apps/harness.js'

function assertCode(err: unknown, code: string, status: number): true {
  assert.ok(err instanceof GatehouseError, `expected a GatehouseError, got ${String(err)}`)
  assert.equal(err.code, code)
  assert.equal(err.statusCode, status)
  return true
}

describe('daemon group supervision', { skip: process.platform === 'win32' }, () => {
  test('spreads concurrent requests to the process with the fewest outstanding', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('lb', { processes: 2 })])
    const h = sup.group('lb')
    const [a, b] = await Promise.all([get(h, '/slow?ms=300'), get(h, '/slow?ms=300')])
    const pidA = a.text.split(' ')[2]
    const pidB = b.text.split(' ')[2]
    assert.notEqual(pidA, pidB)
    assert.deepEqual(new Set([pidA, pidB]), new Set(pids(sup, 'lb').map(String)))
  })

  test('a crashed process fails its accepted request with 502 and is respawned', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('crash')])
    const h = sup.group('crash')
    const [before] = pids(sup, 'crash')
    await assert.rejects(get(h, '/crash'), (err) => assertCode(err, 'GH_ERR_GROUP_FAILED', 502))
    const after = await eventually('a respawned process', () => pids(sup, 'crash').find((p) => p !== before))
    assert.equal(alive(before as number), false)
    const res = await get(h, '/pid')
    assert.equal(res.status, 200)
    assert.equal(res.text, String(after))
    assert.equal(sup.status()[0]?.restarts, 1)
  })

  test('recycles a process after maxRequests, starting the replacement first, without failing a request', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('recycle', { maxRequests: 3 })])
    const h = sup.group('recycle')
    const seen: string[] = []
    for (let i = 0; i < 7; i++) {
      const res = await get(h, '/pid')
      assert.equal(res.status, 200)
      seen.push(res.text)
    }
    assert.equal(new Set(seen.slice(0, 3)).size, 1)
    assert.equal(new Set(seen.slice(3, 6)).size, 1)
    assert.notEqual(seen[0], seen[3])
    assert.notEqual(seen[3], seen[6])
    await eventually('recycled processes gone', () => !alive(Number(seen[0])) && !alive(Number(seen[3])))
  })

  test('a request stuck past requestTimeout gets 504 and its process is killed and replaced', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('stuck', { requestTimeoutMs: 300 })])
    const h = sup.group('stuck')
    const [before] = pids(sup, 'stuck')
    await assert.rejects(get(h, '/hang'), (err) => assertCode(err, 'GH_ERR_GROUP_TIMEOUT', 504))
    await eventually('stuck process killed', () => !alive(before as number))
    const res = await get(h, '/pid')
    assert.equal(res.status, 200)
    assert.notEqual(res.text, String(before))
  })

  test('when every process is busy past queueTimeout the request gets 503 GH_ERR_GROUP_BUSY with a retry hint', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('busy', { concurrency: 1, queueTimeoutMs: 200 })])
    const h = sup.group('busy')
    const slow = get(h, '/slow?ms=1500')
    await assert.rejects(get(h, '/pid'), (err) => {
      assertCode(err, 'GH_ERR_GROUP_BUSY', 503)
      assert.equal((err as { retryAfter?: number }).retryAfter, 1)
      return true
    })
    assert.equal((await slow).status, 200)
  })

  test('a queued request is served when a slot frees within queueTimeout', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('queue', { concurrency: 1, queueTimeoutMs: 10_000 })])
    const h = sup.group('queue')
    const [slow, queued] = await Promise.all([get(h, '/slow?ms=200'), get(h, '/pid')])
    assert.equal(slow.status, 200)
    assert.equal(queued.status, 200)
  })

  test('a group with no live process answers 503 GH_ERR_GROUP_UNAVAILABLE at once', async (t) => {
    const dir = tempDir(t)
    const marker = join(dir, 'crash-marker')
    const sup = await startSupervisor(t, [groupConfig('down', { env: { CRASH_MARKER: marker } })])
    const h = sup.group('down')
    writeFileSync(marker, 'x')
    await assert.rejects(get(h, '/crash'), (err) => assertCode(err, 'GH_ERR_GROUP_FAILED', 502))
    await eventually(
      'no process left',
      () => sup.status()[0]?.processes.length === 0 && (sup.status()[0]?.restarts ?? 0) >= 2,
    )
    await assert.rejects(get(h, '/pid'), (err) => {
      assertCode(err, 'GH_ERR_GROUP_UNAVAILABLE', 503)
      assert.ok(((err as { retryAfter?: number }).retryAfter ?? 0) >= 1)
      return true
    })
  })

  test('restarts a process idle for inactivityTimeout', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('idle', { inactivityTimeoutMs: 200 })])
    const [before] = pids(sup, 'idle')
    const after = await eventually('idle process replaced', () => pids(sup, 'idle').find((p) => p !== before))
    await eventually('idle process gone', () => !alive(before as number))
    assert.equal((await get(sup.group('idle'), '/pid')).text, String(after))
  })

  test('an app that throws synchronously answers 500 and its process keeps serving', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('throws')])
    const h = sup.group('throws')
    const [before] = pids(sup, 'throws')
    assert.equal((await get(h, '/throw')).status, 500)
    const res = await get(h, '/pid')
    assert.equal(res.text, String(before))
  })

  test('passes method, url, headers and the client address to the app, and the response head back', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('heads')])
    const h = sup.group('heads')
    const res = await h.request(
      {
        method: 'GET',
        url: '/headers?x=1',
        headers: { host: 'h', 'x-remote-user': 'alice', accept: ['a', 'b'] },
        remoteAddress: '192.0.2.7',
      },
      null,
    )
    const body = JSON.parse(
      (
        await (async () => {
          const c: Buffer[] = []
          for await (const x of res.body) c.push(x as Buffer)
          return Buffer.concat(c)
        })()
      ).toString(),
    )
    assert.equal(body.method, 'GET')
    assert.equal(body.url, '/headers?x=1')
    assert.equal(body.remoteAddress, '192.0.2.7')
    assert.equal(body.headers['x-remote-user'], 'alice')
    assert.equal(body.headers.accept, 'a, b')
    const st = await get(h, '/status?code=418')
    assert.equal(st.status, 418)
    assert.equal(st.headers['x-app'], 'yes')
    assert.equal(st.headers['content-length'], '6')
  })
})
