/**
 * The request headers a provider gets in its context leave out Authorization and
 * Proxy-Authorization, for a provider in the front's threads too (a daemon-group provider's
 * context is stripped again on its way to the group). The provider below tells by the user name
 * it returns, which reaches the upstream.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const SEES = fileURLToPath(new URL('../fixtures/providers/sees-credentials.ts', import.meta.url))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

let gw: TestGateway
let echo: EchoUpstream
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-provider-context-')
  cleanup = t.cleanup
  echo = await startEchoUpstream()
  gw = await startGateway({
    providers: { sees: { type: 'module', module: SEES, threads: 1 } },
    routes: [{ path: '/app', upstream: echo.url, auth: { scheme: 'basic', realm: 'R', provider: 'sees', cache: false } }],
  }, t.dir)
})

after(async () => {
  await gw?.close()
  await echo?.close()
  cleanup?.()
})

describe('the provider context', () => {
  test('holds neither Authorization nor Proxy-Authorization, for a provider in threads', async () => {
    const res = await request(`${gw.url}/app/x`, { headers: { authorization: basic('alice', 'pw'), 'proxy-authorization': basic('proxy', 'secret') } })
    await res.body.dump()
    assert.equal(res.statusCode, 200)
    assert.equal(echo.seen.at(-1)?.headers['x-remote-user'], 'alice')
  })
})
