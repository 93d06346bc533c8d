/**
 * limits.maxHeaderFields on a real gateway: a head with more fields than the limit gets 431
 * (front routes, the sidecar, unrouted paths) and never reaches the target; up to the limit the
 * request passes with the identity among the first fields the target reads. Node drops fields
 * past its maxHeadersCount unseen, so heads far over that count are refused too, never cut.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream, type Seen } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { padding, rawRequest, type RawResponse } from '../helpers/raw-request.js'

const ALLOW = fileURLToPath(new URL('../fixtures/providers/allow.ts', import.meta.url))
const RAW_HEADERS_APP = fileURLToPath(new URL('../fixtures/apps/raw-headers.ts', import.meta.url))
const APPS = fileURLToPath(new URL('../fixtures/apps/', import.meta.url))
const AUTHORIZATION: [string, string] = ['Authorization', `Basic ${Buffer.from('alice:pw').toString('base64')}`]

let upstream: EchoUpstream
let byDefault: TestGateway
let wide: TestGateway
let cleanup: () => void

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-fields-')
  cleanup = t.cleanup
  const auth = { scheme: 'basic', realm: 'Office', provider: 'allow' }
  const common = {
    providers: { allow: { type: 'module', module: ALLOW } },
    trustedProxies: ['127.0.0.1'],
    sidecar: { path: '/auth' },
  }
  // maxHeaderSize large enough that only the number of fields can refuse these heads.
  byDefault = await startGateway(
    {
      ...common,
      limits: { maxHeaderSize: 1048576 },
      routes: [{ path: '/private', upstream: upstream.url, auth }],
    },
    t.dir,
  )
  wide = await startGateway(
    {
      ...common,
      groups: { app: { app: RAW_HEADERS_APP, cwd: APPS, processes: 1 } },
      limits: { maxHeaderSize: 1048576, maxHeaderFields: 1000 },
      routes: [
        { path: '/private', upstream: upstream.url, auth },
        { path: '/app', group: 'app', auth },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await byDefault?.close()
  await wide?.close()
  await upstream?.close()
  cleanup?.()
})

/** A GET with exactly `total` header fields: Host, Connection, Authorization and padding. */
function get(
  gw: TestGateway,
  target: string,
  total: number,
  extra: Array<[string, string]> = [AUTHORIZATION],
): Promise<RawResponse> {
  const own: Array<[string, string]> = [['Host', `127.0.0.1:${gw.port}`], ['Connection', 'close'], ...extra]
  return rawRequest(gw.port, 'GET', target, [...own, ...padding(total - own.length)])
}

function assertRefused(r: RawResponse): void {
  assert.equal(r.status, 431)
  assert.deepEqual(r.headers.connection, ['close'])
  assert.equal(r.body, 'Request Header Fields Too Large\n')
}

const forwardedNames = (seen: Seen) =>
  seen.rawHeaders
    .filter((_, i) => i % 2 === 0)
    .map((n) => n.toLowerCase())
    .filter((n) => n !== 'host' && n !== 'connection')

describe('limits.maxHeaderFields (default 100)', () => {
  test('a head of exactly 100 fields passes to the upstream with the identity', async () => {
    const before = upstream.seen.length
    const r = await get(byDefault, '/private/x', 100)
    assert.equal(r.status, 200)
    assert.equal(upstream.seen.length, before + 1)
    assert.equal(upstream.seen[before]!.headers['x-remote-user'], 'alice')
  })

  test('a head of 101 fields gets 431 and the upstream never sees it', async () => {
    const before = upstream.seen.length
    assertRefused(await get(byDefault, '/private/x', 101))
    assert.equal(upstream.seen.length, before)
  })

  test('2100 small padding fields with valid credentials get 431, not an app without the identity', async () => {
    const before = upstream.seen.length
    assertRefused(await get(byDefault, '/private/x', 2103))
    assert.equal(upstream.seen.length, before)
  })

  test('the sidecar answers 431 to a sub-request over the limit', async () => {
    assertRefused(
      await get(byDefault, '/auth', 101, [
        ['X-Forwarded-Uri', '/private/x'],
        ['X-Forwarded-Method', 'GET'],
        AUTHORIZATION,
      ]),
    )
    const ok = await get(byDefault, '/auth', 100, [
      ['X-Forwarded-Uri', '/private/x'],
      ['X-Forwarded-Method', 'GET'],
      AUTHORIZATION,
    ])
    assert.equal(ok.status, 200)
    assert.deepEqual(ok.headers['x-remote-user'], ['alice'])
  })

  test('a path no route serves gets 431 too', async () => {
    assertRefused(await get(byDefault, '/nowhere', 101, []))
  })
})

describe('limits.maxHeaderFields: 1000', () => {
  test('999 fields reach the upstream, the identity ahead of every client field', async () => {
    const before = upstream.seen.length
    const r = await get(wide, '/private/x', 999)
    assert.equal(r.status, 200)
    const seen = upstream.seen[before]!
    assert.deepEqual(forwardedNames(seen).slice(0, 2), ['x-remote-user', 'x-remote-groups'])
    assert.equal(seen.headers['x-remote-user'], 'alice')
    assert.equal(seen.headers.p995, 'x')
  })

  test("999 fields reach a daemon group's app, the identity first", async () => {
    const r = await get(wide, '/app/x', 999)
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body) as { rawHeaders: string[] }
    assert.deepEqual(seen.rawHeaders.slice(0, 4), ['x-remote-user', 'alice', 'x-remote-groups', 'staff,allow'])
  })

  test('1001 fields get 431', async () => {
    const before = upstream.seen.length
    assertRefused(await get(wide, '/private/x', 1001))
    assert.equal(upstream.seen.length, before)
  })

  test('2100 fields, past what Node would keep by default, are counted and refused, not cut to fit', async () => {
    const before = upstream.seen.length
    assertRefused(await get(wide, '/private/x', 2100))
    assertRefused(await get(wide, '/app/x', 2100))
    assert.equal(upstream.seen.length, before)
  })
})
