/**
 * Brute-force throttling through a real gateway: failed logins lock an address or a user out with
 * 429 + Retry-After before the provider is asked, known-good addresses keep working, and the
 * metrics hook hears every refusal. Clients connect from several loopback addresses (127.0.0.x).
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import type { ThrottledEvent } from '../../src/auth/throttle.js'

const COUNTING = fileURLToPath(new URL('../fixtures/providers/counting.ts', import.meta.url))

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

function get(
  gw: TestGateway,
  path: string,
  opts: { from?: string; user?: string; password?: string } = {},
): Promise<Res> {
  const headers: Record<string, string> = {}
  if (opts.user !== undefined)
    headers.authorization = `Basic ${Buffer.from(`${opts.user}:${opts.password ?? ''}`).toString('base64')}`
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port: gw.port, path, headers, localAddress: opts.from ?? '127.0.0.1', agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

const asked = (gw: TestGateway): number => gw.logs.filter((l) => l.includes('counting provider asked')).length

async function setup(
  t: { after: (fn: () => Promise<void> | void) => void },
  throttle: Record<string, unknown>,
): Promise<{ gw: TestGateway; echo: EchoUpstream }> {
  const { dir, cleanup } = tempDir()
  const echo = await startEchoUpstream()
  const gw = await startGateway(
    {
      throttle,
      providers: { users: { type: 'module', module: COUNTING, threads: 1 } },
      routes: [
        { path: '/app', upstream: echo.url, auth: { realm: 'App', provider: 'users' } },
        { path: '/open', upstream: echo.url, auth: { realm: 'App', provider: 'users', throttle: false } },
      ],
    },
    dir,
  )
  t.after(async () => {
    await gw.close()
    await echo.close()
    cleanup()
  })
  return { gw, echo }
}

describe('brute-force throttling', () => {
  test('after maxFailures wrong passwords the address gets 429 with Retry-After, even with the right password, and the provider is not asked', async (t) => {
    const { gw, echo } = await setup(t, { delay: 0, perAddress: { maxFailures: 3, lockout: '2m' }, perUser: false })
    for (let i = 0; i < 3; i++)
      assert.equal((await get(gw, '/app/x', { from: '127.0.0.2', user: 'alice', password: `guess${i}` })).status, 401)
    assert.equal(asked(gw), 3)
    const refused = await get(gw, '/app/x', { from: '127.0.0.2', user: 'alice', password: 'right-password' })
    assert.equal(refused.status, 429)
    assert.equal(refused.headers['retry-after'], '120')
    assert.equal(refused.headers['www-authenticate'], undefined)
    assert.equal(refused.headers['cache-control'], 'no-store')
    assert.equal(refused.body, 'Too Many Requests\n')
    assert.equal(asked(gw), 3, 'a refused attempt costs no provider call')
    assert.equal(echo.seen.length, 0)
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.3', user: 'alice', password: 'right-password' })).status,
      200,
      'another address is not locked',
    )
    const lines = gw.logs.filter((l) => l.includes('lockout started'))
    assert.equal(lines.length, 1)
    assert.match(lines[0]!, /"scope":"address","address":"127\.0\.0\.2","lockoutMs":120000/)
    assert.ok(!gw.logs.some((l) => l.includes('guess') || l.includes('right-password')), 'no password in any log line')
  })

  test('a request without credentials still gets the challenge from a locked address (it guesses nothing)', async (t) => {
    const { gw } = await setup(t, { delay: 0, perAddress: { maxFailures: 2 }, perUser: false })
    for (let i = 0; i < 2; i++) await get(gw, '/app/x', { from: '127.0.0.4', user: 'bob', password: 'nope' })
    const res = await get(gw, '/app/x', { from: '127.0.0.4' })
    assert.equal(res.status, 401)
    assert.equal(res.headers['www-authenticate'], 'Basic realm="App", charset="UTF-8"')
  })

  test('failures for one user from many addresses lock the user out for new addresses; her known-good address still passes', async (t) => {
    const { gw, echo } = await setup(t, { delay: 0, perAddress: { maxFailures: 100 }, perUser: { maxFailures: 3 } })
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.10', user: 'alice', password: 'right-password' })).status,
      200,
    )
    for (const from of ['127.0.0.11', '127.0.0.12', '127.0.0.13']) {
      assert.equal((await get(gw, '/app/x', { from, user: 'alice', password: 'wrong' })).status, 401)
    }
    const before = asked(gw)
    const stranger = await get(gw, '/app/x', { from: '127.0.0.14', user: 'alice', password: 'right-password' })
    assert.equal(stranger.status, 429)
    assert.equal(asked(gw), before)
    const home = await get(gw, '/app/x', { from: '127.0.0.10', user: 'alice', password: 'right-password' })
    assert.equal(home.status, 200)
    assert.equal(JSON.parse(home.body).headers['x-remote-user'], 'alice')
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.14', user: 'bob', password: 'bob-pw' })).status,
      200,
      'other users are not affected',
    )
    assert.equal(echo.seen.length, 3)
    assert.ok(
      gw.logs.some(
        (l) => l.includes('lockout started') && l.includes('"scope":"user"') && l.includes('"user":"alice"'),
      ),
    )
  })

  test('a lockout ends after Retry-After seconds and the right password passes again', async (t) => {
    const { gw } = await setup(t, { delay: 0, perAddress: { maxFailures: 2, lockout: '1s' }, perUser: false })
    for (let i = 0; i < 2; i++) await get(gw, '/app/x', { from: '127.0.0.20', user: 'bob', password: 'nope' })
    const refused = await get(gw, '/app/x', { from: '127.0.0.20', user: 'bob', password: 'bob-pw' })
    assert.equal(refused.status, 429)
    assert.equal(refused.headers['retry-after'], '1')
    await new Promise((r) => setTimeout(r, 1100))
    assert.equal((await get(gw, '/app/x', { from: '127.0.0.20', user: 'bob', password: 'bob-pw' })).status, 200)
  })

  test('a route with throttle: false is never throttled, and its failures do not count', async (t) => {
    const { gw } = await setup(t, { delay: 0, perAddress: { maxFailures: 2 }, perUser: { maxFailures: 2 } })
    for (let i = 0; i < 6; i++)
      assert.equal((await get(gw, '/open/x', { from: '127.0.0.30', user: 'bob', password: 'nope' })).status, 401)
    assert.equal((await get(gw, '/open/x', { from: '127.0.0.30', user: 'bob', password: 'bob-pw' })).status, 200)
    assert.equal((await get(gw, '/app/x', { from: '127.0.0.30', user: 'bob', password: 'bob-pw' })).status, 200)
  })

  test('every 429 is reported to throttled listeners (the metrics hook) with scope, route and Retry-After', async (t) => {
    const { gw } = await setup(t, { delay: 0, perAddress: { maxFailures: 1, lockout: '30s' }, perUser: false })
    const events: ThrottledEvent[] = []
    gw.gw.gatehouse.deps.throttle!.throttle.on('throttled', (e) => events.push(e))
    await get(gw, '/app/x', { from: '127.0.0.40', user: 'bob', password: 'nope' })
    await get(gw, '/app/x', { from: '127.0.0.40', user: 'bob', password: 'nope' })
    await get(gw, '/app/x', { from: '127.0.0.40', user: 'alice', password: 'right-password' })
    assert.deepEqual(events, [
      { scope: 'address', route: '/app', retryAfterS: 30 },
      { scope: 'address', route: '/app', retryAfterS: 30 },
    ])
  })

  test('throttle.enabled: false turns it off', async (t) => {
    const { gw } = await setup(t, { enabled: false, perAddress: { maxFailures: 1 } })
    assert.equal(gw.gw.gatehouse.deps.throttle, undefined)
    for (let i = 0; i < 4; i++)
      assert.equal((await get(gw, '/app/x', { from: '127.0.0.50', user: 'bob', password: 'nope' })).status, 401)
  })
})
