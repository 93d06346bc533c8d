/**
 * Form login and sessions through a real gateway, a real upstream and real SQLite and
 * htpasswd providers: redirects to the login page, the cookie and its flags, fixation, CSRF,
 * open redirects, throttling shared with Basic, require rules, logout, revocation and expiry.
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import bcrypt from 'bcryptjs'
import { Agent, request } from 'undici'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { UserStore } from '../../providers/sqlite/store.js'
import { form, hiddenField, HTML, Jar, login, send } from '../helpers/form-client.js'
import { startPrivateApp as startApp } from '../helpers/private-app.js'

const run = promisify(execFile)
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

function cookieLine(setCookie: string | string[] | undefined, name: string): string | undefined {
  const lines = setCookie === undefined ? [] : Array.isArray(setCookie) ? setCookie : [setCookie]
  return lines.find((l) => l.startsWith(`${name}=`))
}

describe('form login', () => {
  let gw: TestGateway
  let app: Awaited<ReturnType<typeof startApp>>
  let cleanup: () => void
  let dir: string
  const base = () => gw.url

  before(async () => {
    ;({ dir, cleanup } = tempDir('gh-form-'))
    app = await startApp()
    writeFile(dir, 'users.htpasswd', `alice:${bcrypt.hashSync('alice-pw', 4)}\n`)
    const store = UserStore.open(`${dir}/users.sqlite`, { create: true, bcryptCost: 4 })
    store.addUser('dave', 'dave-pw')
    store.addToGroup('dave', 'staff')
    store.addUser('erin', 'erin-pw')
    store.addUser('mallory', 'mallory-pw')
    store.addToGroup('mallory', 'staff')
    store.close()
    const auth = { realm: 'Office', provider: ['office', 'local'] }
    gw = await startGateway(
      {
        digest: { secret: 'form-test-secret-0123456789' },
        providers: {
          office: { type: 'htpasswd', file: './users.htpasswd' },
          local: { type: 'sqlite', database: './users.sqlite', watchIntervalMs: 50 },
        },
        throttle: { delay: 0, perUser: { maxFailures: 3, window: '1m', lockout: '1m' }, perAddress: false },
        routes: [
          { path: '/app', upstream: app.url, auth: { ...auth, scheme: 'form' } },
          { path: '/staff', upstream: app.url, auth: { ...auth, scheme: 'form', require: { groups: ['staff'] } } },
          { path: '/both', upstream: app.url, auth: { ...auth, scheme: ['form', 'basic'] } },
          { path: '/other', upstream: app.url, auth: { realm: 'Elsewhere', provider: 'office', scheme: 'form' } },
        ],
      },
      dir,
    )
  })

  after(async () => {
    await gw?.close()
    await app?.close()
    cleanup?.()
  })

  test('a browser without a session is sent to the login page with the page it asked for; the app sees nothing', async () => {
    const before = app.seen.length
    const r = await send(base(), '/app/page?x=1', { headers: HTML })
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, `/.gatehouse/login?return=${encodeURIComponent('/app/page?x=1')}`)
    assert.equal(r.headers['cache-control'], 'no-store')
    assert.equal(app.seen.length, before)
  })

  test('the login page is accessible HTML with a CSRF token bound to a pre-session cookie, never cached', async () => {
    const jar = new Jar()
    const r = await send(base(), '/.gatehouse/login?return=%2Fapp%2Fpage', { headers: HTML, jar })
    assert.equal(r.status, 200)
    assert.equal(r.headers['cache-control'], 'no-store')
    assert.match(String(r.headers['content-security-policy']), /default-src 'none'/)
    assert.match(String(r.headers['content-security-policy']), /form-action 'self'/)
    assert.match(r.body, /<label for="username">/)
    assert.match(r.body, /<input id="username" name="username"[^>]*autocomplete="username"/)
    assert.match(r.body, /<input id="password" name="password" type="password" autocomplete="current-password"/)
    assert.doesNotMatch(r.body, /<script/i)
    assert.equal(hiddenField(r.body, 'return'), '/app/page')
    assert.match(hiddenField(r.body, 'csrf') ?? '', /^[A-Za-z0-9_-]{43}$/)
    const pre = cookieLine(r.headers['set-cookie'], 'gatehouse_session_login')
    assert.match(
      pre ?? '',
      /^gatehouse_session_login=[A-Za-z0-9_-]{43}; Path=\/\.gatehouse\/login; HttpOnly; SameSite=Strict$/,
    )
  })

  test('a login sets a host-only HttpOnly SameSite=Lax session cookie, returns to the page, and the app gets the identity but not the cookie', async () => {
    const jar = new Jar()
    const r = await login(base(), jar, 'alice', 'alice-pw', '/app/page?x=1')
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, '/app/page?x=1')
    const line = cookieLine(r.headers['set-cookie'], 'gatehouse_session')
    assert.match(line ?? '', /^gatehouse_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Lax$/)
    assert.ok(!jar.cookies.has('gatehouse_session_login'), 'the pre-session cookie is cleared')
    const page = await send(base(), '/app/page?x=1', { headers: { ...HTML, cookie: `${jar.header()}; theirs=1` } })
    assert.equal(page.status, 200)
    assert.equal(
      page.headers['cache-control'],
      'no-store',
      'the app asked for public caching; the gateway says no-store',
    )
    assert.equal(page.headers.expires, undefined)
    const seen = app.seen.at(-1)!
    assert.equal(seen.url, '/app/page?x=1')
    assert.equal(seen.headers['x-remote-user'], 'alice')
    assert.equal(seen.headers.cookie, 'theirs=1')
  })

  test('fixation: neither the pre-session cookie nor a planted session id becomes the session; a second login rotates the id', async () => {
    const jar = new Jar()
    const planted = 'A'.repeat(43)
    jar.cookies.set('gatehouse_session', planted)
    const r = await login(base(), jar, 'alice', 'alice-pw')
    assert.equal(r.status, 303)
    const first = jar.cookies.get('gatehouse_session')!
    assert.notEqual(first, planted)
    const plantedTry = await send(base(), '/app/', { headers: { ...HTML, cookie: `gatehouse_session=${planted}` } })
    assert.equal(plantedTry.status, 303)

    const page = await send(base(), '/.gatehouse/login', { headers: HTML, jar })
    const pre = jar.cookies.get('gatehouse_session_login')!
    const again = await send(base(), '/.gatehouse/login', {
      ...form({ csrf: hiddenField(page.body, 'csrf')!, return: '/app/', username: 'alice', password: 'alice-pw' }),
      jar,
    })
    assert.equal(again.status, 303)
    const second = jar.cookies.get('gatehouse_session')!
    assert.notEqual(second, first)
    assert.notEqual(second, pre)
    assert.equal(
      (await send(base(), '/app/', { headers: { ...HTML, cookie: `gatehouse_session=${first}` } })).status,
      303,
      'the replaced id is dead',
    )
    assert.equal(
      (await send(base(), '/app/', { headers: { ...HTML, cookie: `gatehouse_session=${second}` } })).status,
      200,
    )
  })

  test('CSRF: a login POST without the token, with a wrong one, or without its pre-session cookie is refused 403 and starts no session', async () => {
    const jar = new Jar()
    const page = await send(base(), '/.gatehouse/login', { headers: HTML, jar })
    const token = hiddenField(page.body, 'csrf')!
    const other = new Jar()
    await send(base(), '/.gatehouse/login', { headers: HTML, jar: other })
    const cases: Array<[string, Record<string, string>, string | undefined]> = [
      ['no token', { username: 'alice', password: 'alice-pw', return: '/app/' }, jar.header()],
      ['wrong token', { csrf: 'x'.repeat(43), username: 'alice', password: 'alice-pw', return: '/app/' }, jar.header()],
      [
        'token of another pre-session cookie',
        { csrf: token, username: 'alice', password: 'alice-pw', return: '/app/' },
        other.header(),
      ],
      ['no pre-session cookie', { csrf: token, username: 'alice', password: 'alice-pw', return: '/app/' }, undefined],
    ]
    const before = app.seen.length
    for (const [name, fields, cookie] of cases) {
      const f = form(fields)
      const r = await send(base(), '/.gatehouse/login', {
        ...f,
        headers: { ...f.headers, ...(cookie ? { cookie } : {}) },
      })
      assert.equal(r.status, 403, name)
      assert.equal(r.headers['cache-control'], 'no-store', name)
      assert.equal(cookieLine(r.headers['set-cookie'], 'gatehouse_session'), undefined, name)
    }
    assert.equal(app.seen.length, before)
  })

  test('CSRF: a logout POST without or with a wrong token is refused 403 and the session lives on', async () => {
    const jar = new Jar()
    await login(base(), jar, 'alice', 'alice-pw')
    for (const fields of [{}, { csrf: 'y'.repeat(43) }]) {
      const r = await send(base(), '/.gatehouse/logout', { ...form(fields), jar })
      assert.equal(r.status, 403)
      assert.equal(cookieLine(r.headers['set-cookie'], 'gatehouse_session'), undefined)
    }
    assert.equal((await send(base(), '/app/', { headers: HTML, jar })).status, 200)
  })

  test('logout ends the session server-side: the old cookie, replayed, is refused and the app never sees the request', async () => {
    const jar = new Jar()
    await login(base(), jar, 'alice', 'alice-pw')
    const stolen = jar.header()!
    const confirm = await send(base(), '/.gatehouse/logout', { headers: HTML, jar })
    assert.equal(confirm.status, 200)
    assert.equal(confirm.headers['cache-control'], 'no-store')
    const r = await send(base(), '/.gatehouse/logout', { ...form({ csrf: hiddenField(confirm.body, 'csrf')! }), jar })
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, '/.gatehouse/login')
    assert.match(cookieLine(r.headers['set-cookie'], 'gatehouse_session') ?? '', /^gatehouse_session=; .*Max-Age=0/)
    const before = app.seen.length
    const replay = await send(base(), '/app/', { headers: { ...HTML, cookie: stolen } })
    assert.equal(replay.status, 303)
    assert.equal(app.seen.length, before)
  })

  const vectors = [
    '//evil.example',
    '//evil.example/app',
    '/\\evil.example',
    '\\evil.example',
    '%2F%2Fevil.example',
    '/%2F%2Fevil.example',
    '/%2fevil.example',
    '/app/%2F%2Fevil.example',
    'https://evil.example/',
    'http:/evil.example',
    'javascript:alert(1)',
    '///evil.example',
    '/app/\r\nSet-Cookie: x=1',
    '/app/\x00',
    '/app/../../evil',
    '/app/%2e%2e/evil',
    ' /app/',
    '/app/\t',
    '/nowhere',
    '',
    'evil.example',
  ]
  test('open redirects: a return value that is not a path of a form route falls back to the first form route, in the page and after login', async () => {
    for (const v of vectors) {
      const page = await send(base(), `/.gatehouse/login?return=${encodeURIComponent(v)}`, { headers: HTML })
      assert.equal(page.status, 200, JSON.stringify(v))
      assert.equal(hiddenField(page.body, 'return'), '/app', JSON.stringify(v))
    }
    for (const v of vectors) {
      const jar = new Jar()
      const page = await send(base(), '/.gatehouse/login', { headers: HTML, jar })
      const r = await send(base(), '/.gatehouse/login', {
        ...form({ csrf: hiddenField(page.body, 'csrf')!, return: v, username: 'alice', password: 'alice-pw' }),
        jar,
      })
      assert.equal(r.status, 303, JSON.stringify(v))
      assert.equal(r.headers.location, '/app', JSON.stringify(v))
    }
    const ok = await send(base(), `/.gatehouse/login?return=${encodeURIComponent('/staff/x?y=1')}`, { headers: HTML })
    assert.equal(hiddenField(ok.body, 'return'), '/staff/x?y=1')
  })

  test('scheme [form, basic]: a browser is sent to the login page, curl gets 401 with the Basic challenge, curl -u gets in', async () => {
    const browser = await send(base(), '/both/x', { headers: HTML })
    assert.equal(browser.status, 303)
    const out = (await run('curl', ['-s', '-o', '/dev/null', '-D', '-', `${base()}/both/x`], { encoding: 'utf8' }))
      .stdout
    assert.match(out, /^HTTP\/1\.1 401/)
    assert.match(out, /^www-authenticate: Basic realm="Office", charset="UTF-8"\r$/im)
    assert.equal(out.match(/www-authenticate/gi)?.length, 1)
    assert.match(out, /^cache-control: no-store\r$/im)
    const before = app.seen.length
    const ok = (
      await run('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '-u', 'alice:alice-pw', `${base()}/both/x`], {
        encoding: 'utf8',
      })
    ).stdout
    assert.equal(ok, '200')
    assert.equal(app.seen.length, before + 1)
    const viaBasic = await send(base(), '/both/y', {
      headers: {
        authorization: `Basic ${Buffer.from('alice:alice-pw').toString('base64')}`,
        cookie: `gatehouse_session=${'A'.repeat(43)}; theirs=1`,
      },
    })
    assert.equal(viaBasic.status, 200)
    assert.equal(
      app.seen.at(-1)!.headers.cookie,
      'theirs=1',
      'a session cookie never reaches the app, even on the Basic path',
    )
  })

  test('a session on a route whose require it does not satisfy gets 403, and the app never sees the request', async () => {
    const jar = new Jar()
    assert.equal((await login(base(), jar, 'erin', 'erin-pw')).status, 303)
    const before = app.seen.length
    const r = await send(base(), '/staff/', { headers: HTML, jar })
    assert.equal(r.status, 403)
    assert.equal(r.headers['cache-control'], 'no-store')
    assert.equal(app.seen.length, before)
    const wrongRealm = await send(base(), '/other/', { headers: HTML, jar })
    assert.equal(wrongRealm.status, 303, 'a session of another realm and chain does not count')
    assert.equal(app.seen.length, before)
  })

  test('a wrong password and an unknown user get the same page and status', async () => {
    const a = await login(base(), new Jar(), 'dave', 'not-it')
    const b = await login(base(), new Jar(), 'nobody-here', 'not-it')
    assert.equal(a.status, 401)
    assert.equal(b.status, 401)
    const strip = (s: string) => s.replace(/value="[A-Za-z0-9_-]{43}"/g, '')
    assert.equal(strip(a.body), strip(b.body))
  })

  test('throttling: refused form logins and refused Basic logins fill the same per-user count; then both get 429', async () => {
    assert.equal((await login(base(), new Jar(), 'mallory', 'bad-1')).status, 401)
    assert.equal((await login(base(), new Jar(), 'mallory', 'bad-2')).status, 401)
    const basic = await send(base(), '/both/', {
      headers: { authorization: `Basic ${Buffer.from('mallory:bad-3').toString('base64')}` },
    })
    assert.equal(basic.status, 401)
    const before = app.seen.length
    const locked = await login(base(), new Jar(), 'mallory', 'mallory-pw')
    assert.equal(locked.status, 429)
    assert.match(String(locked.headers['retry-after']), /^[0-9]+$/)
    assert.equal(cookieLine(locked.headers['set-cookie'], 'gatehouse_session'), undefined)
    const basicLocked = await send(base(), '/both/', {
      headers: { authorization: `Basic ${Buffer.from('mallory:mallory-pw').toString('base64')}` },
    })
    assert.equal(basicLocked.status, 429)
    assert.equal(app.seen.length, before)
  })

  test('bodies: a form over 8 KiB gets 413, another content type 415', async () => {
    const jar = new Jar()
    const page = await send(base(), '/.gatehouse/login', { headers: HTML, jar })
    const big = await send(base(), '/.gatehouse/login', {
      ...form({ csrf: hiddenField(page.body, 'csrf')!, username: 'alice', password: 'x'.repeat(9000) }),
      jar,
    })
    assert.equal(big.status, 413)
    const json = await send(base(), '/.gatehouse/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
      jar,
    })
    assert.equal(json.status, 415)
  })

  test('revocation: a password change, a group change and a deactivation in SQLite end or narrow sessions within 2 s', async () => {
    const jars = { pw: new Jar(), group: new Jar(), off: new Jar() }
    const store = UserStore.open(`${dir}/users.sqlite`)
    try {
      store.addUser('pat', 'pat-pw')
      store.addUser('gus', 'gus-pw')
      store.addToGroup('gus', 'staff')
      store.addUser('olga', 'olga-pw')
    } finally {
      store.close()
    }
    // The provider sees the new users once its watch notices the commit.
    for (let i = 0; i < 40 && (await login(base(), jars.pw, 'pat', 'pat-pw')).status !== 303; i++) await sleep(50)
    assert.equal((await login(base(), jars.group, 'gus', 'gus-pw', '/staff/')).status, 303)
    assert.equal((await login(base(), jars.off, 'olga', 'olga-pw')).status, 303)
    assert.equal((await send(base(), '/app/', { headers: HTML, jar: jars.pw })).status, 200)
    assert.equal((await send(base(), '/staff/', { headers: HTML, jar: jars.group })).status, 200)

    const s = UserStore.open(`${dir}/users.sqlite`)
    try {
      s.setPassword('pat', 'pat-new-pw')
      s.removeFromGroup('gus', 'staff')
      s.setActive('olga', false)
    } finally {
      s.close()
    }
    const deadline = Date.now() + 2000
    const status = { pw: 200, group: 200, off: 200 }
    while (Date.now() < deadline && (status.pw !== 303 || status.group !== 403 || status.off !== 303)) {
      await sleep(100)
      status.pw = (await send(base(), '/app/', { headers: HTML, jar: jars.pw })).status
      status.group = (await send(base(), '/staff/', { headers: HTML, jar: jars.group })).status
      status.off = (await send(base(), '/app/', { headers: HTML, jar: jars.off })).status
    }
    assert.deepEqual(status, { pw: 303, group: 403, off: 303 })
    assert.equal(
      (await send(base(), '/app/', { headers: HTML, jar: jars.group })).status,
      200,
      'gus still signs in where no group is required',
    )
  })

  test('no log line holds a password, a session id or a CSRF token', async () => {
    const jar = new Jar()
    await login(base(), jar, 'alice', 'alice-pw')
    await send(base(), '/app/', { headers: HTML, jar })
    assert.equal((await login(base(), new Jar(), 'dave', 'bad-1')).status, 401)
    const id = jar.cookies.get('gatehouse_session')!
    const text = gw.logs.join('')
    for (const secret of ['alice-pw', 'dave-pw', 'mallory-pw', 'bad-1', id]) assert.ok(!text.includes(secret), secret)
    assert.ok(text.includes('"refused":"wrong-password"'), 'refused form logins are logged like Basic ones')
  })
})

/** A gateway with one form route at `path` over an htpasswd file of `users`, stopped with the test. */
async function formGateway(
  t: { after: (fn: () => Promise<void>) => void },
  prefix: string,
  users: string,
  path: string,
  extra: Record<string, unknown> = {},
): Promise<{ gw: TestGateway; app: Awaited<ReturnType<typeof startApp>>; dir: string }> {
  const { dir, cleanup } = tempDir(prefix)
  const app = await startApp()
  writeFile(dir, 'users.htpasswd', users)
  const gw = await startGateway(
    {
      providers: { office: { type: 'htpasswd', file: './users.htpasswd' } },
      routes: [{ path, upstream: app.url, auth: { realm: 'Office', provider: 'office', scheme: 'form' } }],
      ...extra,
    },
    dir,
  )
  t.after(async () => {
    await gw.close()
    await app.close()
    cleanup()
  })
  return { gw, app, dir }
}

describe('session expiry', () => {
  test('a session unused for longer than idleTimeout ends; one in use ends at its lifetime', async (t) => {
    const { gw, app } = await formGateway(t, 'gh-form-exp-', `alice:${bcrypt.hashSync('alice-pw', 4)}\n`, '/app', {
      session: { idleTimeout: '1500ms', lifetime: '3s' },
    })
    const idle = new Jar()
    const busy = new Jar()
    assert.equal((await login(gw.url, idle, 'alice', 'alice-pw')).status, 303)
    assert.equal((await login(gw.url, busy, 'alice', 'alice-pw')).status, 303)
    const started = Date.now()
    // The busy session is used every 400 ms: never idle, yet it ends with its lifetime.
    let busyStatus = 200
    while (Date.now() - started < 3300) {
      await sleep(400)
      busyStatus = (await send(gw.url, '/app/', { headers: HTML, jar: busy })).status
      if (Date.now() - started < 2500) assert.equal(busyStatus, 200, 'a session in use lives until its lifetime')
    }
    assert.equal(busyStatus, 303)
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: idle })).status, 303, 'the idle session ended')
  })

  test('an idle session ends while a fresh one still works', async (t) => {
    const { gw, app } = await formGateway(t, 'gh-form-idle-', `alice:${bcrypt.hashSync('alice-pw', 4)}\n`, '/app', {
      session: { idleTimeout: '1s', lifetime: '1h' },
    })
    const old = new Jar()
    assert.equal((await login(gw.url, old, 'alice', 'alice-pw')).status, 303)
    await sleep(1200)
    const fresh = new Jar()
    assert.equal((await login(gw.url, fresh, 'alice', 'alice-pw')).status, 303)
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: fresh })).status, 200)
    const before = app.seen.length
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: old })).status, 303)
    assert.equal(app.seen.length, before)
  })
})

describe('gatehouse cache flush --user', () => {
  test("ends that user's sessions (the admin command answers how many) and leaves others signed in", async (t) => {
    const token = 'a-form-flush-test-token-0123456789'
    const { gw, app, dir } = await formGateway(
      t,
      'gh-form-flush-',
      `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`,
      '/app',
      { admin: { socket: './admin.sock', token } },
    )
    const alice1 = new Jar()
    const alice2 = new Jar()
    const bob = new Jar()
    for (const [jar, user] of [
      [alice1, 'alice'],
      [alice2, 'alice'],
      [bob, 'bob'],
    ] as const)
      assert.equal((await login(gw.url, jar, user, `${user}-pw`)).status, 303)
    const dispatcher = new Agent({ connect: { socketPath: `${dir}/admin.sock` } })
    t.after(() => dispatcher.close())
    const res = await request('http://localhost/cache/flush?user=alice', {
      method: 'POST',
      dispatcher,
      headers: { authorization: `Bearer ${token}` },
    })
    const body = JSON.parse(await res.body.text()) as { sessions?: number }
    assert.equal(res.statusCode, 200)
    assert.equal(body.sessions, 2)
    const before = app.seen.length
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: alice1 })).status, 303)
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: alice2 })).status, 303)
    assert.equal(app.seen.length, before)
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: bob })).status, 200)
  })
})

describe('configuration reload', () => {
  test('sessions survive a reload, and are checked again against the providers the new configuration names', async (t) => {
    const { dir, cleanup } = tempDir('gh-form-reload-')
    const app = await startApp()
    writeFile(dir, 'users.htpasswd', `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`)
    writeFile(dir, 'other.htpasswd', `alice:${bcrypt.hashSync('another-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`)
    const raw = (file: string) => ({
      listen: { host: '127.0.0.1', port: 0 },
      providers: { office: { type: 'htpasswd', file } },
      routes: [{ path: '/app', upstream: app.url, auth: { realm: 'Office', provider: 'office', scheme: 'form' } }],
    })
    const gw = await startGateway(raw('./users.htpasswd'), dir)
    t.after(async () => {
      await gw.close()
      await app.close()
      cleanup()
    })
    const alice = new Jar()
    const bob = new Jar()
    assert.equal((await login(gw.url, alice, 'alice', 'alice-pw')).status, 303)
    assert.equal((await login(gw.url, bob, 'bob', 'bob-pw')).status, 303)
    const { parseConfig } = await import('../../src/config/parse.js')
    assert.equal((await gw.gw.reload('test', parseConfig(raw('./users.htpasswd'), { baseDir: dir }))).ok, true)
    assert.equal(
      (await send(gw.url, '/app/', { headers: HTML, jar: alice })).status,
      200,
      'same providers: the session goes on',
    )
    assert.equal((await gw.gw.reload('test', parseConfig(raw('./other.htpasswd'), { baseDir: dir }))).ok, true)
    const before = app.seen.length
    assert.equal(
      (await send(gw.url, '/app/', { headers: HTML, jar: alice })).status,
      303,
      "alice's password differs in the new file: her session ends",
    )
    assert.equal(app.seen.length, before)
    assert.equal((await send(gw.url, '/app/', { headers: HTML, jar: bob })).status, 200)
  })
})

describe('a form route at /', () => {
  test('the login and logout paths are served by gatehouse, not forwarded to the route at /', async (t) => {
    const { gw, app } = await formGateway(t, 'gh-form-root-', `alice:${bcrypt.hashSync('alice-pw', 4)}\n`, '/')
    const first = await send(gw.url, '/', { headers: HTML })
    assert.equal(first.status, 303)
    assert.equal(first.headers.location, '/.gatehouse/login?return=%2F')
    const jar = new Jar()
    const r = await login(gw.url, jar, 'alice', 'alice-pw', '/deep/page')
    assert.equal(r.status, 303)
    assert.equal(r.headers.location, '/deep/page')
    assert.equal((await send(gw.url, '/deep/page', { headers: HTML, jar })).status, 200)
    assert.equal((await send(gw.url, '/.gatehouse/logout', { headers: HTML, jar })).status, 200)
    assert.ok(
      app.seen.every((s) => !s.url.startsWith('/.gatehouse/')),
      'the app never saw the login or logout',
    )
  })
})
