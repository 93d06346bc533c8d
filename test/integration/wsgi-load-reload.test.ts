/**
 * Load across rolling reloads of a Python WSGI group, through a real front (HTTP on 127.0.0.1,
 * Basic checked by the group's own auth script, credential cache): steady, then while the WSGI
 * file is touched every 500 ms. autocannon (8 connections, its own process) counts every non-2xx
 * answer, socket error and timeout: all must be zero. Counts, not timings.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, utimesSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { loadCounts } from '../helpers/load-counts.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

const HELLO = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'wsgi', 'hello.py')
const CONNECTIONS = 8
const TOUCH_EVERY_MS = 500
const BASIC = `Basic ${Buffer.from('bench:bench').toString('base64')}`
const cannon = (url: string, seconds: number) =>
  loadCounts(url, { connections: CONNECTIONS, seconds, headers: { authorization: BASIC } })

const reloadsOf = (gw: TestGateway): number => gw.gw.supervisor?.status().find((g) => g.name === 'py')?.reloads ?? -1

describe('load across rolling reloads of a Python group, through the front', { skip: skipWithoutPython() }, () => {
  test(
    'Basic requests under steady load and while the WSGI file is touched every 500 ms: not one fails',
    { timeout: 90_000 },
    async (t) => {
      requirePython()
      const { dir, cleanup } = tempDir('gh-wsgi-load-')
      const app = join(dir, 'hello.py')
      copyFileSync(HELLO, app)
      const gw = await startGateway(
        {
          groups: { py: { wsgi: 'hello.py', provider: 'hello.py', python: PYTHON, processes: 2, threads: 4 } },
          routes: [{ path: '/py', group: 'py', auth: { scheme: 'basic', realm: 'Load', provider: 'py' } }],
        },
        dir,
      )
      t.after(async () => {
        await gw.close()
        cleanup()
      })
      const url = `${gw.url}/py/`
      const first = await fetch(url, { headers: { authorization: BASIC } })
      assert.deepEqual([first.status, await first.text()], [200, 'hello bench'])

      const steady = await cannon(url, 2)
      assert.ok(steady.total > 0, 'requests were sent')
      assert.deepEqual(
        { non2xx: steady.non2xx, errors: steady.errors, timeouts: steady.timeouts },
        { non2xx: 0, errors: 0, timeouts: 0 },
      )

      const reloadsBefore = reloadsOf(gw)
      let touches = 0
      const toucher = setInterval(() => {
        const now = new Date()
        utimesSync(app, now, now)
        touches++
      }, TOUCH_EVERY_MS)
      const reloading = await cannon(url, 4).finally(() => clearInterval(toucher))
      const reloads = reloadsOf(gw) - reloadsBefore
      t.diagnostic(`steady ${steady.total} requests; while touched ${reloading.total} requests over ${reloads} reloads`)
      assert.ok(touches >= 4, `the file was touched (${touches} times)`)
      assert.ok(reloads >= 1, `the group reloaded during the run (${reloads} times)`)
      assert.ok(reloading.total > 0, 'requests were sent')
      assert.deepEqual(
        { non2xx: reloading.non2xx, errors: reloading.errors, timeouts: reloading.timeouts },
        { non2xx: 0, errors: 0, timeouts: 0 },
      )
      assert.deepEqual(Object.keys(reloading.statuses), ['200'])
    },
  )
})
