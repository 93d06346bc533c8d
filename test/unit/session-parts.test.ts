/** The pure parts of form login: return paths, cookies, session ids and sealing, CSRF tokens, the store, no-store. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { createServer, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { RouteTable } from '../../src/proxy/path-rule.js'
import { safeReturnPath } from '../../src/session/return-to.js'
import { cookieValue, setCookie, withoutCookies } from '../../src/session/cookies.js'
import { isSessionId, newSessionId, openCredential, sealCredential, storeKey } from '../../src/session/session-token.js'
import { CsrfTokens } from '../../src/session/csrf.js'
import { MemorySessionStore, type SessionRecord } from '../../src/session/session-store.js'
import { forceNoStore } from '../../src/session/no-store.js'
import { LoginPage } from '../../src/session/login-page.js'

describe('safeReturnPath(value, table)', () => {
  const routes = [{ path: '/app' }, { path: '/api' }]
  const table = new RouteTable(routes)
  const onApp = (r: { path: string }) => r.path === '/app'
  const refused = [
    '//evil.example',
    '/\\evil.example',
    '\\evil.example',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    '/app/%2Fx',
    '/app/%5Cx',
    'https://evil.example/app',
    'HTTPS://evil.example',
    '//evil.example/app',
    '/app/\nx',
    '/app/\u0000',
    '/app/ x',
    '/app/../api',
    '/app/%2e%2e/api',
    '/app//x',
    '/api/x',
    '/other',
    '',
    'app',
    undefined,
    null,
    `/app/${'a'.repeat(3000)}`,
    '/app/é',
    '/app#x',
  ]
  for (const v of refused) {
    test(`refuses ${JSON.stringify(v)}`, () => assert.equal(safeReturnPath(v, table, onApp), undefined))
  }
  for (const v of ['/app', '/app/', '/app/page?x=1&y=%2F', '/app/a%20b']) {
    test(`accepts ${JSON.stringify(v)}`, () => assert.equal(safeReturnPath(v, table, onApp), v))
  }
})

describe('cookies', () => {
  test('cookieValue finds the named cookie among others, and only an exact name', () => {
    assert.equal(cookieValue('a=1; gatehouse_session=abc; b=2', 'gatehouse_session'), 'abc')
    assert.equal(cookieValue('xgatehouse_session=abc', 'gatehouse_session'), undefined)
    assert.equal(cookieValue(undefined, 'a'), undefined)
    assert.equal(cookieValue('a="q"', 'a'), 'q')
  })
  test('setCookie writes HttpOnly, SameSite, and Secure and Domain only when asked', () => {
    assert.equal(
      setCookie('s', 'v', { path: '/', secure: false, sameSite: 'Lax' }),
      's=v; Path=/; HttpOnly; SameSite=Lax',
    )
    assert.equal(
      setCookie('s', '', { path: '/x', secure: true, sameSite: 'Strict', domain: 'example.org', maxAge: 0 }),
      's=; Path=/x; HttpOnly; SameSite=Strict; Secure; Domain=example.org; Max-Age=0',
    )
  })
  test('withoutCookies removes the named cookies and keeps the rest in order', () => {
    const names = new Set(['s', 's_login'])
    assert.equal(withoutCookies('a=1; s=2; b=3; s_login=4', names), 'a=1; b=3')
    assert.equal(withoutCookies('s=2', names), undefined)
  })
})

describe('session ids', () => {
  test('are 256 random bits in base64url, and the store key is their SHA-256, not the id', () => {
    const id = newSessionId()
    assert.ok(isSessionId(id))
    assert.equal(Buffer.from(id, 'base64url').length, 32)
    assert.notEqual(newSessionId(), id)
    const expected = createHash('sha256').update(`gatehouse session\0${id}`).digest('base64url')
    assert.equal(storeKey(id), expected)
    assert.ok(!storeKey(id).includes(id))
  })
  test('sealed credentials open with their own id only, and an altered seal opens to nothing', () => {
    const id = newSessionId()
    const sealed = sealCredential(id, 'alice', 'p:w é')
    assert.ok(!Buffer.from(sealed, 'base64url').toString('latin1').includes('alice'))
    assert.deepEqual(openCredential(id, sealed), { user: 'alice', password: 'p:w é' })
    assert.equal(openCredential(newSessionId(), sealed), undefined)
    const bytes = Buffer.from(sealed, 'base64url')
    bytes[bytes.length - 1]! ^= 1
    assert.equal(openCredential(id, bytes.toString('base64url')), undefined)
  })
})

describe('CsrfTokens', () => {
  test('a token is HMAC(secret, purpose, bound value), checked for that purpose and value only', () => {
    const csrf = new CsrfTokens('0123456789abcdef')
    const pre = CsrfTokens.preSession()
    const token = csrf.token('login', pre)
    assert.equal(
      token,
      createHmac('sha256', '0123456789abcdef').update(`gatehouse csrf\0login\0${pre}`).digest('base64url'),
    )
    assert.equal(csrf.check('login', pre, token), true)
    assert.equal(csrf.check('logout', pre, token), false)
    assert.equal(csrf.check('login', CsrfTokens.preSession(), token), false)
    assert.equal(csrf.check('login', undefined, token), false)
    assert.equal(csrf.check('login', pre, undefined), false)
    assert.equal(new CsrfTokens('another-secret-0000').check('login', pre, token), false)
  })
})

describe('MemorySessionStore', () => {
  const record = (key: string, user: string, now: number, idleMs = 1000, lifeMs = 5000): SessionRecord => ({
    key,
    user,
    groups: [],
    provider: 'p',
    scope: 's',
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + lifeMs,
    idleMs,
    checkedAt: now,
    credential: '',
  })
  test('get restarts the idle clock; a record idle too long or past its lifetime is gone', async () => {
    const store = new MemorySessionStore()
    await store.create(record('a', 'alice', 0))
    assert.ok(await store.get('a', 900))
    assert.ok(await store.get('a', 1800), 'used at 900: alive at 1800')
    assert.equal(await store.get('a', 2800), undefined, 'idle for 1000')
    assert.equal(await store.get('a', 1000), undefined, 'deleted once seen expired')
    await store.create(record('b', 'alice', 0))
    for (let t = 500; t < 5000; t += 500) assert.ok(await store.get('b', t))
    assert.equal(await store.get('b', 5000), undefined, 'past its lifetime though in use')
  })
  test("deleteByUser ends that user's sessions only; rotate replaces one record by another", async () => {
    const store = new MemorySessionStore()
    await store.create(record('a1', 'alice', 0))
    await store.create(record('a2', 'alice', 0))
    await store.create(record('b1', 'bob', 0))
    assert.equal(await store.deleteByUser('alice'), 2)
    assert.equal(await store.get('a1', 1), undefined)
    assert.ok(await store.get('b1', 1))
    await store.rotate('b1', record('b2', 'bob', 1))
    assert.equal(await store.get('b1', 2), undefined)
    assert.ok(await store.get('b2', 2))
    assert.equal(await store.delete('b2'), true)
    assert.equal(await store.delete('b2'), false)
  })
  test('holds at most maxEntries, dropping the least recently used', async () => {
    const store = new MemorySessionStore({ maxEntries: 2 })
    await store.create(record('a', 'u', 0))
    await store.create(record('b', 'u', 0))
    await store.get('a', 1)
    await store.create(record('c', 'u', 1))
    assert.equal(store.size, 2)
    assert.equal(await store.get('b', 2), undefined)
    assert.ok(await store.get('a', 2))
  })
})

describe('forceNoStore', () => {
  for (const [name, write] of [
    [
      'object headers',
      (res: import('node:http').ServerResponse) =>
        res.writeHead(200, { 'Cache-Control': 'public, max-age=60', Expires: 'x', 'x-kept': '1' }),
    ],
    [
      'raw header list',
      (res: import('node:http').ServerResponse) =>
        res.writeHead(200, [
          'cache-control',
          'max-age=60',
          'pragma',
          'cache',
          'x-kept',
          '1',
        ] as unknown as import('node:http').OutgoingHttpHeaders),
    ],
    [
      'setHeader then writeHead',
      (res: import('node:http').ServerResponse) => {
        res.setHeader('cache-control', 'max-age=60')
        res.setHeader('x-kept', '1')
        res.writeHead(200, 'OK')
      },
    ],
  ] as const) {
    test(`replaces the target's caching headers by no-store (${name})`, async (t) => {
      const server = createServer((_req, res) => {
        forceNoStore(res)
        write(res)
        res.end('x')
      })
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
      t.after(() => new Promise<void>((r) => server.close(() => r())))
      const headers = await new Promise<import('node:http').IncomingHttpHeaders>((resolve, reject) => {
        httpRequest({ port: (server.address() as AddressInfo).port, host: '127.0.0.1', agent: false }, (res) => {
          res.resume()
          resolve(res.headers)
        })
          .on('error', reject)
          .end()
      })
      assert.equal(headers['cache-control'], 'no-store')
      assert.equal(headers.expires, undefined)
      assert.equal(headers.pragma, undefined)
      assert.equal(headers['x-kept'], '1')
    })
  }
})

describe('LoginPage', () => {
  test('escapes every value and never expands a placeholder inside a value', () => {
    const html = new LoginPage().render({
      action: '/l',
      csrf: 'c',
      returnTo: '/app/"><script>{{csrf}}',
      realm: '<b>',
      error: '',
      logoutAction: '/o',
    })
    assert.ok(html.includes('value="/app/&#34;&#62;&#60;script&#62;{{csrf}}"'))
    assert.ok(html.includes('&#60;b&#62;'))
    assert.ok(!html.includes('<script'))
  })
})
