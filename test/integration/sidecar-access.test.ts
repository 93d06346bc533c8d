/**
 * Who is asking, in sidecar mode. Host-based access (a provider's allowAccess) holds: a
 * provider that says no ends the sub-request with 403 before any credentials are checked, even
 * when a later provider of the chain would accept them. And the client a trusted proxy names
 * (the right-most X-Forwarded-For entry that is not a proxy) is the one throttled: a client's
 * forged entries to its left neither spread its failures nor lock out another client.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { fileURLToPath } from 'node:url'
import { request } from 'undici'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const fixture = (name: string): string => fileURLToPath(new URL(`../fixtures/providers/${name}.ts`, import.meta.url))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

let gw: TestGateway
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-sidecar-access-')
  cleanup = t.cleanup
  gw = await startGateway(
    {
      // deny: knows nobody and refuses every host; allow: accepts every user.
      providers: {
        deny: { type: 'module', module: fixture('deny'), threads: 1 },
        allow: { type: 'module', module: fixture('allow'), threads: 1 },
      },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      routes: [
        { path: '/open', auth: { scheme: 'basic', realm: 'R', provider: ['allow'], cache: false } },
        { path: '/closed', auth: { scheme: 'basic', realm: 'R', provider: ['deny', 'allow'], cache: false } },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  cleanup?.()
})

async function ask(uri: string): Promise<{ status: number; user: unknown }> {
  const res = await request(`${gw.url}/auth`, {
    headers: { 'x-original-uri': uri, authorization: basic('carol', 'anything') },
  })
  await res.body.dump()
  return { status: res.statusCode, user: res.headers['x-remote-user'] }
}

describe('sidecar host-based access', () => {
  test('a chain whose provider refuses access answers 403 even though a later provider accepts the login', async () => {
    assert.deepEqual(await ask('/open/x'), { status: 200, user: 'carol' })
    assert.deepEqual(await ask('/closed/x'), { status: 403, user: undefined })
  })
})

describe('sidecar throttling by the client behind the proxy', () => {
  let throttled: TestGateway
  before(async () => {
    throttled = await startGateway(
      {
        providers: { allow: { type: 'module', module: fixture('allow'), threads: 1 } },
        trustedProxies: ['127.0.0.1'],
        sidecar: { path: '/auth' },
        throttle: { delay: 0, perAddress: { maxFailures: 2, lockout: '5m' }, perUser: false },
        routes: [{ path: '/app', auth: { scheme: 'basic', realm: 'R', provider: ['allow'], cache: false } }],
      },
      tempDir('gh-sidecar-xff-').dir,
    )
  })
  after(() => throttled?.close())

  /** allow accepts any non-empty user: an empty user name is its wrong login. */
  async function attempt(xff: string, user: string): Promise<number> {
    const res = await request(`${throttled.url}/auth`, {
      headers: { 'x-original-uri': '/app/x', 'x-forwarded-for': xff, authorization: basic(user, 'pw') },
    })
    await res.body.dump()
    return res.statusCode
  }

  test('failures with rotating forged entries count against the real client, and another client is not locked out', async () => {
    assert.equal(await attempt('10.0.0.1, 198.51.100.7', ''), 401)
    assert.equal(await attempt('10.0.0.2, 198.51.100.7', ''), 401)
    assert.equal(await attempt('10.0.0.3, 198.51.100.7', 'carol'), 429)
    assert.equal(await attempt('198.51.100.8', 'dave'), 200)
  })
})
