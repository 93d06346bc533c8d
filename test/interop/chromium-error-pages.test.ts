/**
 * Headless Chromium (playwright-core) meets the front's refusals as a person would: a signed-in
 * user the route does not admit sees the access-denied page rendered, with the status kept,
 * its heading and advice on screen, and nothing blocked or failing while it loads (the page
 * needs no script, image or external style). A screenshot goes to test-output/ (gitignored).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { type Browser } from 'playwright-core'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { skipUnless } from './helpers/run.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'

const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url))
const skip = skipUnless(CHROMIUM, 'chromium', 'chromium')
const sha = (password: string) => `{SHA}${createHash('sha1').update(password).digest('base64')}`

describe('chromium renders the refusal pages', { skip }, () => {
  let gw: TestGateway
  let echo: EchoUpstream
  let browser: Browser
  let cleanup: () => void

  before(async () => {
    const t = tempDir('gh-chromium-pages-')
    cleanup = t.cleanup
    writeFile(t.dir, 'users.htpasswd', `alice:${sha('wonderland')}\nbob:${sha('builder')}\n`)
    echo = await startEchoUpstream()
    gw = await startGateway(
      {
        providers: { ledger: { type: 'htpasswd', file: './users.htpasswd' } },
        routes: [
          {
            path: '/staff',
            upstream: echo.url,
            auth: { scheme: 'basic', realm: 'Office', provider: 'ledger', require: { users: ['alice'] } },
          },
        ],
      },
      t.dir,
    )
    browser = await launchChromium()
    mkdirSync(OUTPUT, { recursive: true })
  })

  after(async () => {
    await browser?.close()
    await gw?.close()
    await echo?.close()
    cleanup?.()
  })

  test('403: bob, signed in but not admitted, sees "Access denied" and what to do; the upstream never saw him', async () => {
    const context = await browser.newContext({ httpCredentials: { username: 'bob', password: 'builder' } })
    try {
      const page = await context.newPage()
      const problems: string[] = []
      // Chromium reports the document's own 403 on the console; anything else (a CSP violation, a failed load) is a problem.
      page.on('console', (m) => {
        if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('responded with a status of 403'))
          problems.push(m.text())
      })
      page.on('requestfailed', (r) => problems.push(`failed: ${r.url()}`))
      const requested: string[] = []
      page.on('request', (r) => requested.push(r.url()))
      const response = await page.goto(`${gw.url}/staff/report`, { timeout: 15_000, waitUntil: 'load' })
      assert.equal(response?.status(), 403)
      assert.equal(response?.headers()['content-type'], 'text/html; charset=utf-8')
      assert.equal(await page.title(), 'Access denied')
      assert.equal(await page.textContent('h1', { timeout: 5_000 }), 'Access denied')
      assert.match((await page.textContent('body')) ?? '', /ask the site's administrator/)
      // Rendered as a page, not shown as source text: the heading is laid out larger than the body text.
      const sizes = await page.evaluate(() => [
        getComputedStyle(document.querySelector('h1')!).fontSize,
        getComputedStyle(document.body).fontSize,
      ])
      assert.ok(parseFloat(sizes[0]!) > parseFloat(sizes[1]!), `font sizes ${sizes.join(', ')}`)
      await page.screenshot({ path: `${OUTPUT}chromium-error-403.png`, timeout: 10_000 })
      assert.deepEqual(problems, [])
      assert.deepEqual(requested, [`${gw.url}/staff/report`])
      assert.equal(echo.seen.length, 0)
    } finally {
      await context.close()
    }
  })
})
