/**
 * Identity look-alikes never reach the app through the front: the names other auth proxies and
 * the sidecar use for the user, the path-override headers, and names the configuration adds are
 * removed from the client's request, for an upstream URL and for a daemon group alike, and the
 * identity the front sets comes first among the fields the app receives.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream, type Seen } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { rawRequest } from '../helpers/raw-request.js'

const ALLOW = fileURLToPath(new URL('../fixtures/providers/allow.ts', import.meta.url))
const RAW_HEADERS_APP = fileURLToPath(new URL('../fixtures/apps/raw-headers.ts', import.meta.url))
const APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

/** What a client could send to pass for someone, or to reroute the app. */
const LOOK_ALIKES: Array<[string, string]> = [
  ['X-Remote-User', 'mallory'],
  ['X-Remote-Groups', 'admin'],
  ['Remote-User', 'mallory'],
  ['Remote-Groups', 'admin'],
  ['Remote-Email', 'mallory@example.org'],
  ['Remote-Name', 'Mallory'],
  ['X-Forwarded-User', 'mallory'],
  ['X-Forwarded-Email', 'mallory@example.org'],
  ['X-Forwarded-Preferred-Username', 'mallory'],
  ['X-Forwarded-Groups', 'admin'],
  ['X-Forwarded-Access-Token', 'forged'],
  ['X-Auth-Request-User', 'mallory'],
  ['X-Auth-Request-Email', 'mallory@example.org'],
  ['X-Auth-Request-Preferred-Username', 'mallory'],
  ['X-Auth-Request-Groups', 'admin'],
  ['X-Auth-Request-Access-Token', 'forged'],
  ['X-WEBAUTH-USER', 'mallory'],
  ['X-WEBAUTH-EMAIL', 'mallory@example.org'],
  ['X-WEBAUTH-NAME', 'Mallory'],
  ['X-WEBAUTH-GROUPS', 'admin'],
  ['X-Original-URL', '/admin'],
  ['X-Rewrite-URL', '/admin'],
  // configured: identityHeaders.strip and the sidecar's own header names
  ['X-Tenant-Id', 'other-tenant'],
  ['X-Auth-User', 'mallory'],
  ['X-Auth-Groups', 'admin'],
  // CGI-style spellings of the same names
  ['Remote_User', 'mallory'],
  ['X_Forwarded_User', 'mallory'],
  ['x-webauth_user', 'mallory'],
]

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-identity-')
  cleanup = t.cleanup
  const auth = { scheme: 'basic', realm: 'Office', provider: 'allow' }
  gw = await startGateway(
    {
      providers: { allow: { type: 'module', module: ALLOW } },
      groups: { app: { app: RAW_HEADERS_APP, cwd: APPS, processes: 1 } },
      identityHeaders: { strip: ['X-Tenant-Id'] },
      sidecar: { path: '/auth', headers: { user: ['X-Auth-User', 'X-Remote-User'], groups: 'X-Auth-Groups' } },
      routes: [
        { path: '/public', upstream: upstream.url },
        { path: '/private', upstream: upstream.url, auth },
        { path: '/app', group: 'app', auth },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})

function names(rawHeaders: readonly string[]): string[] {
  return rawHeaders.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase())
}

/** The field names past the ones undici writes itself ahead of the rest (Host, Connection). */
function forwarded(rawHeaders: readonly string[]): string[] {
  return names(rawHeaders).filter((n) => n !== 'host' && n !== 'connection')
}

function assertNoLookAlike(received: readonly string[], except: readonly string[] = []): void {
  const got = new Set(names(received))
  const leaked = LOOK_ALIKES.map(([n]) => n.toLowerCase()).filter((n) => got.has(n) && !except.includes(n))
  assert.deepEqual(leaked, [])
}

const fields = (extra: Array<[string, string]>): Array<[string, string]> => [
  ['Host', `127.0.0.1:${gw.port}`],
  ...LOOK_ALIKES,
  ['X-Keep', 'kept'],
  ...extra,
  ['Connection', 'close'],
]

describe('identity look-alikes from the client', () => {
  test('are removed on a public route, where the app sees no identity at all', async () => {
    const before = upstream.seen.length
    const r = await rawRequest(gw.port, 'GET', '/public/page', fields([]))
    assert.equal(r.status, 200)
    const seen = upstream.seen[before] as Seen
    assertNoLookAlike(seen.rawHeaders)
    assert.equal(seen.headers['x-keep'], 'kept')
    assert.equal(seen.headers['x-remote-user'], undefined)
  })

  test("are removed on an authenticated upstream route; the front's identity is the only one and comes before every field the client sent", async () => {
    const before = upstream.seen.length
    const r = await rawRequest(gw.port, 'GET', '/private/page', fields([['Authorization', basic('alice', 'pw')]]))
    assert.equal(r.status, 200)
    const seen = upstream.seen[before] as Seen
    assertNoLookAlike(seen.rawHeaders, ['x-remote-user', 'x-remote-groups'])
    assert.deepEqual(forwarded(seen.rawHeaders).slice(0, 2), ['x-remote-user', 'x-remote-groups'])
    assert.equal(seen.headers['x-remote-user'], 'alice')
    assert.equal(seen.headers['x-remote-groups'], 'staff,allow')
    assert.equal(names(seen.rawHeaders).filter((n) => n === 'x-remote-user').length, 1)
    assert.equal(seen.headers['x-keep'], 'kept')
  })

  test('a field named with digits alone does not get ahead of the identity (it is dropped)', async () => {
    const before = upstream.seen.length
    const r = await rawRequest(
      gw.port,
      'GET',
      '/private/page',
      fields([
        ['1', 'one'],
        ['42', 'x'],
        ['Authorization', basic('alice', 'pw')],
      ]),
    )
    assert.equal(r.status, 200)
    const seen = upstream.seen[before] as Seen
    assert.equal(forwarded(seen.rawHeaders)[0], 'x-remote-user')
    assert.equal(seen.headers['1'], undefined)
    assert.equal(seen.headers['42'], undefined)
  })

  test('are removed on the way to a daemon group, whose app gets the identity as its first fields', async () => {
    const r = await rawRequest(
      gw.port,
      'GET',
      '/app/page',
      fields([
        ['1', 'one'],
        ['Authorization', basic('alice', 'pw')],
      ]),
    )
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body) as { rawHeaders: string[]; headers: Record<string, string> }
    assertNoLookAlike(seen.rawHeaders, ['x-remote-user', 'x-remote-groups'])
    assert.deepEqual(seen.rawHeaders.slice(0, 4), ['x-remote-user', 'alice', 'x-remote-groups', 'staff,allow'])
    assert.equal(seen.headers['x-keep'], 'kept')
    assert.equal(seen.headers['1'], undefined)
  })
})
