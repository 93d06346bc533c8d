/**
 * The front's refusals through a real gateway, as a browser and as an API client sees them:
 * with Accept naming text/html, 400, 401, 403, 404, 429, 500, 502 and 503 come as a small HTML page
 * with the same status and the same challenge, Retry-After and Cache-Control as the plain
 * answer, and the page tells nothing of the reason, the user, the provider or the upstream;
 * with Accept: *∕* or none the body is today's plain text, byte for byte. The upstream never
 * sees a refused request.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { request } from 'node:http'
import { createServer, type AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { rawRequest } from '../helpers/raw-request.js'
import { wantsHtml } from '../../src/error-page.js'

const BROWSER_ACCEPT = 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8'
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/providers/${name}.ts`, import.meta.url))
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
const sha = (password: string) => `{SHA}${createHash('sha1').update(password).digest('base64')}`

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

/** One request on a fresh connection from `from` (a loopback address, so lockouts stay apart). */
function get(
  port: number,
  path: string,
  opts: { accept?: string; authorization?: string; from?: string } = {},
): Promise<Res> {
  const headers: Record<string, string> = {}
  if (opts.accept !== undefined) headers.accept = opts.accept
  if (opts.authorization !== undefined) headers.authorization = opts.authorization
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path, headers, localAddress: opts.from ?? '127.0.0.1', agent: false },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      },
    )
    req.on('error', reject)
    req.end()
  })
}

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer()
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  const port = (s.address() as AddressInfo).port
  await new Promise<void>((r) => s.close(() => r()))
  return port
}

let gw: TestGateway
let echo: EchoUpstream
let dead: number
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-error-pages-')
  cleanup = t.cleanup
  writeFile(t.dir, 'users.htpasswd', `alice:${sha('wonderland')}\nbob:${sha('builder')}\n`)
  echo = await startEchoUpstream()
  dead = await deadPort()
  gw = await startGateway(
    {
      throttle: { delay: 0, perAddress: { maxFailures: 2, lockout: '2m' }, perUser: false },
      sidecar: { path: '/auth' },
      trustedProxies: ['127.0.0.1'],
      providers: {
        ledger: { type: 'htpasswd', file: './users.htpasswd' },
        vault: { type: 'module', module: fixture('throws'), threads: 1 },
        stalls: { type: 'module', module: fixture('hangs'), timeout: '300ms', threads: 1 },
      },
      routes: [
        { path: '/private', upstream: echo.url, auth: { scheme: 'basic', realm: 'Office', provider: 'ledger' } },
        {
          path: '/staff',
          upstream: echo.url,
          auth: { scheme: 'basic', realm: 'Office', provider: 'ledger', require: { users: ['alice'] } },
        },
        {
          path: '/broken',
          upstream: echo.url,
          auth: { scheme: 'basic', realm: 'Office', provider: 'vault', cache: false, throttle: false },
        },
        {
          path: '/slow',
          upstream: echo.url,
          auth: { scheme: 'basic', realm: 'Office', provider: 'stalls', cache: false, throttle: false },
        },
        { path: '/gone', upstream: `http://127.0.0.1:${dead}` },
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

/** Words that would tell a visitor about the inside: users, providers, upstreams, reasons, code. */
function assertNoInternals(body: string): void {
  const words = [
    'alice',
    'bob',
    'ledger',
    'vault',
    'stalls',
    'timeout',
    'htpasswd',
    'database',
    'down',
    'Office',
    'upstream',
    String(dead),
  ]
  for (const word of [
    ...words,
    'GH_ERR',
    'Error:',
    '    at ',
    'gatehouse',
    'RFC',
    'unknown',
    'password was wrong',
    '<script',
  ]) {
    assert.ok(!body.includes(word), `the page says ${JSON.stringify(word)}:\n${body}`)
  }
}

function assertPage(res: Res, status: number, title: string): void {
  assert.equal(res.status, status)
  assert.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  assert.equal(res.headers.vary, 'accept')
  assert.equal(res.headers['x-content-type-options'], 'nosniff')
  assert.match(String(res.headers['content-security-policy']), /^default-src 'none'; style-src 'unsafe-inline'/)
  assert.match(res.body, /^<!doctype html>\n<html lang="en">/)
  assert.ok(res.body.includes(`<title>${title}</title>`), res.body)
  assert.ok(res.body.includes(`<h1>${title}</h1>`), res.body)
  assertNoInternals(res.body)
}

function assertPlain(res: Res, status: number, body: string): void {
  assert.equal(res.status, status)
  assert.equal(res.headers['content-type'], 'text/plain; charset=utf-8')
  assert.equal(res.body, body)
  assert.equal(res.headers['content-security-policy'], undefined)
}

const CHALLENGE = 'Basic realm="Office", charset="UTF-8"'

describe('refusals as a page for browsers and as plain text for API clients', () => {
  test('401: the browser gets a sign-in page with the same challenge and no-store; API clients get "Unauthorized"', async () => {
    const seen = echo.seen.length
    const page = await get(gw.port, '/private', { accept: BROWSER_ACCEPT })
    assertPage(page, 401, 'Sign-in required')
    assert.equal(page.headers['www-authenticate'], CHALLENGE)
    assert.equal(page.headers['cache-control'], 'no-store')
    // A wrong password for a user who exists and a user who does not: the same page, word for word.
    const known = await get(gw.port, '/private', {
      accept: BROWSER_ACCEPT,
      authorization: basic('alice', 'nope'),
      from: '127.0.0.21',
    })
    const unknown = await get(gw.port, '/private', {
      accept: BROWSER_ACCEPT,
      authorization: basic('nobody', 'nope'),
      from: '127.0.0.22',
    })
    assertPage(known, 401, 'Sign-in required')
    assert.equal(unknown.body, known.body)
    assert.equal(known.body, page.body)
    for (const accept of ['*/*', undefined, 'application/json', 'text/html;q=0, */*']) {
      const plain = await get(gw.port, '/private', { accept })
      assertPlain(plain, 401, 'Unauthorized\n')
      assert.equal(plain.headers['www-authenticate'], CHALLENGE)
      assert.equal(plain.headers['cache-control'], 'no-store')
    }
    assert.equal(echo.seen.length, seen, 'the upstream saw a refused request')
  })

  test('403: a signed-in user the route does not admit gets an access-denied page; API clients get "Forbidden"', async () => {
    const seen = echo.seen.length
    assertPage(
      await get(gw.port, '/staff', { accept: BROWSER_ACCEPT, authorization: basic('bob', 'builder') }),
      403,
      'Access denied',
    )
    assertPlain(
      await get(gw.port, '/staff', { accept: '*/*', authorization: basic('bob', 'builder') }),
      403,
      'Forbidden\n',
    )
    assertPlain(await get(gw.port, '/staff', { authorization: basic('bob', 'builder') }), 403, 'Forbidden\n')
    assert.equal(echo.seen.length, seen, 'the upstream saw a refused request')
    assert.equal(
      (await get(gw.port, '/staff', { accept: BROWSER_ACCEPT, authorization: basic('alice', 'wonderland') })).status,
      200,
    )
  })

  test('429: a locked-out address gets a page that says when to try again, with the same Retry-After; API clients get "Too Many Requests"', async () => {
    const from = '127.0.0.31'
    for (let i = 0; i < 2; i++)
      assert.equal((await get(gw.port, '/private', { authorization: basic('alice', 'wrong'), from })).status, 401)
    const seen = echo.seen.length
    const page = await get(gw.port, '/private', {
      accept: BROWSER_ACCEPT,
      authorization: basic('alice', 'wonderland'),
      from,
    })
    assertPage(page, 429, 'Too many attempts')
    const retryAfter = Number(page.headers['retry-after'])
    assert.ok(retryAfter > 90 && retryAfter <= 120, `retry-after ${page.headers['retry-after']}`)
    assert.equal(page.headers['cache-control'], 'no-store')
    assert.equal(page.headers['www-authenticate'], undefined)
    assert.ok(page.body.includes('<p>You can try again in about 2 minutes.</p>'), page.body)
    for (const accept of ['*/*', undefined]) {
      const plain = await get(gw.port, '/private', { accept, authorization: basic('alice', 'wonderland'), from })
      assertPlain(plain, 429, 'Too Many Requests\n')
      assert.match(String(plain.headers['retry-after']), /^\d+$/)
      assert.equal(plain.headers['cache-control'], 'no-store')
    }
    assert.equal(echo.seen.length, seen, 'the upstream saw a refused request')
  })

  test('500 from a failing provider: a page that names neither the provider nor its error; API clients get "Internal Server Error"', async () => {
    const seen = echo.seen.length
    const page = await get(gw.port, '/broken', { accept: BROWSER_ACCEPT, authorization: basic('alice', 'wonderland') })
    assertPage(page, 500, 'Something went wrong')
    assert.equal(page.headers['retry-after'], undefined)
    assertPlain(
      await get(gw.port, '/broken', { accept: '*/*', authorization: basic('alice', 'wonderland') }),
      500,
      'Internal Server Error\n',
    )
    assertPlain(
      await get(gw.port, '/broken', { authorization: basic('alice', 'wonderland') }),
      500,
      'Internal Server Error\n',
    )
    assert.equal(echo.seen.length, seen, 'the upstream saw a refused request')
  })

  test('503 from a provider that does not answer in time: a page with the same Retry-After; API clients get "Service Unavailable"', async () => {
    const seen = echo.seen.length
    const page = await get(gw.port, '/slow', { accept: BROWSER_ACCEPT, authorization: basic('alice', 'wonderland') })
    assertPage(page, 503, 'Temporarily unavailable')
    assert.equal(page.headers['retry-after'], '5')
    assert.ok(page.body.includes('<p>You can try again in about 5 seconds.</p>'), page.body)
    const plain = await get(gw.port, '/slow', { accept: '*/*', authorization: basic('alice', 'wonderland') })
    assertPlain(plain, 503, 'Service Unavailable\n')
    assert.equal(plain.headers['retry-after'], '5')
    assert.equal(echo.seen.length, seen, 'the upstream saw a refused request')
  })

  test('502 from an unreachable upstream: a temporarily-unavailable page without its address; API clients get "Bad Gateway"', async () => {
    assertPage(await get(gw.port, '/gone/x', { accept: BROWSER_ACCEPT }), 502, 'Temporarily unavailable')
    assertPlain(await get(gw.port, '/gone/x', { accept: '*/*' }), 502, 'Bad Gateway\n')
    assertPlain(await get(gw.port, '/gone/x'), 502, 'Bad Gateway\n')
  })

  test('404 outside every route: a not-found page; API clients get "Not Found"', async () => {
    assertPage(await get(gw.port, '/nowhere', { accept: BROWSER_ACCEPT }), 404, 'Page not found')
    assertPlain(await get(gw.port, '/nowhere', { accept: '*/*' }), 404, 'Not Found\n')
    assertPlain(await get(gw.port, '/nowhere'), 404, 'Not Found\n')
  })

  test('400 for a refused request target: a bad-request page without the reason; API clients get the reason as today', async () => {
    const seen = echo.seen.length
    const page = await rawRequest(gw.port, 'GET', '/private#<b>x</b>', [
      ['Host', 'localhost'],
      ['Accept', BROWSER_ACCEPT],
      ['Connection', 'close'],
    ])
    assert.equal(page.status, 400)
    assert.deepEqual(page.headers['content-type'], ['text/html; charset=utf-8'])
    assert.ok(page.body.includes('<h1>Bad request</h1>'), page.body)
    assert.ok(!page.body.includes('<b>') && !page.body.includes('x</b>'), page.body)
    assertNoInternals(page.body)
    for (const fields of [[['Accept', '*/*']], []] as Array<Array<[string, string]>>) {
      const plain = await rawRequest(gw.port, 'GET', '/private#<b>x</b>', [
        ['Host', 'localhost'],
        ...fields,
        ['Connection', 'close'],
      ])
      assert.equal(plain.status, 400)
      assert.deepEqual(plain.headers['content-type'], ['text/plain; charset=utf-8'])
      assert.equal(plain.body, PLAIN_400)
    }
    assert.equal(echo.seen.length, seen, 'the upstream saw a refused request')
  })
})

// rawRequest reads bytes as latin1: the UTF-8 § of the reason arrives as two characters.
describe('the forward-auth endpoint words its refusals the same way (Traefik and Caddy pass the body on)', () => {
  const ask = (uri: string, opts: { accept?: string; authorization?: string }) =>
    new Promise<Res>((resolve, reject) => {
      const headers: Record<string, string> = { 'x-original-uri': uri }
      if (opts.accept !== undefined) headers.accept = opts.accept
      if (opts.authorization !== undefined) headers.authorization = opts.authorization
      const req = request({ host: '127.0.0.1', port: gw.port, path: '/auth', headers, agent: false }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (c: string) => {
          body += c
        })
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
      })
      req.on('error', reject)
      req.end()
    })

  test('401 and 403 from the sidecar: the page for a browser with the same challenge, the plain text otherwise, no identity given out', async () => {
    const page = await ask('/private/x', { accept: BROWSER_ACCEPT })
    assertPage(page, 401, 'Sign-in required')
    assert.equal(page.headers['www-authenticate'], CHALLENGE)
    const plain = await ask('/private/x', {})
    assertPlain(plain, 401, 'Unauthorized\n')
    assert.equal(plain.headers['www-authenticate'], CHALLENGE)
    const denied = await ask('/staff', { accept: BROWSER_ACCEPT, authorization: basic('bob', 'builder') })
    assertPage(denied, 403, 'Access denied')
    assert.equal(denied.headers['x-remote-user'], undefined)
    assertPlain(await ask('/staff', { accept: '*/*', authorization: basic('bob', 'builder') }), 403, 'Forbidden\n')
  })
})

const PLAIN_400 = Buffer.from('Bad Request: a request target never contains # (RFC 9112 §3.2)\n', 'utf8').toString(
  'latin1',
)

test('Accept asks for HTML only when text/html or XHTML is named with a quality above zero', () => {
  assert.equal(wantsHtml(BROWSER_ACCEPT), true)
  assert.equal(wantsHtml('TEXT/HTML'), true)
  assert.equal(wantsHtml('application/xhtml+xml'), true)
  assert.equal(wantsHtml('text/html;q=0.1'), true)
  assert.equal(wantsHtml(['application/json', 'text/html']), true)
  assert.equal(wantsHtml(undefined), false)
  assert.equal(wantsHtml('*/*'), false)
  assert.equal(wantsHtml('text/*'), false)
  assert.equal(wantsHtml('application/json'), false)
  assert.equal(wantsHtml('text/html;q=0'), false)
  assert.equal(wantsHtml('text/html; q=0.0, */*'), false)
  assert.equal(wantsHtml('text/htmlx'), false)
})
