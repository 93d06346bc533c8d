/**
 * Touch-to-reload: a changed app file makes the next request to that group start a rolling
 * restart; that request is served by the new code, other groups are untouched, a broken new
 * version leaves the old processes serving, and a load run with repeated touches loses nothing.
 */
import assert from 'node:assert/strict'
import { readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, test } from 'node:test'
import {
  alive,
  childrenOf,
  eventually,
  get,
  groupConfig,
  pids,
  startSupervisor,
  tempDir,
} from '../fixtures/apps/harness.js'

/** This process's children that run the daemon worker (from /proc: what is really running). */
function daemonChildren(): number[] {
  return childrenOf(process.pid).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('worker')
    } catch {
      return false // gone meanwhile
    }
  })
}

function writeApp(file: string, version: string): void {
  writeFileSync(file, `export default (req, res) => res.end(${JSON.stringify(version)} + ' ' + process.pid)\n`)
}

describe('reload on touch', { skip: process.platform === 'win32' }, () => {
  test('the request that noticed the change is served by the new code; other groups keep their processes', async (t) => {
    const dir = tempDir(t)
    const app = join(dir, 'app.mjs')
    writeApp(app, 'v1')
    const sup = await startSupervisor(t, [groupConfig('site', { app, cwd: dir, processes: 2 }), groupConfig('other')], {
      reloadCheckIntervalMs: 0,
    })
    const reloads: Array<[string, string]> = []
    sup.on('reload', (name, reason) => reloads.push([name, reason]))
    const oldPids = pids(sup, 'site')
    const otherPids = pids(sup, 'other')
    assert.match((await get(sup.group('site'), '/')).text, /^v1 /)
    writeApp(app, 'v2')
    const res = await get(sup.group('site'), '/')
    assert.match(res.text, /^v2 /)
    assert.equal(oldPids.includes(Number(res.text.split(' ')[1])), false)
    assert.deepEqual(
      reloads.map(([n]) => n),
      ['site'],
    )
    assert.match(reloads[0]?.[1] ?? '', /app\.mjs/)
    await eventually('old processes stopped', () => oldPids.every((p) => !alive(p)))
    assert.deepEqual(pids(sup, 'other'), otherPids)
  })

  test('an app that fails to load keeps the old processes serving', async (t) => {
    const dir = tempDir(t)
    const app = join(dir, 'app.mjs')
    writeApp(app, 'good')
    const sup = await startSupervisor(t, [groupConfig('fragile', { app, cwd: dir })], { reloadCheckIntervalMs: 0 })
    const [before] = pids(sup, 'fragile')
    writeFileSync(app, 'throw new Error("syntax of a bad deploy")\n')
    const res = await get(sup.group('fragile'), '/')
    assert.equal(res.text, `good ${before}`)
    assert.deepEqual(pids(sup, 'fragile'), [before])
    assert.equal(sup.status()[0]?.reloads, 0)
    writeApp(app, 'fixed')
    assert.match((await get(sup.group('fragile'), '/')).text, /^fixed /)
  })

  test('reload() and reloadAll() restart groups on demand', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('a'), groupConfig('b')])
    const a = pids(sup, 'a')
    const b = pids(sup, 'b')
    await sup.reload('a', 'admin')
    assert.notDeepEqual(pids(sup, 'a'), a)
    assert.deepEqual(pids(sup, 'b'), b)
    await sup.reloadAll('SIGHUP')
    assert.notDeepEqual(pids(sup, 'b'), b)
  })

  test('2000 requests while the app file is touched 5 times: not one fails', async (t) => {
    const dir = tempDir(t)
    const app = join(dir, 'app.mjs')
    writeApp(app, 'load')
    const sup = await startSupervisor(t, [groupConfig('busy', { app, cwd: dir, processes: 2, concurrency: 16 })])
    const h = sup.group('busy')
    const total = 2000
    let sent = 0
    let ok = 0
    const failures: string[] = []
    const worker = async (): Promise<void> => {
      while (sent < total) {
        const n = ++sent
        if (n % 400 === 0) {
          const when = new Date(Date.now() + n)
          utimesSync(app, when, when)
        }
        try {
          const res = await get(h, '/')
          if (res.status === 200 && res.text.startsWith('load ')) ok++
          else failures.push(`${res.status} ${res.text}`)
        } catch (err) {
          failures.push(String(err))
        }
      }
    }
    await Promise.all(Array.from({ length: 16 }, worker))
    assert.deepEqual(failures, [])
    assert.equal(ok, total)
    assert.ok((sup.status()[0]?.reloads ?? 0) >= 1, 'at least one reload happened')
  })

  test(
    'closing while a reload starts new processes stops those too',
    { skip: process.platform !== 'linux' },
    async (t) => {
      const dir = tempDir(t)
      const app = join(dir, 'app.mjs')
      // /slow keeps the close draining while the new generation comes up (what load does).
      writeFileSync(
        app,
        "export default (req, res) => setTimeout(() => res.end('done'), req.url === '/slow' ? 1500 : 0)\n",
      )
      const sup = await startSupervisor(t, [groupConfig('closing', { app, cwd: dir, processes: 2 })])
      const serving = pids(sup, 'closing')
      const slow = get(sup.group('closing'), '/slow')
      const reloading = sup.reload('closing', 'admin')
      const fresh = await eventually('the new generation was spawned', () => {
        const extra = daemonChildren().filter((pid) => !serving.includes(pid))
        return extra.length === 2 ? extra : undefined
      })
      const closing = sup.close()
      assert.equal(await reloading, false, 'the reload reports that it did not take over')
      assert.equal((await slow).text, 'done', 'the request in flight finished')
      await closing
      await eventually('the new generation stopped', () => fresh.every((pid) => !alive(pid)), 5_000)
      assert.deepEqual(serving.filter(alive), [], 'the old generation stopped')
    },
  )

  test(
    'closing while the new generation is still loading kills it instead of waiting for it',
    { skip: process.platform !== 'linux', timeout: 30_000 },
    async (t) => {
      const dir = tempDir(t)
      const app = join(dir, 'app.mjs')
      writeApp(app, 'v1')
      // startTimeout beyond the test's timeout: only killing the loading processes lets close finish.
      const sup = await startSupervisor(t, [groupConfig('stuck', { app, cwd: dir, processes: 1 })], {
        startTimeoutMs: 120_000,
      })
      const [serving] = pids(sup, 'stuck')
      writeFileSync(app, 'await new Promise(() => {})\nexport default (req, res) => res.end()\n')
      const reloading = sup.reload('stuck', 'admin')
      const fresh = await eventually('the new generation was spawned', () =>
        daemonChildren().find((pid) => pid !== serving),
      )
      await sup.close()
      assert.equal(await reloading, false)
      assert.equal(alive(fresh), false, 'the loading process is gone once close resolves')
      assert.equal(alive(serving as number), false)
    },
  )
})
