/**
 * Form login in headless Chromium (Debian's, through playwright-core): sign in through the
 * page, follow a link, sign out, then Back and reload show the login page and the app is never
 * asked again; a second browser given the stolen cookie is refused after logout.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import bcrypt from 'bcryptjs'
import { type Browser } from 'playwright-core'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { skipUnless } from './helpers/run.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { startPrivateApp, type PrivateApp } from '../helpers/private-app.js'

const skip = skipUnless(CHROMIUM, 'chromium', 'chromium')

describe('form login in chromium', { skip }, () => {
  let gw: TestGateway
  let app: PrivateApp
  let browser: Browser
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-form-chromium-')
    cleanup = t.cleanup
    app = await startPrivateApp()
    writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('alice pw', 4)}\n`)
    gw = await startGateway(
      {
        providers: { office: { type: 'htpasswd', file: './users.htpasswd' } },
        routes: [{ path: '/app', upstream: app.url, auth: { realm: 'Office', provider: 'office', scheme: 'form' } }],
      },
      t.dir,
    )
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await gw?.close()
    await app?.close()
    cleanup?.()
  })

  test('sign in, follow a link, sign out: Back and reload show the login page, and a stolen cookie is refused', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    page.setDefaultTimeout(15_000)
    await page.goto(`${gw.url}/app/start?x=1`)
    assert.equal(new URL(page.url()).pathname, '/.gatehouse/login')
    assert.equal(app.seen.length, 0)
    await page.getByLabel('User name').fill('alice')
    await page.getByLabel('Password').fill('alice pw')
    await Promise.all([
      page.waitForURL(`${gw.url}/app/start?x=1`),
      page.getByRole('button', { name: 'Sign in' }).click(),
    ])
    assert.equal(await page.textContent('#secret'), 'private page of alice at /app/start?x=1')
    await Promise.all([page.waitForURL(`${gw.url}/app/next`), page.click('#next')])
    assert.equal(await page.textContent('#secret'), 'private page of alice at /app/next')
    const stolen = (await context.cookies()).filter((c) => c.name === 'gatehouse_session')
    assert.equal(stolen.length, 1)
    assert.equal(stolen[0]!.httpOnly, true)
    assert.equal(stolen[0]!.sameSite, 'Lax')

    await page.goto(`${gw.url}/.gatehouse/logout`)
    await Promise.all([
      page.waitForURL(`${gw.url}/.gatehouse/login`),
      page.getByRole('button', { name: 'Sign out' }).click(),
    ])
    const seenAtLogout = app.seen.length
    assert.deepEqual(
      (await context.cookies()).filter((c) => c.name === 'gatehouse_session'),
      [],
    )

    // Back past the logout confirmation to /app/next: refetched (no-store), and sent to the login page.
    await page.goBack()
    await page.goBack()
    assert.equal(new URL(page.url()).pathname, '/.gatehouse/login')
    assert.equal(await page.locator('#secret').count(), 0)
    assert.match(await page.content(), /<h1>Sign in<\/h1>/)
    await page.reload()
    assert.equal(new URL(page.url()).pathname, '/.gatehouse/login')
    assert.equal(await page.locator('#secret').count(), 0)
    assert.equal(app.seen.length, seenAtLogout, 'the app was not asked after logout')

    const thief = await browser.newContext()
    await thief.addCookies(stolen)
    const other = await thief.newPage()
    await other.goto(`${gw.url}/app/next`)
    assert.equal(new URL(other.url()).pathname, '/.gatehouse/login')
    assert.equal(await other.locator('#secret').count(), 0)
    assert.equal(app.seen.length, seenAtLogout, 'the stolen cookie reached nothing')
    await thief.close()
    await context.close()
  })
})
