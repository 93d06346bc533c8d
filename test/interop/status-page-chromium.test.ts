/**
 * The admin status page (/status) in headless Chromium through playwright-core: it renders
 * each daemon group with its processes, the pids match /status.json, and a screenshot is
 * saved to test-output/status-page.png.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { CHROMIUM, launchChromium } from './helpers/chromium.js'
import { request } from 'undici'
import { skipUnless } from './helpers/run.js'
import { MULTI_APP, APPS } from '../fixtures/apps/harness.js'
import { startGateway, tempDir } from '../helpers/gateway.js'

const OUTPUT = fileURLToPath(new URL('../../test-output/', import.meta.url))
const skip = skipUnless(CHROMIUM, 'chromium', 'chromium')

test('the status page shows each group and its processes in Chromium', { skip, timeout: 60_000 }, async (t) => {
  const { dir, cleanup } = tempDir('gh-status-page-')
  t.after(cleanup)
  const gw = await startGateway(
    {
      groups: {
        wiki: { app: MULTI_APP, cwd: APPS, processes: 2 },
        accounts: { app: MULTI_APP, cwd: APPS, processes: { min: 1, max: 3 }, idleTime: '30s' },
      },
      routes: [{ path: '/pid', group: 'wiki' }],
      admin: { host: '127.0.0.1', port: 0 },
      log: { level: 'warn' },
    },
    dir,
  )
  t.after(() => gw.close())
  for (let i = 0; i < 3; i++) await (await request(`${gw.url}/pid`)).body.text()
  await gw.gw.supervisor!.reload('accounts', 'touched app.ts')

  const browser = await launchChromium()
  t.after(() => browser.close())
  const page = await browser.newPage()
  const res = await page.goto(`${gw.gw.adminAddress}/status`)
  assert.equal(res?.status(), 200)
  assert.equal(res?.headers()['content-type'], 'text/html; charset=utf-8')
  assert.equal(await page.title(), 'gatehouse status')

  const json = JSON.parse(await (await request(`${gw.gw.adminAddress}/status.json`)).body.text()) as {
    groups: Array<{ name: string; processes: Array<{ pid: number }> }>
  }
  for (const g of json.groups) {
    const section = page.locator(`section[data-group="${g.name}"]`)
    assert.equal(await section.locator('tbody tr').count(), g.processes.filter(Boolean).length, g.name)
    const pids = (await section.locator('tbody tr td:first-child').allTextContents()).map(Number)
    assert.deepEqual(pids.sort(), g.processes.map((p) => p.pid).sort(), g.name)
  }
  assert.match(
    (await page.locator('section[data-group="wiki"] h2').textContent()) ?? '',
    /group wiki \(running, processes 2\)/,
  )
  assert.match((await page.locator('section[data-group="accounts"] h2').textContent()) ?? '', /processes 1\.\.3/)
  assert.match(
    (await page.locator('section[data-group="accounts"] .last-reload').textContent()) ?? '',
    /touched app\.ts$/,
  )
  assert.equal(await page.locator('section[data-group="wiki"] .last-reload').textContent(), 'never')
  const served = (await page.locator('section[data-group="wiki"] tbody tr td:nth-child(4)').allTextContents()).map(
    Number,
  )
  assert.equal(
    served.reduce((a, b) => a + b, 0),
    3,
  )
  assert.equal(await page.locator('#gateway dd.ready').textContent(), 'yes')

  mkdirSync(OUTPUT, { recursive: true })
  const shot = `${OUTPUT}status-page.png`
  await page.screenshot({ path: shot, fullPage: true })
  assert.ok(statSync(shot).size > 1000)
})
