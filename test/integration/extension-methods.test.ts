/**
 * WebDAV/CalDAV methods (PROPFIND, MKCALENDAR, ...) end to end on loopback: a real gateway routes
 * them like GET or POST, to an upstream and to a daemon group, and the sidecar answers them too
 * (Envoy's check request keeps the original method). Before, Fastify's router answered 404.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { request } from 'undici'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { APPS, MULTI_APP } from '../fixtures/apps/harness.js'
import { EXTENSION_METHODS } from '../../src/server.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const PROPFIND_BODY =
  '<?xml version="1.0" encoding="utf-8"?>\n<D:propfind xmlns:D="DAV:"><D:prop><D:getetag/><D:displayname/></D:prop></D:propfind>\n'

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-methods-')
  cleanup = t.cleanup
  writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('wonder', 4)}\n`)
  const auth = { scheme: 'basic', realm: 'Files', provider: 'office' }
  gw = await startGateway(
    {
      providers: { office: { type: 'htpasswd', file: './users.htpasswd' } },
      groups: { app: { app: MULTI_APP, cwd: APPS, processes: 1 } },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      routes: [
        { path: '/dav', upstream: upstream.url, auth },
        { path: '/public', upstream: upstream.url },
        // multi.ts answers /headers with the method it saw and /echo with the body it got.
        { path: '/headers', group: 'app', auth },
        { path: '/echo', group: 'app', auth },
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

async function send(path: string, method: string, headers: Record<string, string> = {}, body?: string) {
  const res = await request(`${gw.url}${path}`, { method, headers, ...(body !== undefined ? { body } : {}) })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

const xml = { 'content-type': 'application/xml; charset=utf-8', depth: '1' }

describe('upstream routes', () => {
  test('an authenticated PROPFIND with an XML body reaches the upstream with its method, body and identity', async () => {
    const before = upstream.seen.length
    const r = await send(
      '/dav/calendars/alice/',
      'PROPFIND',
      { ...xml, authorization: basic('alice', 'wonder') },
      PROPFIND_BODY,
    )
    assert.equal(r.status, 200)
    assert.equal(upstream.seen.length, before + 1)
    const seen = JSON.parse(r.text)
    assert.equal(seen.method, 'PROPFIND')
    assert.equal(seen.url, '/dav/calendars/alice/')
    assert.equal(seen.bodyBytes, Buffer.byteLength(PROPFIND_BODY))
    assert.equal(seen.bodySha256, sha256(PROPFIND_BODY))
    assert.equal(seen.headers.depth, '1')
    assert.equal(seen.headers['x-remote-user'], 'alice')
  })

  test('an unauthenticated PROPFIND gets 401 with the Basic challenge and never reaches the upstream', async () => {
    const before = upstream.seen.length
    const r = await send('/dav/calendars/alice/', 'PROPFIND', xml, PROPFIND_BODY)
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Files", charset="UTF-8"')
    assert.equal(upstream.seen.length, before)
  })

  test('a PROPFIND with wrong credentials gets 401 too', async () => {
    const r = await send('/dav/x', 'PROPFIND', { ...xml, authorization: basic('alice', 'nope') }, PROPFIND_BODY)
    assert.equal(r.status, 401)
  })

  test('every WebDAV, DeltaV and CalDAV method the front registers reaches a public upstream unchanged', async () => {
    for (const method of EXTENSION_METHODS) {
      const r = await send('/public/res', method, { 'content-type': 'text/plain' }, `body of ${method}`)
      assert.equal(r.status, 200, method)
      const seen = JSON.parse(r.text)
      assert.equal(seen.method, method)
      assert.equal(seen.bodySha256, sha256(`body of ${method}`), method)
    }
  })

  test('a body-less MKCOL and MOVE pass with their WebDAV headers', async () => {
    const mkcol = JSON.parse((await send('/dav/new/', 'MKCOL', { authorization: basic('alice', 'wonder') })).text)
    assert.equal(mkcol.method, 'MKCOL')
    assert.equal(mkcol.bodyBytes, 0)
    const move = JSON.parse(
      (
        await send('/dav/a.txt', 'MOVE', {
          authorization: basic('alice', 'wonder'),
          destination: '/dav/b.txt',
          overwrite: 'F',
        })
      ).text,
    )
    assert.equal(move.method, 'MOVE')
    assert.equal(move.headers.destination, '/dav/b.txt')
    assert.equal(move.headers.overwrite, 'F')
  })

  test('TRACE is never forwarded (it would echo credentials back: cross-site tracing)', async () => {
    const before = upstream.seen.length
    const r = await send('/public/x', 'TRACE', { cookie: 'session=secret' })
    assert.equal(r.status, 404)
    assert.ok(!r.text.includes('session=secret'))
    assert.equal(upstream.seen.length, before, 'the upstream saw no TRACE')
  })

  test('a path outside every route still gets 404 for PROPFIND', async () => {
    const r = await send('/nowhere', 'PROPFIND', xml, PROPFIND_BODY)
    assert.equal(r.status, 404)
  })
})

describe('group routes', () => {
  test('an authenticated PROPFIND reaches the group app with its method and body', async () => {
    const seen = await send('/headers', 'PROPFIND', { ...xml, authorization: basic('alice', 'wonder') })
    assert.equal(seen.status, 200)
    assert.equal(JSON.parse(seen.text).method, 'PROPFIND')
    const echo = await send('/echo', 'REPORT', { ...xml, authorization: basic('alice', 'wonder') }, PROPFIND_BODY)
    assert.equal(echo.status, 200)
    assert.equal(echo.text, PROPFIND_BODY)
  })

  test('an unauthenticated PROPFIND to a group route gets 401 with the challenge', async () => {
    const r = await send('/headers', 'PROPFIND', xml, PROPFIND_BODY)
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Files", charset="UTF-8"')
  })
})

describe('sidecar', () => {
  test("Envoy's PROPFIND check request (path prefix) is answered: 401 without credentials, 200 with them", async () => {
    const anon = await send('/auth/dav/x', 'PROPFIND')
    assert.equal(anon.status, 401)
    assert.equal(anon.headers['www-authenticate'], 'Basic realm="Files", charset="UTF-8"')
    const ok = await send('/auth/dav/x', 'PROPFIND', { authorization: basic('alice', 'wonder') })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['x-remote-user'], 'alice')
  })

  test("nginx's X-Original-Method: MKCALENDAR is accepted as the original method", async () => {
    const r = await send('/auth', 'GET', {
      'x-original-uri': '/dav/cal/',
      'x-original-method': 'MKCALENDAR',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], 'alice')
  })
})
