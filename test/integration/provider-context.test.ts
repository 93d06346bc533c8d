/**
 * What providers see and decide before the upstream is reached. The request headers in a
 * provider's context leave out Authorization and Proxy-Authorization, for a provider in the
 * front's threads too (a daemon-group provider's context is stripped again on its way to the
 * group); the provider below tells by the user name it returns, which reaches the upstream. And
 * a provider refusing host access (allowAccess) answers 403 with the upstream never asked, even
 * when a later provider would accept the login.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/providers/${name}.ts`, import.meta.url))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

let gw: TestGateway
let echo: EchoUpstream
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-provider-context-')
  cleanup = t.cleanup
  echo = await startEchoUpstream()
  gw = await startGateway(
    {
      providers: {
        sees: { type: 'module', module: fixture('sees-credentials'), threads: 1 },
        deny: { type: 'module', module: fixture('deny'), threads: 1 },
        allow: { type: 'module', module: fixture('allow'), threads: 1 },
      },
      routes: [
        { path: '/app', upstream: echo.url, auth: { scheme: 'basic', realm: 'R', provider: 'sees', cache: false } },
        {
          path: '/closed',
          upstream: echo.url,
          auth: { scheme: 'basic', realm: 'R', provider: ['deny', 'allow'], cache: false },
        },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await echo?.close()
  cleanup?.()
})

describe('the provider context', () => {
  test('holds neither Authorization nor Proxy-Authorization, for a provider in threads', async () => {
    const res = await request(`${gw.url}/app/x`, {
      headers: { authorization: basic('alice', 'pw'), 'proxy-authorization': basic('proxy', 'secret') },
    })
    await res.body.dump()
    assert.equal(res.statusCode, 200)
    assert.equal(echo.seen.at(-1)?.headers['x-remote-user'], 'alice')
  })

  test('a provider refusing host access answers 403 and the upstream never sees the request', async () => {
    const seenBefore = echo.seen.length
    const res = await request(`${gw.url}/closed/x`, { headers: { authorization: basic('carol', 'anything') } })
    assert.equal(res.statusCode, 403)
    await res.body.dump()
    // A later request proves the front is still answering, so nothing was merely in flight.
    const open = await request(`${gw.url}/app/y`, { headers: { authorization: basic('alice', 'pw') } })
    await open.body.dump()
    assert.equal(echo.seen.length, seenBefore + 1)
    assert.equal(echo.seen.at(-1)?.url, '/app/y')
  })
})
