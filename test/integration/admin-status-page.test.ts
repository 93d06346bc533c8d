/**
 * The status page of a real gateway (127.0.0.1, ephemeral ports): /status.json's series and
 * summaries move by exactly the traffic sent, lockouts in force are listed (a hostile user name
 * escaped in the HTML), the page's Content-Security-Policy allows its inline script and style by
 * hash and nothing else, and the admin token works as a Basic password for a browser on
 * read-only requests only, with the challenges and refusals exact and the token in no log line.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import type { StatusReport } from '../../src/admin/status-report.js'

const COUNTING = fileURLToPath(new URL('../fixtures/providers/counting.ts', import.meta.url))
const THROWS = fileURLToPath(new URL('../fixtures/providers/throws.ts', import.meta.url))
const TOKEN = 'status-token-0123456789abcdef'
const HOSTILE = '<b>x</b>&"'

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const sum = (a: readonly number[]) => a.reduce((x, y) => x + y, 0)

/** A front request from a chosen loopback address (the throttle counts per address). */
function front(
  gw: TestGateway,
  path: string,
  opts: { from?: string; user?: string; password?: string } = {},
): Promise<number> {
  const headers: Record<string, string> =
    opts.user === undefined ? {} : { authorization: basic(opts.user, opts.password ?? '') }
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: gw.port, path, headers, localAddress: opts.from ?? '127.0.0.1', agent: false },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

async function admin(gw: TestGateway, path: string, headers: Record<string, string>, method: 'GET' | 'POST' = 'GET') {
  const res = await request(`${gw.gw.adminAddress}${path}`, { method, headers })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

async function status(gw: TestGateway): Promise<StatusReport> {
  const r = await admin(gw, '/status.json', { authorization: `Bearer ${TOKEN}` })
  assert.equal(r.status, 200)
  return JSON.parse(r.text) as StatusReport
}

describe('the status page of a running gateway', () => {
  let gw: TestGateway
  let echo: EchoUpstream
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-status-page-')
    cleanup = t.cleanup
    echo = await startEchoUpstream()
    gw = await startGateway(
      {
        throttle: {
          delay: 0,
          perAddress: { maxFailures: 3, lockout: '2m' },
          perUser: { maxFailures: 2, lockout: '3m' },
        },
        providers: {
          users: { type: 'module', module: COUNTING, threads: 1 },
          broken: { type: 'module', module: THROWS, threads: 1 },
        },
        routes: [
          { path: '/app', upstream: echo.url, auth: { realm: 'App', provider: 'users' } },
          { path: '/broken', upstream: echo.url, auth: { realm: 'Broken', provider: 'broken' } },
        ],
        admin: { host: '127.0.0.1', port: 0, token: TOKEN },
      },
      t.dir,
    )
  })
  after(async () => {
    await gw?.close()
    await echo?.close()
    cleanup?.()
  })

  test('the series and summaries move by exactly the requests, outcomes, cache hits and provider calls sent', async () => {
    const start = (await status(gw)).activity!
    assert.equal(start.slotSeconds, 5)
    assert.equal(start.series.requests.length, 180)
    assert.equal(sum(start.series.requests), 0)
    assert.equal(start.summary.cacheHitRatio, null)

    assert.equal(await front(gw, '/app/x'), 401)
    for (let i = 0; i < 3; i++)
      assert.equal(await front(gw, '/app/x', { user: 'alice', password: 'right-password' }), 200)
    assert.equal(await front(gw, '/app/x', { from: '127.0.0.5', user: 'bob', password: 'wrong' }), 401)
    assert.equal(await front(gw, '/broken/x', { user: 'carol', password: 'anything' }), 500)

    const a = (await status(gw)).activity!
    assert.equal(sum(a.series.requests), 6)
    assert.equal(sum(a.series.ok), 3)
    assert.equal(sum(a.series.bad_password), 1)
    assert.equal(sum(a.series.error), 1)
    assert.deepEqual(a.summary.auth, {
      ok: 3,
      forbidden: 0,
      bad_password: 1,
      unknown_user: 0,
      error: 1,
      throttled: 0,
      stale: 0,
      invalid: 0,
    })
    // alice: one miss then two hits; bob and carol: a miss each.
    assert.equal(a.summary.cacheHits, 2)
    assert.equal(a.summary.cacheMisses, 3)
    assert.equal(a.summary.cacheHitRatio, 0.4)
    assert.ok(a.summary.requestsPerSecond > 0)
    const users = a.providers.find((p) => p.name === 'users')!
    const broken = a.providers.find((p) => p.name === 'broken')!
    assert.deepEqual([users.calls, users.failures], [2, 0])
    assert.deepEqual([broken.calls, broken.failures], [1, 1])
    assert.ok(users.p50Ms !== null && users.p99Ms !== null && users.p50Ms > 0 && users.p99Ms >= users.p50Ms)
    assert.equal(sum(users.series.calls), 2)
    assert.equal(echo.seen.length, 3)
  })

  test('lockouts in force are listed, a user name escaped in the page, and 429s counted as throttled', async () => {
    for (let i = 0; i < 2; i++)
      assert.equal(await front(gw, '/app/x', { from: '127.0.0.7', user: HOSTILE, password: `guess${i}` }), 401)
    for (let i = 0; i < 3; i++)
      assert.equal(await front(gw, '/app/x', { from: '127.0.0.8', user: `someone${i}`, password: 'guess' }), 401)
    const seen = echo.seen.length
    // Not a cached login (an address lockout lets credential-cache hits through).
    assert.equal(await front(gw, '/app/x', { from: '127.0.0.8', user: 'alice', password: 'not-cached' }), 429)
    assert.equal(echo.seen.length, seen, 'the upstream never saw the locked-out request')

    const s = await status(gw)
    const locks = s.lockouts!
    assert.equal(locks.length, 2)
    const user = locks.find((l) => l.scope === 'user')!
    const address = locks.find((l) => l.scope === 'address')!
    assert.deepEqual([user.user, user.providers, user.address], [HOSTILE, 'users', '127.0.0.7'])
    assert.ok(user.secondsLeft > 170 && user.secondsLeft <= 180)
    assert.equal(address.address, '127.0.0.8')
    assert.equal(address.user, undefined)
    assert.ok(address.secondsLeft > 110 && address.secondsLeft <= 120)
    assert.equal(s.activity!.summary.auth.throttled, 1)

    const page = await admin(gw, '/status', { authorization: basic('admin', TOKEN) })
    assert.equal(page.status, 200)
    assert.ok(page.text.includes('<td class="l">&lt;b&gt;x&lt;/b&gt;&amp;&quot;</td>'), 'the user name is escaped')
    assert.ok(!page.text.includes(HOSTILE))
    assert.match(page.text, /<td class="l">127\.0\.0\.8<\/td>/)
  })

  test('the page allows exactly its own inline script and style by hash, and nothing from elsewhere', async () => {
    const page = await admin(gw, '/status', { authorization: basic('admin', TOKEN), accept: 'text/html' })
    assert.equal(page.status, 200)
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8')
    const csp = String(page.headers['content-security-policy'])
    const script = /<script>([\s\S]*?)<\/script>/.exec(page.text)![1]!
    const style = /<style>([\s\S]*?)<\/style>/.exec(page.text)![1]!
    const hash = (s: string) => `'sha256-${createHash('sha256').update(s, 'utf8').digest('base64')}'`
    assert.equal(
      csp,
      `default-src 'none'; script-src ${hash(script)}; style-src ${hash(style)}; connect-src 'self'; img-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
    )
    assert.equal((page.text.match(/<script/g) ?? []).length, 1)
    assert.ok(!/\s(src|href)=/.test(page.text), 'no external asset')
    assert.ok(!/\sstyle=/.test(page.text), 'no inline style attribute (the policy would block it)')
    assert.equal(page.headers['referrer-policy'], 'no-referrer')
    assert.equal(page.headers['cache-control'], 'no-store')
    for (const k of ['requests', 'ok', 'refused', 'throttled', 'errors', 'cache'])
      assert.match(page.text, new RegExp(`<svg class="spark" data-series="${k}" viewBox="0 0 180 40"`))
  })

  test('a browser gets a Basic challenge, the token as Basic password opens the pages, a wrong one is refused; Bearer keeps working', async () => {
    const browser = { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' }
    const none = await admin(gw, '/status', browser)
    assert.equal(none.status, 401)
    assert.equal(none.headers['www-authenticate'], 'Basic realm="gatehouse admin", charset="UTF-8"')
    assert.equal(none.headers['content-type'], 'text/plain; charset=utf-8')
    assert.equal(none.headers['cache-control'], 'no-store')
    assert.equal(none.text, 'Unauthorized\n')

    const wrong = await admin(gw, '/status', { ...browser, authorization: basic('admin', `${TOKEN}x`) })
    assert.equal(wrong.status, 401)
    assert.equal(wrong.headers['www-authenticate'], 'Basic realm="gatehouse admin", charset="UTF-8"')
    assert.equal(wrong.text, 'Unauthorized\n')
    assert.equal(wrong.headers['content-security-policy'], undefined, 'no page, not even its policy')
    assert.equal(
      (await admin(gw, '/status', { ...browser, authorization: basic('admin', TOKEN.slice(0, -1)) })).status,
      401,
    )
    assert.equal(
      (await admin(gw, '/status', { ...browser, authorization: basic(TOKEN, '') })).status,
      401,
      'the token as user name is not the password',
    )
    assert.equal(
      (await admin(gw, '/status', { ...browser, authorization: `Basic ${Buffer.from(TOKEN).toString('base64')}` }))
        .status,
      401,
      'no colon: no password',
    )

    for (const user of ['admin', 'anyone', '']) {
      const ok = await admin(gw, '/status', { ...browser, authorization: basic(user, TOKEN) })
      assert.equal(ok.status, 200, `user name ${JSON.stringify(user)}`)
      assert.match(ok.text, /<title>gatehouse status<\/title>/)
    }
    assert.equal((await admin(gw, '/status.json', { authorization: basic('admin', TOKEN) })).status, 200)
    assert.equal((await admin(gw, '/metrics', { authorization: basic('admin', TOKEN) })).status, 200)

    const script = await admin(gw, '/status.json', {})
    assert.equal(script.status, 401)
    assert.equal(
      script.headers['www-authenticate'],
      'Bearer realm="gatehouse admin"',
      'no browser prompt for a non-page request',
    )
    assert.equal((await admin(gw, '/status.json', { authorization: `Bearer ${TOKEN}` })).status, 200)
    assert.equal((await admin(gw, '/status.json', { authorization: `Bearer ${TOKEN}x` })).status, 401)
  })

  test('Basic credentials, which a browser sends unasked, never reach a command', async () => {
    for (const path of ['/stop', '/reload', '/cache/flush', '/groups/none/restart']) {
      const r = await admin(gw, path, { authorization: basic('admin', TOKEN), accept: 'text/html' }, 'POST')
      assert.equal(r.status, 401, path)
      assert.equal(r.headers['www-authenticate'], 'Bearer realm="gatehouse admin"', path)
      assert.equal(r.text, 'Unauthorized: commands need Authorization: Bearer TOKEN\n')
    }
    // Still running and not flushed: alice's login is still a cache hit.
    const before = (await status(gw)).activity!.summary.cacheHits
    assert.equal(await front(gw, '/app/x', { user: 'alice', password: 'right-password' }), 200)
    assert.equal((await status(gw)).activity!.summary.cacheHits, before + 1)
    assert.ok(!gw.logs.some((l) => /stopping|configuration reload|cache flushed/.test(l)), 'no command ran')
    const flush = await admin(gw, '/cache/flush', { authorization: `Bearer ${TOKEN}` }, 'POST')
    assert.equal(flush.status, 200)
    const encoded = Buffer.from(`admin:${TOKEN}`).toString('base64')
    assert.ok(!gw.logs.some((l) => l.includes(TOKEN) || l.includes(encoded)), 'the token is in no log line')
  })
})
