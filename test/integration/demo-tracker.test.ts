/**
 * The tracker-with-Django-users demo, run for real: the front from the example's
 * gatehouse.yaml, the tracker and accounts daemon groups (2 processes each), SQLite files in a
 * temp data dir. Users are created over HTTP through the accounts app and log into the tracker
 * at once, with Basic and with Digest, through the accounts app's provider. The example's apps
 * import 'gatehouse-auth/app' as a user's would (the built dist/, through the package's own
 * "exports"): `npm test` builds first, and this file builds when dist is missing.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { existsSync, statSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { request } from 'undici'
import { startDemo, type RunningDemo } from '../../src/cli/commands/demo.js'
import { createLogger } from '../../src/log.js'
import { clientResponse } from '../helpers/digest-client.js'
import { tempDir } from '../helpers/gateway.js'

const root = new URL('../../', import.meta.url)
if (!existsSync(new URL('dist/src/app-helpers.js', root)))
  execFileSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: root, stdio: 'inherit' })

type Algorithm = 'SHA-256' | 'MD5'
interface Reply {
  status: number
  headers: Record<string, string | string[] | undefined>
  body: string
}

let demo: RunningDemo
let cleanup: () => void
let admin: { name: string; password: string }
let alice: { name: string; password: string }

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

async function http(method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Reply> {
  const r = await request(`${demo.url}${path}`, {
    method: method as 'GET',
    headers,
    ...(body !== undefined ? { body } : {}),
  })
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() }
}

const get = (path: string, headers: Record<string, string> = {}) => http('GET', path, headers)

function post(path: string, form: Record<string, string>, headers: Record<string, string> = {}): Promise<Reply> {
  return http(
    'POST',
    path,
    { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    new URLSearchParams(form).toString(),
  )
}

function challenges(r: Reply): string[] {
  const h = r.headers['www-authenticate']
  return Array.isArray(h) ? h : h === undefined ? [] : [h]
}

/** A Digest Authorization header answering the route's challenge for `algorithm`. */
async function digestHeader(
  path: string,
  user: string,
  password: string,
  algorithm: Algorithm = 'SHA-256',
): Promise<string> {
  const first = await get(path)
  assert.equal(first.status, 401)
  const ch = challenges(first).find((c) => c.includes(`algorithm=${algorithm},`))
  assert.ok(ch, `no ${algorithm} challenge in ${JSON.stringify(challenges(first))}`)
  const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
  const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
  const cnonce = 'a1b2c3d4e5f60718'
  const response = clientResponse({
    algorithm,
    username: user,
    realm: 'Tracker',
    password,
    method: 'GET',
    uri: path,
    nonce,
    cnonce,
    nc: '00000001',
    qop: 'auth',
  })
  return `Digest username="${user}", realm="Tracker", nonce="${nonce}", uri="${path}", algorithm=${algorithm}, qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
}

async function digestGet(
  path: string,
  user: string,
  password: string,
  algorithm: Algorithm = 'SHA-256',
): Promise<Reply> {
  return get(path, { authorization: await digestHeader(path, user, password, algorithm) })
}

function csrfIn(html: string): string {
  const m = /name="csrf" value="([^"]+)"/.exec(html)
  assert.ok(m, 'the page has a CSRF field')
  return m[1]!
}

/** Adds a user through the accounts admin page, as the seeded staff admin. */
async function adminAddUser(name: string, password: string, groups = ''): Promise<Reply> {
  const auth = { authorization: basic(admin.name, admin.password) }
  const page = await get('/accounts/', auth)
  assert.equal(page.status, 200)
  return post('/accounts/users', { csrf: csrfIn(page.body), name, password, groups }, auth)
}

async function adminSetActive(name: string, active: boolean): Promise<Reply> {
  const auth = { authorization: basic(admin.name, admin.password) }
  const page = await get('/accounts/', auth)
  return post(`/accounts/users/${name}/active`, { csrf: csrfIn(page.body), active: active ? '1' : '0' }, auth)
}

function loggedInAs(r: Reply, user: string): void {
  assert.equal(r.status, 200)
  assert.match(r.body, new RegExp(`logged in as <b class="user">${user}</b>`))
}

before(async () => {
  const t = tempDir('gh-demo-')
  cleanup = t.cleanup
  const sink = new Writable({
    write(_chunk, _enc, cb) {
      cb()
    },
  })
  demo = await startDemo({ dataDir: t.dir, port: 0, logger: createLogger('silent', sink), signals: false })
  admin = demo.users.find((u) => u.name === 'admin')!
  alice = demo.users.find((u) => u.name === 'alice')!
})

after(async () => {
  await demo?.gateway.stop()
  cleanup?.()
})

describe('the demo starts from its own configuration', { skip: process.platform === 'win32' }, () => {
  test('the data dir holds the generated Digest secret (0600) and both databases', () => {
    const secret = join(demo.dataDir, 'digest.secret')
    assert.equal(statSync(secret).mode & 0o777, 0o600)
    assert.match(readFileSync(secret, 'utf8'), /^[A-Za-z0-9_-]{43}\n$/)
    assert.ok(statSync(join(demo.dataDir, 'accounts.sqlite')).isFile())
    assert.ok(statSync(join(demo.dataDir, 'tracker.sqlite')).isFile())
  })

  test('both groups run 2 processes', () => {
    const status = demo.gateway.supervisor!.status()
    assert.deepEqual(status.map((g) => [g.name, g.processes.filter((p) => p.state === 'ready').length]).sort(), [
      ['accounts', 2],
      ['tracker', 2],
    ])
  })

  test('the landing page is public and ignores a client-sent X-Remote-User', async () => {
    const r = await get('/', { 'x-remote-user': 'admin', 'x-remote-groups': 'staff' })
    assert.equal(r.status, 200)
    assert.match(r.body, /not logged in/)
    assert.doesNotMatch(r.body, /logged in as/)
  })

  test('/tracker without credentials gets 401 with SHA-256, MD5 and Basic challenges for realm Tracker', async () => {
    const r = await get('/tracker/')
    assert.equal(r.status, 401)
    const ch = challenges(r)
    assert.equal(ch.length, 3)
    assert.match(
      ch[0]!,
      /^Digest realm="Tracker", qop="auth", algorithm=SHA-256, nonce="[A-Za-z0-9_-]+", opaque="[A-Za-z0-9_-]+"/,
    )
    assert.match(ch[1]!, /^Digest realm="Tracker", qop="auth", algorithm=MD5, /)
    assert.equal(ch[2], 'Basic realm="Tracker", charset="UTF-8"')
  })
})

describe('logging into the tracker with the accounts app users', { skip: process.platform === 'win32' }, () => {
  test('the seeded user logs in with Digest SHA-256, Digest MD5 and Basic, and the tracker shows who is logged in', async () => {
    const sha = await digestGet('/tracker/', alice.name, alice.password, 'SHA-256')
    loggedInAs(sha, 'alice')
    assert.match(sha.body, /Hello, <span class="user">alice<\/span>/)
    assert.match(String(sha.headers['authentication-info']), /rspauth="[0-9a-f]{64}"/)
    loggedInAs(await digestGet('/tracker/', alice.name, alice.password, 'MD5'), 'alice')
    loggedInAs(await get('/tracker/', { authorization: basic(alice.name, alice.password) }), 'alice')
  })

  test('a user the staff admin adds through the accounts app logs into the tracker at once, with Basic and Digest', async () => {
    const added = await adminAddUser('bob', 'bob-password-1')
    assert.equal(added.status, 303)
    assert.equal(added.headers.location, '/accounts/')
    loggedInAs(await get('/tracker/', { authorization: basic('bob', 'bob-password-1') }), 'bob')
    loggedInAs(await digestGet('/tracker/', 'bob', 'bob-password-1', 'SHA-256'), 'bob')
    loggedInAs(await digestGet('/tracker/', 'bob', 'bob-password-1', 'MD5'), 'bob')
  })

  test('a visitor who signs up on the public page logs into the tracker at once', async () => {
    const form = await get('/accounts/signup')
    assert.equal(form.status, 200)
    const r = await post('/accounts/signup', {
      csrf: csrfIn(form.body),
      name: 'erin',
      password: 'erin-password',
      password2: 'erin-password',
    })
    assert.equal(r.status, 201)
    assert.match(r.body, /Welcome, erin/)
    loggedInAs(await digestGet('/tracker/tickets', 'erin', 'erin-password'), 'erin')
    loggedInAs(await get('/tracker/tickets', { authorization: basic('erin', 'erin-password') }), 'erin')
  })

  test('signing up with a taken name is refused with 409 and the password stays', async () => {
    const form = await get('/accounts/signup')
    const r = await post('/accounts/signup', {
      csrf: csrfIn(form.body),
      name: 'alice',
      password: 'hijack-attempt',
      password2: 'hijack-attempt',
    })
    assert.equal(r.status, 409)
    assert.equal((await get('/tracker/', { authorization: basic('alice', 'hijack-attempt') })).status, 401)
    loggedInAs(await get('/tracker/', { authorization: basic(alice.name, alice.password) }), 'alice')
  })

  test('a wrong password and an unknown user get 401 with Basic and with Digest', async () => {
    for (const [user, password] of [
      ['alice', 'wrong-password'],
      ['nobody-here', 'whatever-pw'],
    ] as const) {
      const b = await get('/tracker/', { authorization: basic(user, password) })
      assert.equal(b.status, 401, `Basic ${user}`)
      assert.equal(challenges(b).length, 3)
      const d = await digestGet('/tracker/', user, password)
      assert.equal(d.status, 401, `Digest ${user}`)
      assert.equal(challenges(d).length, 3)
    }
  })

  test('an inactive user gets 401 with Basic and Digest, and logs in again once reactivated', async () => {
    assert.equal((await adminAddUser('carol', 'carol-password')).status, 303)
    assert.equal((await adminSetActive('carol', false)).status, 303)
    assert.equal((await get('/tracker/', { authorization: basic('carol', 'carol-password') })).status, 401)
    assert.equal((await digestGet('/tracker/', 'carol', 'carol-password')).status, 401)
    assert.equal((await digestGet('/tracker/', 'carol', 'carol-password', 'MD5')).status, 401)
    assert.equal((await adminSetActive('carol', true)).status, 303)
    loggedInAs(await get('/tracker/', { authorization: basic('carol', 'carol-password') }), 'carol')
  })
})

describe('changes made through the accounts app', { skip: process.platform === 'win32' }, () => {
  test('a cached login stops working as soon as the admin deactivates the user, well before the 10 s cache TTL', async () => {
    assert.equal((await adminAddUser('dora', 'dora-password')).status, 303)
    const dora = { authorization: basic('dora', 'dora-password') }
    loggedInAs(await get('/tracker/', dora), 'dora')
    loggedInAs(await get('/tracker/', dora), 'dora') // now a cache hit
    const deactivatedAt = Date.now()
    assert.equal((await adminSetActive('dora', false)).status, 303)
    // The provider's env.changed() reaches the front over the group's control channel, beside the
    // HTTP answer: allow it a moment, far less than the TTL.
    let status = 200
    while (status === 200 && Date.now() - deactivatedAt < 5_000) {
      status = (await get('/tracker/', dora)).status
      if (status === 200) await new Promise((r) => setTimeout(r, 50))
    }
    assert.equal(status, 401)
  })
})

describe('group staff', { skip: process.platform === 'win32' }, () => {
  test('a user outside staff gets 403 on /tracker/admin and /accounts/', async () => {
    assert.equal((await get('/tracker/admin', { authorization: basic(alice.name, alice.password) })).status, 403)
    assert.equal((await digestGet('/tracker/admin', alice.name, alice.password)).status, 403)
    assert.equal((await get('/accounts/', { authorization: basic(alice.name, alice.password) })).status, 403)
    const r = await post(
      '/accounts/users',
      { name: 'mallory', password: 'mallory-pw' },
      { authorization: basic(alice.name, alice.password) },
    )
    assert.equal(r.status, 403)
  })

  test('the staff admin gets the tracker admin area and the accounts admin page', async () => {
    const t = await digestGet('/tracker/admin', admin.name, admin.password)
    loggedInAs(t, 'admin')
    assert.match(t.body, /<h1>Tracker admin<\/h1>/)
    const a = await get('/accounts/', { authorization: basic(admin.name, admin.password) })
    assert.equal(a.status, 200)
    assert.match(a.body, /<b>alice<\/b>/)
  })

  test('a user added to staff through the accounts app gets into /tracker/admin', async () => {
    assert.equal((await adminAddUser('frank', 'frank-password', 'staff, ops')).status, 303)
    const r = await get('/tracker/admin', { authorization: basic('frank', 'frank-password') })
    loggedInAs(r, 'frank')
    assert.match(r.body, /\(ops, staff\)/)
  })

  test('an admin POST without the CSRF token is refused with 403 and changes nothing', async () => {
    const auth = { authorization: basic(admin.name, admin.password) }
    const r = await post('/accounts/users', { name: 'ghost', password: 'ghost-password' }, auth)
    assert.equal(r.status, 403)
    const page = await get('/accounts/', auth)
    const cross = await post(
      '/accounts/users',
      { csrf: csrfIn(page.body), name: 'ghost', password: 'ghost-password' },
      { ...auth, 'sec-fetch-site': 'cross-site' },
    )
    assert.equal(cross.status, 403)
    assert.equal((await get('/tracker/', { authorization: basic('ghost', 'ghost-password') })).status, 401)
  })
})

describe('the tracker app', { skip: process.platform === 'win32' }, () => {
  test('tickets record who created, commented and closed them', async () => {
    const auth = { authorization: basic(alice.name, alice.password) }
    const form = await get('/tracker/tickets/new', auth)
    const created = await post(
      '/tracker/tickets',
      { csrf: csrfIn(form.body), title: 'Printer on fire', body: 'See [[PrinterNotes]].' },
      auth,
    )
    assert.equal(created.status, 303)
    const path = String(created.headers.location)
    assert.match(path, /^\/tracker\/tickets\/[0-9]+$/)
    const view = await get(path, auth)
    assert.match(view.body, /Printer on fire/)
    assert.match(view.body, /Reported by <b>alice<\/b>/)
    assert.match(view.body, /<a href="\/tracker\/wiki\/PrinterNotes">PrinterNotes<\/a>/)
    const bobAuth = { authorization: basic('bob', 'bob-password-1') }
    const token = csrfIn((await get(path, bobAuth)).body)
    assert.equal(
      (await post(`${path}/comments`, { csrf: token, body: 'Extinguisher is <b>here</b>' }, bobAuth)).status,
      303,
    )
    assert.equal((await post(`${path}/close`, { csrf: token }, bobAuth)).status, 303)
    const closed = await get(path, auth)
    assert.match(closed.body, /<span class="tag closed">closed<\/span>/)
    assert.match(closed.body, /closed by <b>bob<\/b>/)
    assert.match(closed.body, /Extinguisher is &#60;b&#62;here&#60;\/b&#62;/)
    const open = await get('/tracker/tickets?status=open', auth)
    assert.doesNotMatch(open.body, /Printer on fire/)
  })

  test("wiki pages are edited with history, under the editor's name", async () => {
    const auth = { authorization: basic(alice.name, alice.password) }
    assert.equal((await get('/tracker/wiki/PrinterNotes', auth)).status, 404)
    const edit = await get('/tracker/wiki/PrinterNotes/edit', auth)
    assert.equal(
      (await post('/tracker/wiki/PrinterNotes', { csrf: csrfIn(edit.body), body: 'First version' }, auth)).status,
      303,
    )
    const bobAuth = { authorization: basic('bob', 'bob-password-1') }
    const edit2 = await get('/tracker/wiki/PrinterNotes/edit', bobAuth)
    assert.match(edit2.body, /First version/)
    assert.equal(
      (await post('/tracker/wiki/PrinterNotes', { csrf: csrfIn(edit2.body), body: 'Second version, see #1' }, bobAuth))
        .status,
      303,
    )
    const view = await get('/tracker/wiki/PrinterNotes', auth)
    assert.match(view.body, /Second version, see <a href="\/tracker\/tickets\/1">#1<\/a>/)
    assert.match(view.body, /Last edited by <b>bob<\/b>/)
    const history = await get('/tracker/wiki/PrinterNotes/history', auth)
    assert.match(history.body, /<b>bob<\/b>[\s\S]*<b>alice<\/b>/)
  })
})

describe('the accounts group going down', { skip: process.platform === 'win32' }, () => {
  const accountsProcesses = () => demo.gateway.supervisor!.status().find((g) => g.name === 'accounts')!.processes
  const readyPids = () =>
    accountsProcesses()
      .filter((p) => p.state === 'ready' && p.pid !== undefined)
      .map((p) => p.pid!)

  async function until(what: string, check: () => boolean | Promise<boolean>, attempts = 400): Promise<void> {
    for (let i = 0; i < attempts; i++) {
      if (await check()) return
      await sleep(25)
    }
    assert.fail(`gave up waiting for ${what}`)
  }

  test('makes uncached tracker logins fail closed with 503, and they recover when the group is back', async () => {
    // dave never logged in: nothing of his is in the front's credential cache.
    assert.equal((await adminAddUser('dave', 'dave-password')).status, 303)
    let observed = false
    for (let attempt = 0; attempt < 5 && !observed; attempt++) {
      const digest = await digestHeader('/tracker/', 'dave', 'dave-password')
      for (const pid of readyPids()) process.kill(pid, 'SIGKILL')
      await until('no ready accounts process', () => readyPids().length === 0)
      const [right, wrong, viaDigest] = await Promise.all([
        get('/tracker/', { authorization: basic('dave', 'dave-password') }),
        get('/tracker/', { authorization: basic('dave', 'not-his-password') }),
        get('/tracker/', { authorization: digest }),
      ])
      assert.notEqual(wrong.status, 200, 'a wrong password never passes')
      if (readyPids().length > 0 && [right, wrong, viaDigest].some((r) => r.status !== 503)) continue // respawned already: kill again
      for (const r of [right, wrong, viaDigest]) {
        assert.equal(r.status, 503)
        assert.match(String(r.headers['retry-after']), /^[1-9][0-9]*$/)
        assert.doesNotMatch(r.body, /dave-password|not-his-password/)
      }
      observed = true
    }
    assert.ok(observed, 'saw the accounts group down')
    await until(
      'tracker logins work again',
      async () => (await get('/tracker/', { authorization: basic('dave', 'dave-password') })).status === 200,
      600,
    )
    loggedInAs(await digestGet('/tracker/', 'dave', 'dave-password'), 'dave')
    assert.equal((await get('/tracker/', { authorization: basic('dave', 'not-his-password') })).status, 401)
    await until('both accounts processes ready again', () => readyPids().length === 2)
  })
})
