/**
 * A daemon group's provider module protecting routes end to end: real gateway, real group
 * processes, real sockets on loopback. The provider (fixtures/group-providers/accounts.ts)
 * and the app showing what it recorded (app.ts) run in the same group process.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { request as httpRequest } from 'node:http'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import bcrypt from 'bcryptjs'
import { clientResponse } from '../helpers/digest-client.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'group-providers')
const APP = join(FIXTURES, 'app.ts')
const PROVIDER = join(FIXTURES, 'accounts.ts')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

interface Res {
  status: number
  headers: Record<string, string | string[] | undefined>
  raw: string[]
  text: string
}

let gw: TestGateway
let cleanup: () => void

function get(path: string, headers: Record<string, string> = {}): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port: gw.port, path, headers, agent: false }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (c: string) => {
        text += c
      })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, raw: res.rawHeaders, text }))
    })
    req.on('error', reject)
    req.end()
  })
}

const json = (r: Res) =>
  JSON.parse(r.text) as {
    user: string | null
    groups: string | null
    authorization: string | null
    provider: {
      lastCtx?: {
        method: string
        path: string
        host: string
        route: string
        realm: string
        remoteAddress: string
        headers: Record<string, unknown>
      }
      groupsAskedFor: string[]
    }
  }

/** Log lines of the front (pino JSON) that mention `needle`. */
const logsWith = (needle: string) => gw.logs.filter((l) => l.includes(needle))

before(async () => {
  const t = tempDir('gh-group-provider-')
  cleanup = t.cleanup
  writeFile(
    t.dir,
    'users.json',
    JSON.stringify({
      users: {
        alice: { password: 'wonderland', groups: ['staff'], canonical: 'Alice' },
        bob: { password: 'builder', groups: ['crew'] },
      },
    }),
  )
  writeFile(t.dir, 'office.htpasswd', `carol:${bcrypt.hashSync('carol-pw', 4)}\n`)
  const group = (extra: Record<string, unknown> = {}) => ({ app: APP, provider: PROVIDER, cwd: t.dir, ...extra })
  gw = await startGateway(
    {
      digest: { secret: 'a-test-secret-of-enough-length' },
      providers: { office: { type: 'htpasswd', file: './office.htpasswd' } },
      groups: {
        accounts: group({ providerOptions: { usersFile: 'users.json' }, providerTimeout: '300ms' }),
        gatekeeper: group({ providerOptions: { allowAccess: true } }),
        narrow: group({ providerOptions: { slowMs: 1500 }, providerConcurrency: 1, providerQueueTimeout: '50ms' }),
      },
      routes: [
        { path: '/acct', group: 'accounts', auth: { scheme: 'basic', realm: 'Accounts', provider: 'accounts' } },
        {
          path: '/staff',
          group: 'accounts',
          auth: { scheme: 'basic', realm: 'Accounts', provider: 'accounts', require: { groups: ['staff'] } },
        },
        {
          path: '/digest',
          group: 'accounts',
          auth: {
            scheme: ['digest', 'basic'],
            realm: 'Accounts',
            provider: 'accounts',
            algorithms: ['SHA-256', 'MD5'],
          },
        },
        {
          path: '/ctx',
          group: 'accounts',
          auth: { scheme: 'basic', realm: 'Accounts', provider: 'accounts', cache: false },
        },
        {
          path: '/chain',
          group: 'accounts',
          auth: { scheme: 'basic', realm: 'Accounts', provider: ['accounts', 'office'] },
        },
        { path: '/gate', group: 'gatekeeper', auth: { scheme: 'basic', realm: 'Accounts', provider: 'gatekeeper' } },
        {
          path: '/narrow',
          group: 'narrow',
          auth: { scheme: 'basic', realm: 'Accounts', provider: 'narrow', cache: false },
        },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  cleanup?.()
})

describe('answers of a group provider', () => {
  test('a right password passes with the canonical name the provider returned in X-Remote-User', async () => {
    const r = await get('/acct/whoami', { authorization: basic('alice', 'wonderland') })
    assert.equal(r.status, 200)
    const body = json(r)
    assert.equal(body.user, 'Alice')
    assert.equal(body.groups, 'staff')
  })

  test('groupsForUser is asked with the canonical name, and require groups uses its answer', async () => {
    const ok = await get('/staff/', { authorization: basic('alice', 'wonderland') })
    assert.equal(ok.status, 200)
    assert.deepEqual(json(ok).provider.groupsAskedFor.includes('Alice'), true)
    assert.deepEqual(json(ok).provider.groupsAskedFor.includes('alice'), false)
    const outside = await get('/staff/', { authorization: basic('bob', 'builder') })
    assert.equal(outside.status, 403)
  })

  test('a wrong password and an unknown user both get 401 with the Basic challenge', async () => {
    for (const [u, p] of [
      ['bob', 'wrong'],
      ['nobody', 'x'],
    ] as const) {
      const r = await get('/acct/', { authorization: basic(u, p) })
      assert.equal(r.status, 401)
      assert.equal(r.headers['www-authenticate'], 'Basic realm="Accounts", charset="UTF-8"')
    }
  })

  test('null from the group provider asks the next provider of the chain', async () => {
    const r = await get('/chain/', { authorization: basic('carol', 'carol-pw') })
    assert.equal(r.status, 200)
    assert.equal(json(r).user, 'carol')
    assert.equal((await get('/chain/', { authorization: basic('carol', 'wrong') })).status, 401)
  })

  test("Digest works against the group provider's getRealmHash", async () => {
    const challenge = await get('/digest/page')
    assert.equal(challenge.status, 401)
    const offered = challenge.raw.filter(
      (_v, i) => i % 2 === 1 && challenge.raw[i - 1]!.toLowerCase() === 'www-authenticate',
    )
    assert.equal(offered.length, 3)
    const sha = offered.find((c) => c.includes('algorithm=SHA-256'))!
    const nonce = /nonce="([^"]+)"/.exec(sha)![1]!
    const opaque = /opaque="([^"]+)"/.exec(sha)![1]!
    const response = clientResponse({
      algorithm: 'SHA-256',
      username: 'bob',
      realm: 'Accounts',
      password: 'builder',
      method: 'GET',
      uri: '/digest/page',
      nonce,
      cnonce: 'c0ffee',
      nc: '00000001',
      qop: 'auth',
    })
    const header = `Digest username="bob", realm="Accounts", nonce="${nonce}", uri="/digest/page", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c0ffee", response="${response}", opaque="${opaque}"`
    const r = await get('/digest/page', { authorization: header })
    assert.equal(r.status, 200)
    assert.equal(json(r).user, 'bob')
    assert.match(String(r.headers['authentication-info']), /rspauth="[0-9a-f]{64}"/)
  })
})

describe('what the provider sees', () => {
  test('the AuthContext carries the request but neither Authorization nor Proxy-Authorization', async () => {
    const r = await get('/ctx/page?q=1', {
      authorization: basic('bob', 'builder'),
      'proxy-authorization': basic('proxyuser', 'proxy-secret'),
      'x-probe': 'probe-value',
      host: 'accounts.test:8080',
    })
    assert.equal(r.status, 200)
    const ctx = json(r).provider.lastCtx!
    assert.equal(ctx.method, 'GET')
    assert.equal(ctx.path, '/ctx/page')
    assert.equal(ctx.host, 'accounts.test:8080')
    assert.equal(ctx.route, '/ctx')
    assert.equal(ctx.realm, 'Accounts')
    assert.equal(ctx.remoteAddress, '127.0.0.1')
    assert.equal(ctx.headers['x-probe'], 'probe-value')
    assert.equal('authorization' in ctx.headers, false)
    assert.equal('proxy-authorization' in ctx.headers, false)
    assert.equal(r.text.includes('proxy-secret'), false)
    assert.equal(json(r).authorization, null)
  })

  test('allowAccess is asked only when the provider has it: false refuses the host with 403 before credentials', async () => {
    const blocked = await get('/gate/', { host: 'blocked.example', authorization: basic('bob', 'builder') })
    assert.equal(blocked.status, 403)
    assert.equal(blocked.text, 'Forbidden\n')
    const open = await get('/gate/', { host: 'open.example', authorization: basic('bob', 'builder') })
    assert.equal(open.status, 200)
    // accounts has no allowAccess: a blocked.example host is no reason to refuse there.
    assert.equal((await get('/acct/', { host: 'blocked.example', authorization: basic('bob', 'builder') })).status, 200)
  })
})

describe('failures fail closed', () => {
  test('a provider that throws gives 500 GH_ERR_PROVIDER_FAILED, and no log line holds the password', async () => {
    const r = await get('/acct/', { authorization: basic('thrower', 'hunter2-secret') })
    assert.equal(r.status, 500)
    assert.equal(r.text, 'Internal Server Error\n')
    assert.equal(r.headers['www-authenticate'], undefined)
    const line = logsWith('GH_ERR_PROVIDER_FAILED').find((l) => l.includes('checkPassword threw Error'))
    assert.ok(line, 'the failure is logged in the front')
    assert.ok(
      logsWith('users database down while checking [redacted]').length > 0,
      'the daemon logs the provider error, redacted',
    )
    assert.deepEqual(logsWith('hunter2-secret'), [])
    assert.deepEqual(logsWith(Buffer.from('thrower:hunter2-secret').toString('base64')), [])
  })

  test('a value of the wrong type gives 500 GH_ERR_PROVIDER_BAD_RESULT, never a pass', async () => {
    for (const user of ['number', 'undefined', 'emptystring']) {
      const r = await get('/acct/', { authorization: basic(user, 'pw') })
      assert.equal(r.status, 500, user)
      assert.equal(r.text, 'Internal Server Error\n')
    }
    const codes = logsWith('GH_ERR_PROVIDER_BAD_RESULT').filter((l) => l.includes('authentication failed closed'))
    assert.ok(codes.some((l) => l.includes('returned number from checkPassword')))
    assert.ok(codes.some((l) => l.includes('returned undefined from checkPassword')))
    assert.ok(codes.some((l) => l.includes('returned an empty string from checkPassword')))
  })

  test('a provider that does not answer within providerTimeout gives 503 GH_ERR_PROVIDER_TIMEOUT with Retry-After', async () => {
    const r = await get('/acct/', { authorization: basic('hanger', 'pw') })
    assert.equal(r.status, 503)
    assert.equal(r.headers['retry-after'], '1')
    assert.equal(r.text, 'Service Unavailable\n')
    assert.ok(logsWith('GH_ERR_PROVIDER_TIMEOUT').some((l) => l.includes('did not answer within 300 ms')))
    // The group still answers others.
    assert.equal((await get('/acct/', { authorization: basic('bob', 'builder') })).status, 200)
  })

  test('calls over providerConcurrency wait providerQueueTimeout, then get 503 GH_ERR_PROVIDER_BUSY', async () => {
    // Whichever call gets the only slot holds it for slowMs; the other cannot get one in time.
    const both = await Promise.all([
      get('/narrow/', { authorization: basic('slow', 'pw-1') }),
      get('/narrow/', { authorization: basic('slow', 'pw-2') }),
    ])
    assert.deepEqual(both.map((r) => r.status).sort(), [200, 503])
    assert.equal(both.find((r) => r.status === 503)!.headers['retry-after'], '1')
    assert.ok(logsWith('GH_ERR_PROVIDER_BUSY').some((l) => l.includes('provider narrow is busy: 1 calls in flight')))
  })
})
