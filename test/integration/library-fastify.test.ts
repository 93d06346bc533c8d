/**
 * gatehouse as a library, imported by its package name as a user would ('gatehouse-auth' resolves
 * through package.json "exports" to dist/: `npm test` builds first, and this file builds when
 * dist is missing). A real Fastify app protected by gatehouseAuth, exercised with
 * fastify.inject and with real curl on loopback; and the @fastify/basic-auth adapter.
 */
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import bcrypt from 'bcryptjs'
import Fastify, { type FastifyInstance } from 'fastify'
import basicAuth from '@fastify/basic-auth'
import { tempDir, writeFile } from '../helpers/gateway.js'
import { curl } from '../interop/helpers/curl.js'

const root = new URL('../../', import.meta.url)
if (!existsSync(new URL('dist/src/index.js', root)))
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })
const gh = await import('gatehouse-auth')
const { gatehouseAuth, createBasicAuthValidate, identityOf, formatBasic, isGatehouseError } = gh

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const sha256 = (s: string) => createHash('sha256').update(s).digest('hex')
const md5 = (s: string) => createHash('md5').update(s).digest('hex')

const t = tempDir('gh-library-')
writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('wonder', 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`)
writeFile(t.dir, 'groups', 'staff: alice\n')
after(() => t.cleanup())

/** An in-process provider: called directly, counted. */
function memoryProvider(users: Record<string, { password: string; groups: string[] }>) {
  const calls = { checkPassword: 0, getRealmHash: 0 }
  const provider = {
    name: 'memory',
    async checkPassword(_ctx: unknown, user: string, password: string) {
      calls.checkPassword++
      const u = users[user]
      return u === undefined ? null : u.password === password
    },
    async getRealmHash(_ctx: unknown, user: string, realm: string, algorithm: string) {
      calls.getRealmHash++
      const u = users[user]
      if (!u) return null
      return algorithm === 'MD5' ? md5(`${user}:${realm}:${u.password}`) : sha256(`${user}:${realm}:${u.password}`)
    },
    async groupsForUser(_ctx: unknown, user: string) {
      return users[user]?.groups ?? []
    },
  }
  return { provider, calls }
}

async function appWith(opts: Parameters<typeof gatehouseAuth>[1]): Promise<FastifyInstance> {
  const app = Fastify()
  await app.register(gatehouseAuth, opts)
  app.get('/hello', async (request) => ({
    user: (request as unknown as { user: string }).user,
    groups: (request as unknown as { groups: string[] }).groups,
    identity: identityOf(request),
  }))
  app.get('/health', { config: { auth: false } }, async (request) => ({
    ok: true,
    user: (request as unknown as { user: unknown }).user,
  }))
  return app
}

describe('gatehouseAuth with a built-in provider in worker threads (htpasswd)', () => {
  let app: FastifyInstance
  after(() => app?.close())

  test('inject: no credentials → 401 with the Basic challenge; the opted-out route stays public', async () => {
    app = await appWith({
      realm: 'Office',
      provider: { type: 'htpasswd', file: 'users.htpasswd', groupFile: 'groups' },
      baseDir: t.dir,
    })
    const r = await app.inject({ url: '/hello' })
    assert.equal(r.statusCode, 401)
    assert.deepEqual(r.headers['www-authenticate'], ['Basic realm="Office", charset="UTF-8"'])
    const h = await app.inject({ url: '/health' })
    assert.equal(h.statusCode, 200)
    assert.deepEqual(h.json(), { ok: true, user: null })
  })

  test('inject: valid credentials → the handler sees request.user, request.groups and identityOf(request)', async () => {
    const r = await app.inject({ url: '/hello', headers: { authorization: basic('alice', 'wonder') } })
    assert.equal(r.statusCode, 200)
    assert.deepEqual(r.json(), {
      user: 'alice',
      groups: ['staff'],
      identity: { user: 'alice', groups: ['staff'], provider: 'htpasswd' },
    })
  })

  test('inject: a wrong password → 401; an unknown route is protected too', async () => {
    assert.equal(
      (await app.inject({ url: '/hello', headers: { authorization: basic('alice', 'nope') } })).statusCode,
      401,
    )
    assert.equal((await app.inject({ url: '/missing' })).statusCode, 401)
    assert.equal(
      (await app.inject({ url: '/missing', headers: { authorization: basic('bob', 'builder') } })).statusCode,
      404,
    )
  })

  test('curl -u against the listening app → 200; wrong password → 401 with the challenge', async () => {
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const ok = await curl(`${address}/hello`, ['-u', 'bob:builder'])
    assert.equal(ok.status, 200)
    assert.equal(JSON.parse(ok.body).user, 'bob')
    const bad = await curl(`${address}/hello`, ['-u', 'bob:wrong'])
    assert.equal(bad.status, 401)
    assert.deepEqual(bad.headers['www-authenticate'], ['Basic realm="Office", charset="UTF-8"'])
  })
})

describe("the library's cache follows the provider's file", () => {
  test('a user removed from the htpasswd file is refused at once, though the cache had them (gatehouseAuth and createBasicAuthValidate)', async (tt) => {
    const d = tempDir('gh-library-change-')
    tt.after(() => d.cleanup())
    writeFile(d.dir, 'users.htpasswd', `carol:${bcrypt.hashSync('c-pw', 4)}\ndan:${bcrypt.hashSync('d-pw', 4)}\n`)
    const spec = { type: 'htpasswd' as const, file: 'users.htpasswd', watchIntervalMs: 20, threads: 1 }
    const app = await appWith({ realm: 'Office', provider: spec, baseDir: d.dir })
    tt.after(() => app.close())
    const validate = createBasicAuthValidate(spec, { baseDir: d.dir })
    tt.after(() => validate.close())
    const asCarol = { authorization: basic('carol', 'c-pw') }
    for (let i = 0; i < 2; i++) assert.equal((await app.inject({ url: '/hello', headers: asCarol })).statusCode, 200)
    // What @fastify/basic-auth hands validate: the request and the reply.
    const req = {
      raw: { method: 'GET', url: '/', headers: {}, socket: { remoteAddress: '127.0.0.1' } },
      headers: {},
      routeOptions: { url: '/' },
    } as never
    const reply = {
      header() {
        return this
      },
    } as never
    await validate('carol', 'c-pw', req, reply)
    writeFile(d.dir, 'users.htpasswd', `dan:${bcrypt.hashSync('d-pw', 4)}\n`)
    const deadline = Date.now() + 5000
    let status = 200
    while (status === 200 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 25))
      status = (await app.inject({ url: '/hello', headers: asCarol })).statusCode
    }
    assert.equal(status, 401)
    // createBasicAuthValidate has threads of its own, which notice the file on their own poll.
    let denied: unknown
    while (denied === undefined && Date.now() < deadline + 5000) {
      denied = await validate('carol', 'c-pw', req, reply).then(
        () => undefined,
        (err: unknown) => err,
      )
      if (denied === undefined) await new Promise((r) => setTimeout(r, 25))
    }
    assert.ok(isGatehouseError(denied, 'GH_ERR_AUTH_DENIED'), `validate still let carol in: ${String(denied)}`)
    assert.equal(
      (await app.inject({ url: '/hello', headers: { authorization: basic('dan', 'd-pw') } })).statusCode,
      200,
    )
  })
})

describe('gatehouseAuth with an in-process provider object', () => {
  const { provider, calls } = memoryProvider({
    dave: { password: 'dave:pw', groups: ['staff'] },
    erin: { password: 'erin-pw', groups: [] },
  })
  let app: FastifyInstance
  after(() => app?.close())

  test('curl --digest passes; a user outside the required group gets 403', async () => {
    app = await appWith({
      realm: 'Office',
      scheme: ['digest', 'basic'],
      provider,
      require: { groups: ['staff'] },
      digestSecret: 'library-test-secret-0123456789',
    })
    const address = await app.listen({ host: '127.0.0.1', port: 0 })
    const ok = await curl(`${address}/hello?x=1`, ['--digest', '-u', 'dave:dave:pw'])
    assert.equal(ok.status, 200)
    assert.equal(JSON.parse(ok.body).user, 'dave')
    assert.ok(calls.getRealmHash >= 1, 'the object was called directly')
    const erin = await curl(`${address}/hello`, ['--digest', '-u', 'erin:erin-pw'])
    assert.equal(erin.status, 403)
  })

  test('inject: the challenge lists Digest SHA-256, Digest MD5, then Basic', async () => {
    const r = await app.inject({ url: '/hello' })
    assert.equal(r.statusCode, 401)
    const list = r.headers['www-authenticate'] as string[]
    assert.deepEqual(
      list.map((c) => c.split(',')[0]!.split(' ')[0] + (/algorithm=([\w-]+)/.exec(c)?.[1] ?? '')),
      ['DigestSHA-256', 'DigestMD5', 'Basic'],
    )
  })

  test('a provider that throws answers 500, never a pass', async () => {
    const broken = {
      name: 'broken',
      async checkPassword(): Promise<boolean> {
        throw new Error('db down')
      },
    }
    const app2 = await appWith({ realm: 'Office', provider: broken })
    try {
      const r = await app2.inject({ url: '/hello', headers: { authorization: basic('dave', 'dave:pw') } })
      assert.equal(r.statusCode, 500)
    } finally {
      await app2.close()
    }
  })

  test('registered inside an encapsulated plugin, it protects that context only', async () => {
    const app3 = Fastify()
    app3.get('/open', async () => 'open')
    await app3.register(async (child) => {
      await child.register(gatehouseAuth, { realm: 'Office', provider })
      child.get('/closed', async () => 'closed')
    })
    try {
      assert.equal((await app3.inject({ url: '/open' })).statusCode, 200)
      assert.equal((await app3.inject({ url: '/closed' })).statusCode, 401)
      assert.equal(
        (await app3.inject({ url: '/closed', headers: { authorization: basic('erin', 'erin-pw') } })).statusCode,
        200,
      )
    } finally {
      await app3.close()
    }
  })
})

describe('options are checked at registration, naming the option', () => {
  test('Digest with htpasswd, a missing realm, an unknown type, a misspelt provider option', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [
        { realm: 'R', scheme: 'digest', provider: { type: 'htpasswd', file: 'x' } },
        /provider: provider htpasswd has no getRealmHash/,
      ],
      [{ provider: { type: 'htpasswd', file: 'x' } }, /^realm must be/],
      [{ realm: 'R', provider: { type: 'ldap' } }, /provider\.type must be one of/],
      [{ realm: 'R', provider: {} }, /provider has neither checkPassword nor getRealmHash/],
      [
        { realm: 'R', provider: { type: 'htpasswd', file: 'x', plaintxt: true } },
        /^provider\.plaintxt is not an option of type htpasswd \(expected one of: file, groupFile, plaintext, watchIntervalMs, /,
      ],
      [
        { realm: 'R', provider: { type: 'htpasswd', file: 'x', shareWhenBusy: 2 } },
        /^shareWhenBusy must be a number above 0 and at most 1, got 2$/,
      ],
    ]
    for (const [opts, re] of cases) {
      const app = Fastify()
      await assert.rejects(
        async () => {
          await app.register(gatehouseAuth, opts as never)
          await app.ready()
        },
        (err: unknown) => isGatehouseError(err, 'GH_ERR_OPT_INVALID') && re.test((err as Error).message),
      )
      await app.close().catch(() => {})
    }
  })
})

describe('createBasicAuthValidate for @fastify/basic-auth', () => {
  const { provider, calls } = memoryProvider({
    dave: { password: 'dave:pw', groups: ['staff'] },
    erin: { password: 'erin-pw', groups: [] },
  })
  const validate = createBasicAuthValidate(provider, { realm: 'Office', require: { groups: ['staff'] } })
  let app: FastifyInstance

  after(async () => {
    await app?.close()
    await validate.close()
  })

  test('valid → 200 (and cached: the provider is asked once); wrong → 401 with the plugin challenge; outside the group → 403', async () => {
    app = Fastify()
    await app.register(basicAuth, { validate, authenticate: { realm: 'Office' } })
    app.after(() => app.addHook('onRequest', app.basicAuth))
    app.get('/', async (request) => ({ user: identityOf(request)?.user }))
    const ok = await app.inject({ url: '/', headers: { authorization: formatBasic('dave', 'dave:pw') } })
    assert.equal(ok.statusCode, 200)
    assert.deepEqual(ok.json(), { user: 'dave' })
    const before = calls.checkPassword
    assert.equal(
      (await app.inject({ url: '/', headers: { authorization: formatBasic('dave', 'dave:pw') } })).statusCode,
      200,
    )
    assert.equal(calls.checkPassword, before, 'the second check came from the cache')
    const bad = await app.inject({ url: '/', headers: { authorization: formatBasic('dave', 'nope') } })
    assert.equal(bad.statusCode, 401)
    assert.equal(bad.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(bad.json().code, 'GH_ERR_AUTH_DENIED')
    const erin = await app.inject({ url: '/', headers: { authorization: formatBasic('erin', 'erin-pw') } })
    assert.equal(erin.statusCode, 403)
    assert.equal(erin.headers['www-authenticate'], undefined)
  })

  test('a built-in provider spec runs in threads; a failing provider answers 5xx, not 401', async () => {
    const v = createBasicAuthValidate({ type: 'htpasswd', file: 'users.htpasswd' }, { baseDir: t.dir })
    const failing = createBasicAuthValidate({
      name: 'down',
      async checkPassword(): Promise<boolean> {
        throw new Error('db down')
      },
    })
    const a = Fastify()
    try {
      await a.register(async (c) => {
        await c.register(basicAuth, { validate: v })
        c.addHook('onRequest', c.basicAuth)
        c.get('/threads', async () => 'ok')
      })
      await a.register(async (c) => {
        await c.register(basicAuth, { validate: failing })
        c.addHook('onRequest', c.basicAuth)
        c.get('/down', async () => 'ok')
      })
      assert.equal(
        (await a.inject({ url: '/threads', headers: { authorization: basic('alice', 'wonder') } })).statusCode,
        200,
      )
      assert.equal(
        (await a.inject({ url: '/threads', headers: { authorization: basic('alice', 'x') } })).statusCode,
        401,
      )
      const down = await a.inject({ url: '/down', headers: { authorization: basic('alice', 'wonder') } })
      assert.equal(down.statusCode, 500)
      assert.equal(down.json().code, 'GH_ERR_PROVIDER_FAILED')
    } finally {
      await a.close()
      await v.close()
    }
  })
})

describe('brute-force throttling in the library (same rules as the gateway)', () => {
  const throttle = { perAddress: { maxFailures: 3, window: '1m', lockout: '1m' }, delay: 0 }

  test('gatehouseAuth locks an address out after its failures: 429 with Retry-After, before the provider is asked', async () => {
    const { provider, calls } = memoryProvider({ alice: { password: 'right', groups: [] } })
    const app = await appWith({ realm: 'Lib', provider, cache: false, throttle })
    after(() => app.close())
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await app.inject({ url: '/hello', headers: { authorization: basic('alice', `wrong${i}`) } })).statusCode,
        401,
      )
    const asked = calls.checkPassword
    const locked = await app.inject({ url: '/hello', headers: { authorization: basic('alice', 'right') } })
    assert.equal(locked.statusCode, 429)
    assert.match(String(locked.headers['retry-after']), /^[1-9][0-9]*$/)
    assert.equal(calls.checkPassword, asked, 'a locked-out attempt costs no provider call')
  })

  test('throttle: false turns it off', async () => {
    const { provider } = memoryProvider({ alice: { password: 'right', groups: [] } })
    const app = await appWith({ realm: 'Lib', provider, cache: false, throttle: false })
    after(() => app.close())
    for (let i = 0; i < 5; i++)
      await app.inject({ url: '/hello', headers: { authorization: basic('alice', `wrong${i}`) } })
    assert.equal(
      (await app.inject({ url: '/hello', headers: { authorization: basic('alice', 'right') } })).statusCode,
      200,
    )
  })

  test('createBasicAuthValidate answers 429 with Retry-After through @fastify/basic-auth once the address is locked out', async () => {
    const { provider } = memoryProvider({ alice: { password: 'right', groups: [] } })
    const validate = createBasicAuthValidate(provider, { realm: 'Office', cache: false, throttle })
    const app = Fastify()
    await app.register(basicAuth, { validate, authenticate: { realm: 'Office' } })
    app.after(() => app.addHook('onRequest', app.basicAuth))
    app.get('/x', async () => 'ok')
    after(async () => {
      await app.close()
      await validate.close()
    })
    for (let i = 0; i < 3; i++)
      assert.equal(
        (await app.inject({ url: '/x', headers: { authorization: basic('alice', `bad${i}`) } })).statusCode,
        401,
      )
    const locked = await app.inject({ url: '/x', headers: { authorization: basic('alice', 'right') } })
    assert.equal(locked.statusCode, 429)
    assert.match(String(locked.headers['retry-after']), /^[1-9][0-9]*$/)
  })
})

describe('the package surface', () => {
  test('declaration files and the gatehouse-auth/app entry come through "exports"', async () => {
    const dts = readFileSync(new URL('dist/src/index.d.ts', root), 'utf8')
    for (const name of [
      'gatehouseAuth',
      'createBasicAuthValidate',
      'parseBasic',
      'parseDigest',
      'basicChallenge',
      'digestChallenges',
      'computeResponse',
      'NonceManager',
    ])
      assert.match(dts, new RegExp(`\\b${name}\\b`), name)
    const app = await import('gatehouse-auth/app')
    assert.equal(app.getUser({ headers: { 'x-remote-user': 'alice' } }), 'alice')
    assert.equal(typeof gh.parseDigest, 'function')
    assert.equal(gh.basicChallenge('R'), 'Basic realm="R", charset="UTF-8"')
  })
})
