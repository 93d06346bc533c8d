/**
 * Path confusion through real nginx with the example configuration: examples/sidecar-nginx's
 * nginx.conf (auth_request, the raw $request_uri as X-Original-URI, the request passed to the
 * app unchanged) and its gatehouse.yaml as shipped (routes `/`, `/staff`, `/docs`, `/public`),
 * over user files written here. Requests are raw bytes (curl drops fragments). nginx passes
 * only 401 and 403 from auth_request on, so the example sets `sidecar.refusedStatus: 403`: a
 * refused target reaches the client as 403 (not nginx's 500), and the app never sees it.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { connect } from 'node:net'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import fc from 'fast-check'
import { parse } from 'yaml'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { appReadings, appRouters, requestTarget, type LeveledRoute } from '../helpers/path-readings.js'
import { NGINX, startExampleNginx, type RunningNginx } from './helpers/nginx.js'
import { skipUnless } from './helpers/run.js'
import { UserStore } from '../../providers/sqlite/store.js'

const skip = skipUnless(NGINX, 'nginx', 'nginx')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
/** alice is in staff; bob is a valid user in no group. */
const ALICE = basic('alice', 'wonder')
const BOB = basic('bob', 'builder')

describe('path confusion through nginx auth_request with the example configuration', { skip }, () => {
  let echo: EchoUpstream
  let gw: TestGateway
  let nginx: RunningNginx
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-nginx-paths-')
    cleanup = t.cleanup
    writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('wonder', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`)
    writeFile(t.dir, 'groups', 'staff: alice\n')
    writeFile(t.dir, 'digest-secret', 'nginx-path-test-secret-0123456789\n')
    UserStore.open(join(t.dir, 'gatehouse.sqlite'), { create: true }).close()
    const example = parse(
      readFileSync(new URL('../../examples/sidecar-nginx/gatehouse.yaml', import.meta.url), 'utf8'),
    ) as Record<string, unknown>
    delete example.listen
    echo = await startEchoUpstream()
    gw = await startGateway(example, t.dir)
    nginx = await startExampleNginx(join(t.dir, 'nginx'), gw.port, echo.port)
  })

  after(async () => {
    await nginx?.stop()
    await gw?.close()
    await echo?.close()
    cleanup?.()
  })

  function send(target: string, credentials?: string): Promise<number> {
    const head = `GET ${target} HTTP/1.1\r\nHost: app.test\r\n${credentials ? `Authorization: ${credentials}\r\n` : ''}Connection: close\r\n\r\n`
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port: nginx.port })
      s.setTimeout(15_000, () => s.destroy())
      let out = ''
      s.setEncoding('latin1')
      s.on('data', (c: string) => {
        out += c
      })
      s.on('error', (err: NodeJS.ErrnoException) => {
        if (err.code !== 'ECONNRESET') reject(err)
      })
      s.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(out)?.[1] ?? 0)))
      s.write(Buffer.from(head, 'latin1'))
    })
  }

  /** Refused by gatehouse: the example's refusedStatus 403 passed on by nginx, and nothing reached the app. */
  async function refused(target: string, credentials?: string): Promise<void> {
    const before = echo.seen.length
    const status = await send(target, credentials)
    assert.equal(status, 403, `${target}: status ${status}`)
    assert.equal(echo.seen.length, before, `the app saw ${target}`)
    assert.ok(
      !nginx.errorLog().includes(`auth request unexpected status`),
      `nginx saw a status auth_request cannot pass on for ${target}`,
    )
  }

  test('a raw # in the URI: refused for bob outside staff, and without credentials', async () => {
    await refused('/staff#x', BOB)
    await refused('/admin#x')
    await refused('/docs#x', BOB)
  })

  test('a dot segment ended by #: refused, not served as /public', async () => {
    await refused('/public/..#')
    await refused('/public/..#/x', BOB)
  })

  test('case and ; parameters that name /staff: refused for bob', async () => {
    for (const t of ['/STAFF/x', '/%53taff/x', '/staff;x', '/staff;jsessionid=1/x', '/public/..;/staff/x'])
      await refused(t, BOB)
  })

  test('ordinary paths keep working with / and /staff both routed', async () => {
    const served = async (target: string, credentials: string | undefined, status: number) => {
      const before = echo.seen.length
      assert.equal(await send(target, credentials), status, target)
      assert.equal(echo.seen.length, before + (status === 200 ? 1 : 0), target)
      if (status === 200) assert.equal(echo.seen.at(-1)!.url, target)
    }
    await served('/x', BOB, 200)
    await served('/Other/Page.HTML?q=STAFF', BOB, 200)
    await served('/staffing', BOB, 200)
    await served('/staff/x', BOB, 403)
    await served('/staff/x', ALICE, 200)
    await served('/public/a;jsessionid=1', undefined, 200)
    await served('/x', undefined, 401)
  })

  test('generated targets (150): what reaches the app, every app-side reading would allow', async () => {
    const routes: LeveledRoute[] = [
      { path: '/', level: 1 },
      { path: '/staff', level: 2 },
      { path: '/docs', level: 3 },
      { path: '/public', level: 0 },
    ]
    const routers = appRouters(routes)
    const who = fc.constantFrom(
      { credentials: undefined, level: 0 },
      { credentials: BOB, level: 1 },
      { credentials: ALICE, level: 2 },
    )
    await fc.assert(
      fc.asyncProperty(requestTarget, who, async (target, { credentials, level }) => {
        const before = echo.seen.length
        const status = await send(target, credentials)
        const reached = echo.seen.slice(before)
        if (reached.length === 0) return
        assert.equal(status, 200)
        for (const r of appReadings(routes, routers, reached[0]!.url, true)) {
          assert.ok(
            (r.route?.level ?? 0) <= level,
            `${JSON.stringify(target)} reached the app at level ${level}, but ${r.name} dispatches to ${r.route?.path}`,
          )
        }
      }),
      { seed: 0x1e9, numRuns: 150 },
    )
  })
})
