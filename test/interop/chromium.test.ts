/**
 * Interoperability with headless Chromium through playwright-core: a context with
 * `httpCredentials` answers the gateway's Basic and Digest challenges. The echo upstream's JSON
 * is the page, so the page shows the identity the upstream received. Screenshots go to
 * test-output/ (gitignored). Digest routes pass Authorization on, so the algorithm Chromium
 * chose is visible upstream.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Browser } from 'playwright-core'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { skipUnless } from './helpers/run.js'
import { REALM, standardProviders, startStack, users, writeStandardUsers, type InteropStack } from './helpers/stack.js'

const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url))
const skip = skipUnless(CHROMIUM, 'chromium', 'chromium')

interface Visit {
  status: number | undefined
  seen: { url: string; headers: Record<string, string | undefined> } | undefined
}

describe('chromium', { skip }, () => {
  let stack: InteropStack
  let browser: Browser
  const url = (path: string) => `${stack.gw.url}${path}`

  before(async () => {
    stack = await startStack(({ dir, upstream }) => {
      writeStandardUsers(dir)
      const digest = (extra: Record<string, unknown>) => ({
        scheme: 'digest',
        realm: REALM,
        provider: 'local',
        passAuthorization: true,
        ...extra,
      })
      return {
        providers: standardProviders,
        routes: [
          { path: '/basic', upstream, auth: { scheme: 'basic', realm: REALM, provider: ['office', 'local'] } },
          { path: '/digest', upstream, auth: digest({}) },
          { path: '/digest-sha256', upstream, auth: digest({ md5: false }) },
          { path: '/digest-md5', upstream, auth: digest({ algorithms: ['MD5'] }) },
        ],
      }
    })
    browser = await launchChromium()
    mkdirSync(OUTPUT, { recursive: true })
  })

  after(async () => {
    await browser?.close()
    await stack?.close()
  })

  /** Opens `path` in a fresh context with the credentials; screenshot when `shot` is given. */
  async function visit(path: string, username: string, password: string, shot?: string): Promise<Visit> {
    const context = await browser.newContext({ httpCredentials: { username, password } })
    try {
      const page = await context.newPage()
      const response = await page.goto(url(path), { timeout: 15_000, waitUntil: 'load' })
      const status = response?.status()
      let seen: Visit['seen']
      if (status === 200) seen = JSON.parse((await page.textContent('pre', { timeout: 5_000 })) ?? '')
      if (shot !== undefined) await page.screenshot({ path: `${OUTPUT}${shot}`, timeout: 10_000 })
      return { status, seen }
    } finally {
      await context.close()
    }
  }

  test('Basic: the page shows the identity the upstream received, and no Authorization', async () => {
    const v = await visit('/basic/welcome', users.alice.name, users.alice.password, 'chromium-basic.png')
    assert.equal(v.status, 200)
    assert.equal(v.seen?.url, '/basic/welcome')
    assert.equal(v.seen?.headers['x-remote-user'], 'alice')
    assert.equal(v.seen?.headers.authorization, undefined)
  })

  test('Basic: a UTF-8 user name and password authenticate café', async () => {
    const v = await visit('/basic/', users.cafe.name, users.cafe.password)
    assert.equal(v.status, 200)
    assert.equal(v.seen?.headers['x-remote-user'], 'caf%C3%A9')
  })

  test('Digest: on a route offering SHA-256 then MD5, Chromium answers SHA-256, with groups', async () => {
    const v = await visit('/digest/welcome', users.dave.name, users.dave.password, 'chromium-digest.png')
    assert.equal(v.status, 200)
    assert.equal(v.seen?.headers['x-remote-user'], 'dave')
    assert.equal(v.seen?.headers['x-remote-groups'], 'staff')
    assert.match(String(v.seen?.headers.authorization), /^Digest .*username="dave"/)
    assert.match(String(v.seen?.headers.authorization), /algorithm="?SHA-256"?/)
  })

  test('Digest: SHA-256 when MD5 is switched off', async () => {
    const v = await visit('/digest-sha256/', users.erin.name, users.erin.password)
    assert.equal(v.status, 200)
    assert.equal(v.seen?.headers['x-remote-user'], 'erin')
    assert.match(String(v.seen?.headers.authorization), /algorithm="?SHA-256"?/)
  })

  test('Digest: MD5 on an MD5-only route', async () => {
    const v = await visit('/digest-md5/', users.erin.name, users.erin.password)
    assert.equal(v.status, 200)
    assert.equal(v.seen?.headers['x-remote-user'], 'erin')
    assert.match(String(v.seen?.headers.authorization), /algorithm="?MD5"?/)
  })

  test('wrong credentials end in a final 401, for Basic and for Digest', async () => {
    const before = stack.upstream.seen.length
    assert.equal((await visit('/basic/', users.alice.name, 'wonder', 'chromium-basic-401.png')).status, 401)
    assert.equal((await visit('/digest/', users.dave.name, 'nope')).status, 401)
    assert.equal((await visit('/digest/', 'mallory', 'nope')).status, 401)
    assert.equal(stack.upstream.seen.length, before)
  })
})
