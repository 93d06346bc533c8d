/**
 * The sidecar's decisions on session cookies, without a proxy: a real gateway with
 * `sidecar: { path: /auth }` and form routes, real SQLite and htpasswd providers. Sessions are
 * made through the gateway's own login page (test/helpers/form-client.ts, from the HTML alone);
 * sub-requests are shaped as nginx (X-Original-URI) and Traefik/Caddy (X-Forwarded-Uri) send
 * them, with the browser's Cookie and Accept headers passed along.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import bcrypt from 'bcryptjs'
import { request } from 'undici'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { form, hiddenField, HTML, Jar, login, send } from '../helpers/form-client.js'
import { UserStore } from '../../providers/sqlite/store.js'

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const SEES_COOKIES = new URL('../fixtures/providers/sees-cookies.ts', import.meta.url).pathname

describe('the sidecar judges session cookies on form routes', () => {
  let gw: TestGateway
  let cleanup: () => void
  let dir: string
  const sessions: Record<string, Jar> = {}

  before(async () => {
    ;({ dir, cleanup } = tempDir('gh-sidecar-session-'))
    writeFile(dir, 'users.htpasswd', `alice:${bcrypt.hashSync('alice-pw', 4)}\n`)
    const store = UserStore.open(`${dir}/users.sqlite`, { create: true, bcryptCost: 4 })
    store.addUser('dave', 'dave-pw')
    store.addToGroup('dave', 'staff')
    store.addUser('erin', 'erin-pw')
    store.addUser('pat', 'pat-pw')
    store.close()
    const auth = { realm: 'Office', provider: ['office', 'local'] }
    gw = await startGateway(
      {
        digest: { secret: 'sidecar-session-secret-0123456789' },
        trustedProxies: ['127.0.0.1'],
        sidecar: { path: '/auth' },
        providers: {
          office: { type: 'htpasswd', file: './users.htpasswd' },
          local: { type: 'sqlite', database: './users.sqlite', watchIntervalMs: 50 },
          cookies: { type: 'module', module: SEES_COOKIES, threads: 1 },
        },
        routes: [
          { path: '/app', auth: { ...auth, scheme: 'form' } },
          { path: '/staff', auth: { ...auth, scheme: 'form', require: { groups: ['staff'] } } },
          {
            path: '/writes',
            auth: {
              ...auth,
              scheme: 'form',
              limitExcept: { methods: ['GET'], require: { groups: ['staff'] } },
            },
          },
          { path: '/mixed', auth: { ...auth, scheme: ['form', 'basic'] } },
          { path: '/other', auth: { realm: 'Elsewhere', provider: 'office', scheme: 'form' } },
          { path: '/basic', auth: { ...auth, scheme: 'basic' } },
          { path: '/ctx', auth: { realm: 'Ctx', provider: 'cookies', scheme: ['form', 'basic'] } },
        ],
      },
      dir,
    )
    for (const [user, pw] of [
      ['alice', 'alice-pw'],
      ['dave', 'dave-pw'],
      ['erin', 'erin-pw'],
      ['pat', 'pat-pw'],
    ] as const) {
      sessions[user] = new Jar()
      assert.equal((await login(gw.url, sessions[user], user, pw, '/app/')).status, 303, user)
    }
  })

  after(async () => {
    await gw?.close()
    cleanup?.()
  })

  /** A sub-request as nginx's auth_request recipe sends it (Traefik/Caddy's headers with `flavour: 'forwarded'`). */
  async function ask(
    uri: string,
    headers: Record<string, string>,
    opts: { method?: string; flavour?: 'nginx' | 'forwarded' } = {},
  ) {
    const flavour =
      opts.flavour === 'forwarded'
        ? { 'x-forwarded-uri': uri, 'x-forwarded-method': opts.method ?? 'GET', 'x-forwarded-host': 'app.test' }
        : { 'x-original-uri': uri, ...(opts.method === undefined ? {} : { 'x-original-method': opts.method }) }
    const res = await request(`${gw.url}/auth`, { headers: { ...flavour, ...headers } })
    await res.body.text()
    return { status: res.statusCode, headers: res.headers }
  }
  const cookieOf = (user: string) => sessions[user]!.header()!

  test('a live session: 200 with the identity headers, never cached', async () => {
    const r = await ask('/staff/page?x=1', { ...HTML, cookie: cookieOf('dave') }, { method: 'GET' })
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], 'dave')
    assert.equal(r.headers['remote-user'], 'dave')
    assert.equal(r.headers['x-remote-groups'], 'staff')
    assert.equal(r.headers['cache-control'], 'no-store')
    assert.equal(r.headers['set-cookie'], undefined)
  })

  test('no session, a browser through nginx: 401 naming the login page with the original URI, no challenge', async () => {
    const r = await ask('/app/page?x=1&y=2', HTML)
    assert.equal(r.status, 401)
    assert.equal(r.headers.location, `/.gatehouse/login?return=${encodeURIComponent('/app/page?x=1&y=2')}`)
    assert.equal(r.headers['www-authenticate'], undefined)
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test('no session, a browser through Traefik or Caddy (X-Forwarded-Uri): 303 to the login page', async () => {
    const r = await ask('/app/page?x=1', HTML, { flavour: 'forwarded' })
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, `/.gatehouse/login?return=${encodeURIComponent('/app/page?x=1')}`)
  })

  test('no session, not a browser, form alone: 401 without a challenge or a Location', async () => {
    const r = await ask('/app/x', { accept: 'application/json' })
    assert.equal(r.status, 401)
    assert.equal(r.headers.location, undefined)
    assert.equal(r.headers['www-authenticate'], undefined)
  })

  test('[form, basic]: a script gets the Basic challenge and passes with Basic; a session passes too', async () => {
    const challenged = await ask('/mixed/x', {})
    assert.equal(challenged.status, 401)
    assert.equal(challenged.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(challenged.headers.location, undefined)
    const ok = await ask('/mixed/x', { authorization: basic('alice', 'alice-pw') })
    assert.equal(ok.status, 200)
    assert.equal(ok.headers['x-remote-user'], 'alice')
    const bySession = await ask('/mixed/x', { cookie: cookieOf('erin') })
    assert.equal(bySession.status, 200)
    assert.equal(bySession.headers['x-remote-user'], 'erin')
  })

  test('a session of a user outside require: 403, not the login page', async () => {
    const r = await ask('/staff/x', { ...HTML, cookie: cookieOf('erin') })
    assert.equal(r.status, 403)
    assert.equal(r.headers.location, undefined)
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test('limitExcept is judged on the original method; a sub-request that does not say it gets the stricter rule', async () => {
    const cookie = cookieOf('erin')
    assert.equal((await ask('/writes/x', { cookie }, { method: 'GET' })).status, 200)
    assert.equal((await ask('/writes/x', { cookie }, { method: 'POST' })).status, 403)
    assert.equal((await ask('/writes/x', { cookie })).status, 403, 'no X-Original-Method')
    assert.equal((await ask('/writes/x', { cookie: cookieOf('dave') }, { method: 'POST' })).status, 200)
    assert.equal((await ask('/writes/x', { cookie }, { method: 'POST', flavour: 'forwarded' })).status, 403)
  })

  test("a session of another realm or chain does not count: the browser is sent to that route's login", async () => {
    const r = await ask('/other/x', { ...HTML, cookie: cookieOf('alice') })
    assert.equal(r.status, 401)
    assert.equal(r.headers.location, `/.gatehouse/login?return=${encodeURIComponent('/other/x')}`)
  })

  test('a route without form ignores the session cookie: the Basic challenge', async () => {
    const r = await ask('/basic/x', { ...HTML, cookie: cookieOf('alice') })
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
  })

  test('a forged or unknown session id gets the login page', async () => {
    for (const cookie of [`gatehouse_session=${'A'.repeat(43)}`, 'gatehouse_session=short', 'gatehouse_session=']) {
      const r = await ask('/app/x', { ...HTML, cookie })
      assert.equal(r.status, 401, cookie)
      assert.match(String(r.headers.location), /^\/\.gatehouse\/login\?return=/, cookie)
    }
  })

  test("the providers' context of a sub-request never holds the session cookie, other cookies stay", async () => {
    const r = await ask('/ctx/x', {
      authorization: basic('carol', 'any'),
      cookie: `theirs=1; gatehouse_session=${'B'.repeat(43)}; gatehouse_session_login=${'C'.repeat(43)}`,
    })
    assert.equal(r.status, 200)
    assert.equal(r.headers['x-remote-user'], 'carol')
  })

  test('logout at the front ends the session for the sidecar at once (the same sessions)', async () => {
    const jar = new Jar()
    assert.equal((await login(gw.url, jar, 'alice', 'alice-pw', '/app/')).status, 303)
    const stolen = jar.header()!
    assert.equal((await ask('/app/x', { ...HTML, cookie: stolen })).status, 200)
    const page = await send(gw.url, '/.gatehouse/logout', { headers: HTML, jar })
    const out = await send(gw.url, '/.gatehouse/logout', {
      ...form({ csrf: hiddenField(page.body, 'csrf') ?? '' }),
      jar,
    })
    assert.equal(out.status, 303)
    const r = await ask('/app/x', { ...HTML, cookie: stolen })
    assert.equal(r.status, 401)
    assert.equal(r.headers['x-remote-user'], undefined)
  })

  test('a password change in SQLite ends the session for the sidecar within 2 s', async () => {
    const cookie = cookieOf('pat')
    assert.equal((await ask('/app/x', { cookie })).status, 200)
    const s = UserStore.open(`${dir}/users.sqlite`)
    try {
      s.setPassword('pat', 'pat-new-pw')
    } finally {
      s.close()
    }
    const deadline = Date.now() + 2000
    let status = 200
    while (Date.now() < deadline && status !== 401) {
      await sleep(100)
      status = (await ask('/app/x', { cookie })).status
    }
    assert.equal(status, 401)
    assert.equal((await ask('/app/x', { ...HTML, cookie })).status, 401, 'ended, not only refused once')
  })

  test('no log line holds a session id', async () => {
    const text = gw.logs.join('')
    for (const user of ['alice', 'dave', 'erin']) {
      const id = sessions[user]!.cookies.get('gatehouse_session')!
      assert.ok(!text.includes(id), user)
    }
  })
})
