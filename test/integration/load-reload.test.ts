/**
 * Bounded load through a real front (HTTP on 127.0.0.1, Basic, credential cache)
 * to a daemon group whose app and provider share the group, first steady, then while the app
 * file is touched every 500 ms, so the group reloads over and over and each reload empties the
 * provider's cache entries. autocannon (8 connections, its own process) counts every non-2xx
 * answer, socket error and timeout: all must be zero. daemon-reload.test.ts proves the same at
 * the supervisor (no HTTP, no auth); this one goes through the front. Counts, not timings: the
 * touched phase runs in 3 s rounds until the group has reloaded twice (at most 6 rounds), so a
 * slow machine that needs longer per reload still sees reloads under load.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, utimesSync } from 'node:fs'
import { once } from 'node:events'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { loadCounts } from '../helpers/load-counts.js'

const BENCH_APPS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'bench', 'apps')
const CONNECTIONS = 8
const TOUCH_EVERY_MS = 500
const BASIC = `Basic ${Buffer.from('bench:bench').toString('base64')}`
const cannon = (url: string, seconds: number) =>
  loadCounts(url, { connections: CONNECTIONS, seconds, headers: { authorization: BASIC } })

const reloadsOf = (gw: TestGateway): number => gw.gw.supervisor?.status().find((g) => g.name === 'web')?.reloads ?? -1

describe('load across rolling reloads, through the front', { skip: process.platform === 'win32' }, () => {
  test(
    'Basic requests under steady load and while the app is touched every 500 ms: not one fails',
    { timeout: 90_000 },
    async (t) => {
      const { dir, cleanup } = tempDir('gh-load-reload-')
      const app = join(dir, 'app.mjs')
      copyFileSync(join(BENCH_APPS, 'hello.mjs'), app)
      copyFileSync(join(BENCH_APPS, 'provider.mjs'), join(dir, 'provider.mjs'))
      const gw = await startGateway(
        {
          groups: { web: { app: 'app.mjs', provider: 'provider.mjs', cwd: '.', processes: 2 } },
          routes: [{ path: '/web', group: 'web', auth: { scheme: 'basic', realm: 'Load', provider: 'web' } }],
        },
        dir,
      )
      // One hook, in this order: the directory goes only once the gateway (and a reload it may
      // still be starting from the app file there) has stopped.
      t.after(async () => {
        await gw.close()
        cleanup()
      })
      const url = `${gw.url}/web/`
      assert.equal((await fetch(url, { headers: { authorization: BASIC } })).status, 200)

      const steady = await cannon(url, 2)
      assert.ok(steady.total > 0, 'requests were sent')
      assert.deepEqual(
        { non2xx: steady.non2xx, errors: steady.errors, timeouts: steady.timeouts },
        { non2xx: 0, errors: 0, timeouts: 0 },
      )
      assert.deepEqual(Object.keys(steady.statuses), ['200'])

      const reloadsBefore = reloadsOf(gw)
      let touches = 0
      const toucher = setInterval(() => {
        const now = new Date()
        utimesSync(app, now, now)
        touches++
      }, TOUCH_EVERY_MS)
      const reloading: Counts = { total: 0, non2xx: 0, errors: 0, timeouts: 0, statuses: {} }
      let reloads = 0
      try {
        for (let round = 0; round < 6 && reloads < 2; round++) {
          const r = await cannon(url, 3)
          reloading.total += r.total
          reloading.non2xx += r.non2xx
          reloading.errors += r.errors
          reloading.timeouts += r.timeouts
          for (const [status, n] of Object.entries(r.statuses))
            reloading.statuses[status] = (reloading.statuses[status] ?? 0) + n
          reloads = reloadsOf(gw) - reloadsBefore
        }
      } finally {
        clearInterval(toucher)
      }
      assert.ok(touches >= 4, `the app was touched (${touches} times)`)
      assert.ok(reloads >= 2, `the group reloaded during the run (${reloads} times)`)
      assert.ok(reloading.total > 0, 'requests were sent')
      assert.deepEqual(
        { non2xx: reloading.non2xx, errors: reloading.errors, timeouts: reloading.timeouts },
        { non2xx: 0, errors: 0, timeouts: 0 },
      )
      assert.deepEqual(Object.keys(reloading.statuses), ['200'])
    },
  )
})
