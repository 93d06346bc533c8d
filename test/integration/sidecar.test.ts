/**
 * The forward-auth endpoint end to end on loopback: a real gateway with `sidecar: { path: /auth }`,
 * real providers in worker threads, sub-requests shaped as nginx, Traefik/Caddy and Envoy send them.
 * A second gateway trusts no proxy at 127.0.0.2 and has no catch-all route.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import bcrypt from 'bcryptjs'
import { request } from 'undici'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { UserStore } from '../../providers/sqlite/store.js'
import { clientResponse } from '../helpers/digest-client.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

let gw: TestGateway
let strict: TestGateway
let cleanup: () => void
let dir: string

before(async () => {
  const t = tempDir('gh-sidecar-')
  dir = t.dir
  cleanup = t.cleanup
  writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('wonder', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`)
  writeFile(t.dir, 'groups', 'staff: alice\n')
  const store = UserStore.open(`${t.dir}/users.sqlite`, { create: true })
  store.addUser('dave', 'dave-pw', { realms: ['Office'] })
  store.addToGroup('dave', 'staff')
  store.close()
  const providers = {
    office: { type: 'htpasswd', file: './users.htpasswd', groupFile: './groups' },
    local: { type: 'sqlite', database: './users.sqlite' },
    broken: { type: 'module', module: new URL('../fixtures/providers/throws.ts', import.meta.url).pathname },
  }
  gw = await startGateway(
    {
      providers,
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      digest: { secret: 'a-sidecar-test-secret-0123456789' },
      routes: [
        { path: '/', upstream: 'http://127.0.0.1:9' },
        { path: '/app', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } },
        {
          path: '/staff',
          auth: { scheme: 'basic', realm: 'Office', provider: 'office', require: { groups: ['staff'] } },
        },
        {
          path: '/digest',
          auth: { scheme: ['digest', 'basic'], realm: 'Office', provider: 'local', qop: ['auth', 'auth-int'] },
        },
        { path: '/broken', auth: { scheme: 'basic', realm: 'Office', provider: 'broken' } },
      ],
    },
    t.dir,
  )
  strict = await startGateway(
    {
      providers: { office: providers.office },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/check', headers: { user: 'Remote-User', groups: ['Remote-Groups'] } },
      routes: [{ path: '/app', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } }],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await strict?.close()
  cleanup?.()
})

async function ask(base: string, path: string, headers: Record<string, string>, method = 'GET') {
  const res = await request(`${base}${path}`, { method, headers })
  await res.body.text()
  return { status: res.statusCode, headers: res.headers }
}

/** From another loopback address, so the peer is not a trusted proxy. */
function askFrom(
  localAddress: string,
  base: string,
  path: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  const u = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path, headers, localAddress, agent: false }, (res) => {
      res.resume()
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('nginx auth_request (X-Original-URI)', () => {
  test('no credentials: 401 with the route challenge, no identity headers', async () => {
    const r = await ask(gw.url, '/auth', { 'x-original-uri': '/app/page?x=1', 'x-remote-user': 'admin' })
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(r.headers['x-remote-user'], undefined)
    assert.equal(r.headers['cache-control'], 'no-store')
  })

  test('valid Basic credentials: 200 with the user and groups in every configured header', async () => {
    const r = await ask(gw.url, '/auth', { 'x-original-uri': '/staff/x', authorization: basic('alice', 'wonder') })
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], 'alice')
    assert.equal(r.headers['remote-user'], 'alice')
    assert.equal(r.headers['x-remote-groups'], 'staff')
    assert.equal(r.headers['remote-groups'], 'staff')
  })

  test('wrong password: 401 with the challenge', async () => {
    const r = await ask(gw.url, '/auth', { 'x-original-uri': '/app/', authorization: basic('alice', 'nope') })
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
  })

  test('a valid user outside the required group: 403', async () => {
    const r = await ask(gw.url, '/auth', { 'x-original-uri': '/staff', authorization: basic('bob', 'builder') })
    assert.equal(r.status, 403)
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test('a public route: 200 with the identity headers empty, even with a client-forged one', async () => {
    const r = await ask(gw.url, '/auth', {
      'x-original-uri': '/public/file',
      authorization: basic('alice', 'wonder'),
      'x-remote-user': 'root',
    })
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], '')
    assert.equal(r.headers['remote-groups'], '')
  })

  test('the policy follows the path the proxy routes on: percent-encoding and doubled slashes do not reach the public route', async () => {
    assert.equal(
      (await ask(gw.url, '/auth', { 'x-original-uri': '/st%61ff/x' })).status,
      400,
      'the route changes with decoding (path-rule.ts)',
    )
    // Doubled slashes are refused outright, as at the front (the path rule).
    assert.equal((await ask(gw.url, '/auth', { 'x-original-uri': '//staff/x' })).status, 400)
    assert.equal((await ask(gw.url, '/auth', { 'x-original-uri': '/public/../staff/x' })).status, 400)
  })

  test('a provider that throws: 500, never a pass', async () => {
    const r = await ask(gw.url, '/auth', { 'x-original-uri': '/broken/x', authorization: basic('alice', 'wonder') })
    assert.equal(r.status, 500)
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test('the route without a target still answers 404 to a direct hit after authentication', async () => {
    const r = await ask(gw.url, '/app/page', { authorization: basic('alice', 'wonder') })
    assert.equal(r.status, 404)
  })
})

describe('X-Original-URL (absolute form)', () => {
  test('its path and query select the route; a different X-Forwarded-Host is a conflict', async () => {
    const ok = await ask(gw.url, '/auth', {
      'x-original-url': 'https://example.org/staff/x?y=1',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(ok.status, 200)
    const conflict = await ask(gw.url, '/auth', {
      'x-original-url': 'https://example.org/staff/x',
      'x-forwarded-host': 'evil.example',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(conflict.status, 403)
    const bad = await ask(gw.url, '/auth', { 'x-original-url': '/staff/x', authorization: basic('alice', 'wonder') })
    assert.equal(bad.status, 403)
  })
})

describe('Digest through the sidecar', () => {
  async function digestAuth(uri: string, method: string, digestUri = uri) {
    const first = await ask(gw.url, '/auth', { 'x-original-uri': uri, 'x-original-method': method })
    assert.equal(first.status, 401)
    const challenges = first.headers['www-authenticate'] as string[]
    assert.deepEqual(
      challenges.map((c) => /^(\w+)/.exec(c)![1]),
      ['Digest', 'Digest', 'Basic'],
    )
    assert.ok(
      challenges.every((c) => !c.includes('auth-int')),
      'auth-int is not offered: the sidecar never sees the body',
    )
    const nonce = /nonce="([^"]+)"/.exec(challenges[0]!)![1]!
    const opaque = /opaque="([^"]+)"/.exec(challenges[0]!)![1]!
    const response = clientResponse({
      algorithm: 'SHA-256',
      username: 'dave',
      realm: 'Office',
      password: 'dave-pw',
      method,
      uri: digestUri,
      nonce,
      cnonce: 'abc',
      nc: '00000001',
      qop: 'auth',
    })
    const authorization = `Digest username="dave", realm="Office", uri="${digestUri}", algorithm=SHA-256, nonce="${nonce}", nc=00000001, cnonce="abc", qop=auth, response="${response}", opaque="${opaque}"`
    return ask(gw.url, '/auth', { 'x-original-uri': uri, 'x-original-method': method, authorization })
  }

  test('the digest is checked against the original method and URI: 200 with Authentication-Info', async () => {
    const r = await digestAuth('/digest/doc?id=7', 'POST')
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], 'dave')
    assert.match(String(r.headers['authentication-info']), /rspauth="[0-9a-f]{64}"/)
  })

  test('a digest computed for another URI than the original one: 400', async () => {
    const r = await digestAuth('/digest/doc', 'GET', '/digest/other')
    assert.equal(r.status, 400)
  })
})

describe('Traefik and Caddy (X-Forwarded-*)', () => {
  test('X-Forwarded-Uri and -Method select the route', async () => {
    const ok = await ask(gw.url, '/auth', {
      'x-forwarded-uri': '/staff/a',
      'x-forwarded-method': 'DELETE',
      'x-forwarded-host': 'example.org',
      'x-forwarded-proto': 'https',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['x-remote-user'], 'alice')
  })

  test('a client-forged URI header next to the proxy one is a conflict: 403', async () => {
    // alice may see both URIs, so only the conflict itself can refuse this.
    for (const [uri, forged] of [
      ['/staff/x', '/public/'],
      ['/staff/x', '/app/y'],
    ]) {
      assert.equal(
        (await ask(gw.url, '/auth', { 'x-original-uri': uri, authorization: basic('alice', 'wonder') })).status,
        200,
      )
      assert.equal(
        (await ask(gw.url, '/auth', { 'x-original-uri': forged, authorization: basic('alice', 'wonder') })).status,
        200,
      )
      const r = await ask(gw.url, '/auth', {
        'x-forwarded-uri': forged,
        'x-original-uri': uri,
        authorization: basic('alice', 'wonder'),
      })
      assert.equal(r.status, 403)
      assert.equal(r.headers['x-remote-user'], undefined)
    }
  })

  test('disagreeing methods are a conflict: 403', async () => {
    const r = await ask(gw.url, '/auth', {
      'x-original-uri': '/app/',
      'x-original-method': 'GET',
      'x-forwarded-method': 'POST',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(r.status, 403)
  })
})

describe('Envoy ext_authz (path prefix)', () => {
  test('the original path appended to the sidecar path selects the route', async () => {
    assert.equal((await ask(gw.url, '/auth/staff/x?y=1', {})).status, 401)
    const r = await ask(gw.url, '/auth/staff/x?y=1', { authorization: basic('alice', 'wonder') }, 'POST')
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], 'alice')
  })
})

describe('trust and unmatched URIs', () => {
  test('an original URI that matches no route: 403', async () => {
    const r = await ask(strict.url, '/check', {
      'x-original-uri': '/elsewhere',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(r.status, 403)
  })

  test('configured header names replace the defaults', async () => {
    const r = await ask(strict.url, '/check', { 'x-original-uri': '/app', authorization: basic('alice', 'wonder') })
    assert.equal(r.status, 200)
    assert.equal(r.headers['remote-user'], 'alice')
    assert.equal(r.headers['remote-groups'], 'staff')
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test('forwarding headers from a peer outside trustedProxies are ignored: 403', async () => {
    const r = await askFrom('127.0.0.2', strict.url, '/check', {
      'x-original-uri': '/app',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(r.status, 403)
    assert.equal(r.headers['remote-user'], undefined)
  })

  test('a trusted range (CIDR) covers every peer in it', async (t) => {
    const ranged = await startGateway(
      {
        providers: { office: { type: 'htpasswd', file: './users.htpasswd', groupFile: './groups' } },
        trustedProxies: ['127.0.0.0/30'],
        sidecar: { path: '/check' },
        routes: [{ path: '/app', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } }],
      },
      dir,
    )
    t.after(() => ranged.close())
    const inside = await askFrom('127.0.0.2', ranged.url, '/check', {
      'x-original-uri': '/app',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(inside.status, 200)
    assert.equal(inside.headers['x-remote-user'], 'alice')
    const outside = await askFrom('127.0.0.5', ranged.url, '/check', {
      'x-original-uri': '/app',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(outside.status, 403)
  })

  test('an untrusted peer can still ask about its own request-target (path prefix form)', async () => {
    const r = await askFrom('127.0.0.2', strict.url, '/check/app/x', {
      'x-original-uri': '/nowhere',
      authorization: basic('alice', 'wonder'),
    })
    assert.equal(r.status, 200)
    assert.equal(r.headers['remote-user'], 'alice')
  })

  test('no original URI at all from a trusted proxy: 403', async () => {
    const r = await ask(strict.url, '/check', { authorization: basic('alice', 'wonder') })
    assert.equal(r.status, 403)
  })

  test('the same forwarding header twice: 403', async () => {
    const check = async (headers: string[]) => {
      const res = await request(`${strict.url}/check`, {
        headers: [...headers, 'authorization', basic('alice', 'wonder')],
      })
      await res.body.text()
      return { status: res.statusCode, user: res.headers['remote-user'] }
    }
    // Node joins a repeated X-Forwarded-Host into one value that is otherwise accepted as a host:
    // only the rule against repetition refuses it.
    assert.equal((await check(['x-original-uri', '/app', 'x-forwarded-host', 'example.org'])).status, 200)
    assert.deepEqual(
      await check(['x-original-uri', '/app', 'x-forwarded-host', 'example.org', 'X-Forwarded-Host', 'example.org']),
      { status: 403, user: undefined },
    )
    assert.deepEqual(await check(['x-original-uri', '/app', 'X-Original-URI', '/app']), {
      status: 403,
      user: undefined,
    })
  })
})

test('a sidecar path that is also a route path is a configuration error naming both keys', async () => {
  const { parseConfig } = await import('../../src/config/parse.js')
  assert.throws(
    () => parseConfig({ sidecar: { path: '/auth/' }, routes: [{ path: '/auth' }] }, { baseDir: '/' }),
    /sidecar\.path: \/auth is also the path of routes\[0\]/,
  )
  assert.throws(() => parseConfig({ sidecar: { path: '/' }, routes: [] }, { baseDir: '/' }), /sidecar\.path/)
})
