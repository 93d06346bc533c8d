/**
 * Headless Chromium (playwright-core) loads protected pages from the front over HTTP/2: a TLS
 * listener with listen.http2 and a self-signed certificate (ignoreHTTPSErrors), credentials
 * from `httpCredentials` answering the Basic and Digest challenges, through to an upstream and
 * a daemon group. The protocol is the browser's own account (the navigation entry's
 * nextHopProtocol), the identity is what the target received (its JSON is the page).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { type Browser } from 'playwright-core'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { skipOrFail, skipUnless } from './helpers/run.js'
import { REALM, standardProviders, startStack, users, writeStandardUsers, type InteropStack } from './helpers/stack.js'
import { haveOpenssl, makeCertificate } from '../helpers/tls-cert.js'

const APP = fileURLToPath(new URL('../fixtures/apps/h2-echo.ts', import.meta.url))
const skip =
  skipUnless(CHROMIUM, 'chromium', 'chromium') ||
  (haveOpenssl ? false : skipOrFail('openssl not found (Debian package openssl)'))

interface Visit {
  status: number | undefined
  protocol: string
  tls: string | undefined
  seen: { url: string; headers: Record<string, string | undefined> } | undefined
}

describe('chromium over HTTP/2', { skip }, () => {
  let stack: InteropStack
  let browser: Browser

  before(async () => {
    stack = await startStack(({ dir, upstream }) => {
      writeStandardUsers(dir)
      return {
        listen: { host: '127.0.0.1', port: 0, http2: true, tls: makeCertificate(dir, 'front', 8008) },
        providers: standardProviders,
        groups: { echo: { app: APP, processes: 1 } },
        routes: [
          { path: '/basic', upstream, auth: { scheme: 'basic', realm: REALM, provider: ['office', 'local'] } },
          {
            path: '/grp',
            group: 'echo',
            auth: { scheme: 'digest', realm: REALM, provider: 'local', passAuthorization: true },
          },
        ],
      }
    })
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await stack?.close()
  })

  async function visit(path: string, username: string, password: string): Promise<Visit> {
    const context = await browser.newContext({ httpCredentials: { username, password }, ignoreHTTPSErrors: true })
    try {
      const page = await context.newPage()
      const response = await page.goto(`https://127.0.0.1:${stack.gw.port}${path}`, {
        timeout: 15_000,
        waitUntil: 'load',
      })
      const status = response?.status()
      const protocol = await page.evaluate(
        () => (performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming).nextHopProtocol,
      )
      const tls = (await response?.securityDetails())?.protocol
      let seen: Visit['seen']
      if (status === 200) seen = JSON.parse((await page.textContent('pre', { timeout: 5_000 })) ?? '')
      return { status, protocol, tls, seen }
    } finally {
      await context.close()
    }
  }

  test('Basic: a protected upstream page loads over h2 and shows the identity the upstream received', async () => {
    const v = await visit('/basic/welcome', users.alice.name, users.alice.password)
    assert.equal(v.status, 200)
    assert.equal(v.protocol, 'h2')
    assert.match(String(v.tls), /^TLS 1\.[23]$/)
    assert.equal(v.seen?.url, '/basic/welcome')
    assert.equal(v.seen?.headers['x-remote-user'], 'alice')
    assert.equal(v.seen?.headers.authorization, undefined)
    assert.deepEqual(
      Object.keys(v.seen?.headers ?? {}).filter((k) => k.startsWith(':')),
      [],
    )
  })

  test('Digest: a protected daemon-group page loads over h2; the app sees dave, Host from :authority', async () => {
    const v = await visit('/grp/welcome', users.dave.name, users.dave.password)
    assert.equal(v.status, 200)
    assert.equal(v.protocol, 'h2')
    assert.equal(v.seen?.headers['x-remote-user'], 'dave')
    assert.equal(v.seen?.headers.host, `127.0.0.1:${stack.gw.port}`)
    assert.match(String(v.seen?.headers.authorization), /^Digest .*username="dave"/)
    assert.deepEqual(
      Object.keys(v.seen?.headers ?? {}).filter((k) => k.startsWith(':')),
      [],
    )
  })

  test('wrong credentials end in a final 401 over h2, and the upstream never sees a request', async () => {
    const before = stack.upstream.seen.length
    const v = await visit('/basic/', users.alice.name, 'wonder')
    assert.equal(v.status, 401)
    assert.equal(v.protocol, 'h2')
    assert.equal(stack.upstream.seen.length, before)
  })
})
