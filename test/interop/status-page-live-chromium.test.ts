/**
 * The live status page in headless Chromium (playwright-core, Debian's /usr/bin/chromium) behind
 * an admin token: the browser is challenged with Basic and opens the page with the token as its
 * password, the inline script runs under the page's Content-Security-Policy (no violation), the
 * charts and figures show the traffic sent, the page follows new traffic without a reload, and a
 * hostile user name of a lockout stays text. A full-page screenshot is checked (PNG dimensions
 * and size) in a temp dir; with GATEHOUSE_DOCS_SCREENSHOTS=1 traffic is spread over a minute and
 * the screenshot is also written to docs/images/status-page.png (the one the docs show).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { copyFileSync, readFileSync } from 'node:fs'
import { request as httpRequest } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { request } from 'undici'
import { skipUnless } from './helpers/run.js'
import { MULTI_APP, PROVIDER, APPS } from '../fixtures/apps/harness.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import type { StatusReport } from '../../src/admin/status-report.js'

const DOCS_IMAGE = fileURLToPath(new URL('../../docs/images/status-page.png', import.meta.url))
const TOKEN = 'browser-token-0123456789abcdef'
const HOSTILE = '<img src=x id=injected>'
const DOCS = process.env.GATEHOUSE_DOCS_SCREENSHOTS === '1'
const skip = skipUnless(CHROMIUM, 'chromium', 'chromium')

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

/** A login from a chosen loopback address (the throttle counts per address). */
function login(gw: TestGateway, user: string, password: string, from = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: gw.port,
        path: '/pid',
        headers: { authorization: basic(user, password) },
        localAddress: from,
        agent: false,
      },
      (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

async function status(gw: TestGateway): Promise<StatusReport> {
  const res = await request(`${gw.gw.adminAddress}/status.json`, { headers: { authorization: `Bearer ${TOKEN}` } })
  return JSON.parse(await res.body.text()) as StatusReport
}

/** Width and height from a PNG's IHDR chunk, read independently of the browser. */
function pngSize(file: string): { width: number; height: number; bytes: number } {
  const b = readFileSync(file)
  assert.deepEqual([...b.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature')
  assert.equal(b.subarray(12, 16).toString('latin1'), 'IHDR')
  return { width: b.readUInt32BE(16), height: b.readUInt32BE(20), bytes: b.length }
}

/** Some minutes of varied traffic: logins passed, refused, provider errors; bounded in count. */
async function traffic(gw: TestGateway, rounds: number, spacingMs: number): Promise<void> {
  for (let r = 0; r < rounds; r++) {
    const n = 3 + ((r * 7) % 11)
    await Promise.all(Array.from({ length: n }, () => login(gw, 'alice', 'wonderland')))
    if (r % 2 === 0) await login(gw, 'alice', `typo${r}`, '127.0.0.20')
    if (r % 5 === 1) await login(gw, 'boom', 'x')
    if (spacingMs > 0) await new Promise((resolve) => setTimeout(resolve, spacingMs))
  }
}

test(
  'Chromium opens the token-protected status page with Basic, and it shows and follows the traffic',
  { skip, timeout: 150_000 },
  async (t) => {
    const { dir, cleanup } = tempDir('gh-status-live-')
    t.after(cleanup)
    const gw = await startGateway(
      {
        groups: {
          wiki: { app: MULTI_APP, cwd: APPS, processes: 2 },
          accounts: { app: MULTI_APP, provider: PROVIDER, cwd: APPS, processes: { min: 1, max: 3 }, idleTime: '30s' },
        },
        routes: [{ path: '/pid', group: 'wiki', auth: { realm: 'Wiki', provider: 'accounts' } }],
        throttle: { delay: 0, perAddress: { maxFailures: 50 }, perUser: { maxFailures: 3, lockout: '10m' } },
        admin: { host: '127.0.0.1', port: 0, token: TOKEN },
        log: { level: 'warn' },
      },
      dir,
    )
    t.after(() => gw.close())
    await traffic(gw, DOCS ? 12 : 3, DOCS ? 5000 : 0)
    for (let i = 0; i < 3; i++) assert.equal(await login(gw, HOSTILE, `guess${i}`, '127.0.0.21'), 401)

    const browser = await launchChromium()
    t.after(() => browser.close())

    // Without credentials to give, headless Chromium cancels the Basic prompt; with a wrong token it
    // answers the challenge, is challenged again and shows the 401.
    const anonymous = await browser.newPage()
    await assert.rejects(anonymous.goto(`${gw.gw.adminAddress}/status`), /ERR_INVALID_AUTH_CREDENTIALS/)
    const wrong = await (
      await browser.newContext({ httpCredentials: { username: 'admin', password: `${TOKEN}x` } })
    ).newPage()
    const refused = await wrong.goto(`${gw.gw.adminAddress}/status`)
    assert.equal(refused?.status(), 401)
    assert.equal(refused?.headers()['www-authenticate'], 'Basic realm="gatehouse admin", charset="UTF-8"')
    assert.ok(!(await wrong.content()).includes('gatehouse status'))

    const context = await browser.newContext({
      httpCredentials: { username: 'admin', password: TOKEN },
      viewport: { width: 1280, height: 900 },
    })
    const page = await context.newPage()
    const problems: string[] = []
    page.on('console', (m) => {
      if (m.type() === 'error' || m.type() === 'warning') problems.push(m.text())
    })
    page.on('pageerror', (e) => problems.push(e.message))
    const res = await page.goto(`${gw.gw.adminAddress}/status`)
    assert.equal(res?.status(), 200)
    assert.equal(await page.title(), 'gatehouse status')
    // The script ran (allowed by the policy), fetched /status.json with the browser's credentials and drew.
    await page.waitForSelector('body[data-updated]', { timeout: 20_000 })
    assert.match((await page.locator('#updated').textContent()) ?? '', /^live, updated \d\d:\d\d:\d\d UTC$/)

    const s = await status(gw)
    const a = s.activity!
    const fig = (k: string) => page.locator(`[data-k="${k}"]`).textContent()
    assert.equal(await fig('ok'), String(a.summary.auth.ok))
    assert.equal(
      await fig('refused'),
      String(
        a.summary.auth.bad_password + a.summary.auth.unknown_user + a.summary.auth.forbidden + a.summary.auth.invalid,
      ),
    )
    assert.equal(await fig('errors'), String(a.summary.auth.error))
    assert.equal(await fig('cache'), `${(a.summary.cacheHitRatio! * 100).toFixed(1)}%`)
    assert.ok(a.summary.auth.ok > 0 && a.summary.auth.error > 0 && a.summary.cacheHits > 0)
    for (const k of ['requests', 'ok', 'refused', 'errors', 'cache']) {
      const d = await page.locator(`svg[data-series="${k}"] path`).getAttribute('d')
      assert.match(d ?? '', /^M0 40 L0\.0 40\.0 .* L180 40 Z$/, k)
      assert.match(d ?? '', / L[\d.]+ (?!40\.0)\d+\.\d/, `${k}: the chart rises above its baseline`)
    }
    const provider = page.locator('#providers tbody tr', { hasText: 'accounts' })
    assert.equal(
      await provider.locator('td').nth(1).textContent(),
      String(a.providers.find((p) => p.name === 'accounts')!.calls),
    )
    assert.match((await provider.locator('td').nth(4).textContent()) ?? '', /^\d+(\.\d\d)? ms$/)

    assert.equal(await page.locator('#lockouts tbody tr').count(), s.lockouts!.length)
    const lock = page.locator('#lockouts tbody tr', { hasText: HOSTILE })
    assert.equal(await lock.count(), 1)
    assert.deepEqual((await lock.locator('td').allTextContents()).slice(0, 4), [
      'user',
      '127.0.0.21',
      HOSTILE,
      'accounts',
    ])
    assert.equal(await page.locator('#injected').count(), 0, 'the user name stayed text')

    for (const g of s.groups) {
      const pids = (
        await page.locator(`section[data-group="${g.name}"] tbody tr td:first-child`).allTextContents()
      ).map(Number)
      assert.deepEqual(pids.sort(), g.processes.map((p) => p.pid).sort(), g.name)
      const memory = await page.locator(`section[data-group="${g.name}"] tbody tr td:nth-child(5)`).allTextContents()
      assert.ok(
        memory.every((m) => /^\d+\.\d MiB$/.test(m)),
        memory.join(),
      )
    }

    // Live: more logins show up without reloading the page.
    const before = Number(await fig('ok'))
    for (let i = 0; i < 4; i++) assert.equal(await login(gw, 'alice', 'wonderland'), 200)
    await page.waitForFunction((n) => document.querySelector('[data-k="ok"]')?.textContent === String(n), before + 4, {
      timeout: 20_000,
    })
    assert.deepEqual(problems, [], 'no CSP violation or script error')

    const shot = join(dir, 'status-page.png')
    await page.screenshot({ path: shot, fullPage: true })
    const png = pngSize(shot)
    assert.equal(png.width, 1280)
    assert.ok(png.height >= 900, `height ${png.height}`)
    assert.ok(png.bytes > 30_000, `${png.bytes} bytes`)
    if (DOCS) copyFileSync(shot, DOCS_IMAGE)
  },
)
