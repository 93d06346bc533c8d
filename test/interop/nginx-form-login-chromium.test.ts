/**
 * Form login in headless Chromium (Debian's, through playwright-core) through real nginx with
 * gatehouse as its auth_request sidecar, using the shipped example (examples/nginx-form-login).
 * The app behind nginx asks for its private pages to be cached for an hour. Sign in through the
 * page, follow a link, sign out; then Back and reload show the login page and the app is never
 * asked again; a second browser given the stolen cookie is sent to the login page.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { type Browser } from 'playwright-core'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { parse } from 'yaml'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { startPrivateApp, type PrivateApp } from '../helpers/private-app.js'
import { needs } from '../helpers/required-tool.js'
import { isExecutable } from './helpers/run.js'
import { NGINX, startExampleNginx, type RunningNginx } from './helpers/nginx.js'

const skip =
  needs(isExecutable(NGINX), `nginx not found at ${NGINX} (Debian package nginx)`) ||
  needs(isExecutable(CHROMIUM), `chromium not found at ${CHROMIUM} (Debian package chromium)`)

describe('form login in chromium through nginx and the sidecar', { skip }, () => {
  let gw: TestGateway
  let app: PrivateApp
  let nginx: RunningNginx
  let browser: Browser
  let cleanup: () => void
  let base: string

  before(async () => {
    const t = tempDir('gh-nginx-form-chromium-')
    cleanup = t.cleanup
    writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('alice pw', 4)}\n`)
    writeFile(t.dir, 'groups', 'staff: alice\n')
    writeFile(t.dir, 'digest-secret', 'nginx-form-chromium-secret-0123456789\n')
    const example = parse(
      readFileSync(new URL('../../examples/nginx-form-login/gatehouse.yaml', import.meta.url), 'utf8'),
    ) as Record<string, unknown>
    delete example.listen
    app = await startPrivateApp()
    gw = await startGateway(example, t.dir)
    nginx = await startExampleNginx(join(t.dir, 'nginx'), gw.port, Number(new URL(app.url).port), 'nginx-form-login')
    base = `http://127.0.0.1:${nginx.port}`
    browser = await launchChromium()
  })

  after(async () => {
    await browser?.close()
    await nginx?.stop()
    await gw?.close()
    await app?.close()
    cleanup?.()
  })

  test('sign in through nginx, follow a link, sign out: Back and reload show the login page, and a stolen cookie is refused', async () => {
    const context = await browser.newContext()
    const page = await context.newPage()
    page.setDefaultTimeout(15_000)
    await page.goto(`${base}/app/start?x=1`)
    assert.equal(new URL(page.url()).pathname, '/.gatehouse/login', nginx.errorLog())
    assert.equal(app.seen.length, 0)
    await page.getByLabel('User name').fill('alice')
    await page.getByLabel('Password').fill('alice pw')
    await Promise.all([page.waitForURL(`${base}/app/start?x=1`), page.getByRole('button', { name: 'Sign in' }).click()])
    assert.equal(await page.textContent('#secret'), 'private page of alice at /app/start?x=1')
    const [next] = await Promise.all([page.waitForResponse(`${base}/app/next`), page.click('#next')])
    assert.equal(await page.textContent('#secret'), 'private page of alice at /app/next')
    assert.equal(next.headers()['cache-control'], 'no-store', "the app's caching headers are replaced")
    assert.equal(next.headers().expires, undefined)
    assert.equal(app.seen.at(-1)!.headers.cookie, undefined, 'the app never gets the session cookie')
    const stolen = (await context.cookies()).filter((c) => c.name === 'gatehouse_session')
    assert.equal(stolen.length, 1)
    assert.equal(stolen[0]!.domain, '127.0.0.1', "host-only, for the app's host")
    assert.equal(stolen[0]!.httpOnly, true)

    await page.goto(`${base}/.gatehouse/logout`)
    await Promise.all([
      page.waitForURL(`${base}/.gatehouse/login`),
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
    await page.reload()
    assert.equal(new URL(page.url()).pathname, '/.gatehouse/login')
    assert.equal(await page.locator('#secret').count(), 0)
    assert.equal(app.seen.length, seenAtLogout, 'the app was not asked after logout')

    const thief = await browser.newContext()
    await thief.addCookies(stolen)
    const other = await thief.newPage()
    await other.goto(`${base}/app/next`)
    assert.equal(new URL(other.url()).pathname, '/.gatehouse/login')
    assert.equal(await other.locator('#secret').count(), 0)
    assert.equal(app.seen.length, seenAtLogout, 'the stolen cookie reached nothing')
    await thief.close()
    await context.close()
  })
})
