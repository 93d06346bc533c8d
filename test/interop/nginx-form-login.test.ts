/**
 * Form login through real nginx with gatehouse as its auth_request sidecar, using the shipped
 * example (examples/nginx-form-login: nginx.conf with its placeholders filled in, gatehouse.yaml
 * as it is but for `listen`). The client is written from HTTP and HTML alone
 * (test/helpers/form-client.ts): it follows the redirect nginx makes of the sidecar's 401, loads
 * the login page through nginx, posts it with the CSRF token and the pre-session cookie, and
 * logs out the same way. The echo app behind nginx records every request it gets.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { parse } from 'yaml'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { form, hiddenField, HTML, Jar, send } from '../helpers/form-client.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { needs } from '../helpers/required-tool.js'
import { isExecutable } from './helpers/run.js'
import { NGINX, startExampleNginx, type RunningNginx } from './helpers/nginx.js'

const skip = needs(isExecutable(NGINX), `nginx not found at ${NGINX} (Debian package nginx)`)

describe('form login through nginx auth_request with the example configuration', { skip }, () => {
  let echo: EchoUpstream
  let gw: TestGateway
  let nginx: RunningNginx
  let cleanup: () => void
  let base: string

  before(async () => {
    const t = tempDir('gh-nginx-form-')
    cleanup = t.cleanup
    writeFile(t.dir, 'users.htpasswd', `alice:${bcrypt.hashSync('alice-pw', 4)}\nbob:${bcrypt.hashSync('bob-pw', 4)}\n`)
    writeFile(t.dir, 'groups', 'staff: alice\n')
    writeFile(t.dir, 'digest-secret', 'nginx-form-test-secret-0123456789\n')
    const example = parse(
      readFileSync(new URL('../../examples/nginx-form-login/gatehouse.yaml', import.meta.url), 'utf8'),
    ) as Record<string, unknown>
    delete example.listen
    echo = await startEchoUpstream()
    gw = await startGateway(example, t.dir)
    nginx = await startExampleNginx(join(t.dir, 'nginx'), gw.port, echo.port, 'nginx-form-login')
    base = `http://127.0.0.1:${nginx.port}`
  })

  after(async () => {
    await nginx?.stop()
    await gw?.close()
    await echo?.close()
    cleanup?.()
  })

  /** The path and query of an absolute or relative Location. */
  function target(location: unknown): string {
    const u = new URL(String(location), base)
    return u.pathname + u.search
  }

  /** Follows the redirect to the login page, posts the form; the answer to the POST. */
  async function signIn(jar: Jar, loginTarget: string, user: string, password: string) {
    const page = await send(base, loginTarget, { headers: HTML, jar })
    assert.equal(page.status, 200, nginx.errorLog())
    const fields = { csrf: hiddenField(page.body, 'csrf') ?? '', return: hiddenField(page.body, 'return') ?? '' }
    return send(base, '/.gatehouse/login', { ...form({ ...fields, username: user, password }), jar })
  }

  test('an anonymous browser is redirected by nginx to the login page with the original URL; the app sees nothing', async () => {
    const before = echo.seen.length
    const r = await send(base, '/docs/page?x=1&y=2', { headers: HTML })
    assert.equal(r.status, 303, nginx.errorLog())
    // nginx makes the sidecar's relative Location absolute, with the Host the browser sent.
    assert.equal(r.headers.location, `${base}/.gatehouse/login?return=${encodeURIComponent('/docs/page?x=1&y=2')}`)
    assert.equal(echo.seen.length, before)
  })

  test('login through nginx returns to the page, and the app gets the user but not the session cookie', async () => {
    const jar = new Jar()
    const first = await send(base, '/docs/page?x=1&y=2', { headers: HTML, jar })
    const posted = await signIn(jar, target(first.headers.location), 'alice', 'alice-pw')
    assert.equal(posted.status, 303)
    assert.equal(posted.headers.location, '/docs/page?x=1&y=2')
    assert.match(jar.cookies.get('gatehouse_session') ?? '', /^[A-Za-z0-9_-]{43}$/)
    const page = await send(base, '/docs/page?x=1&y=2', {
      headers: { ...HTML, cookie: `theirs=1; ${jar.header()}; also=2` },
    })
    assert.equal(page.status, 200, nginx.errorLog())
    assert.equal(page.headers['cache-control'], 'no-store', "the recipe's add_header")
    const seen = JSON.parse(page.body)
    assert.equal(seen.url, '/docs/page?x=1&y=2')
    assert.equal(seen.headers['x-remote-user'], 'alice')
    assert.equal(seen.headers['x-remote-groups'], 'staff')
    assert.equal(seen.headers.cookie, 'theirs=1; also=2', "the map strips gatehouse's cookie, the app's stay")
    const alone = await send(base, '/docs/', { headers: { ...HTML, cookie: jar.header()! } })
    assert.equal(alone.status, 200)
    assert.equal(JSON.parse(alone.body).headers.cookie, undefined, 'no Cookie header is left to send')
  })

  test('logout with its CSRF token ends the session: the same cookie is redirected again and the app never sees it', async () => {
    const jar = new Jar()
    const posted = await signIn(jar, '/.gatehouse/login?return=%2Fdocs%2F', 'alice', 'alice-pw')
    assert.equal(posted.status, 303)
    const stolen = jar.header()!
    assert.equal((await send(base, '/docs/', { headers: { ...HTML, cookie: stolen } })).status, 200)
    const confirm = await send(base, '/.gatehouse/logout', { headers: HTML, jar })
    assert.equal(confirm.status, 200)
    const noToken = await send(base, '/.gatehouse/logout', { ...form({}), jar })
    assert.equal(noToken.status, 403, 'a logout without the token is refused')
    const out = await send(base, '/.gatehouse/logout', {
      ...form({ csrf: hiddenField(confirm.body, 'csrf') ?? '' }),
      jar,
    })
    assert.equal(out.status, 303)
    assert.equal(target(out.headers.location), '/.gatehouse/login')
    assert.equal(jar.cookies.has('gatehouse_session'), false, 'the cookie is cleared')
    const before = echo.seen.length
    const again = await send(base, '/docs/', { headers: { ...HTML, cookie: stolen } })
    assert.equal(again.status, 303)
    assert.equal(target(again.headers.location), `/.gatehouse/login?return=${encodeURIComponent('/docs/')}`)
    assert.equal(echo.seen.length, before, 'the app never saw the request with the ended session')
  })

  test('a session of a user outside the staff group gets 403 on /staff through nginx, and passes elsewhere', async () => {
    const jar = new Jar()
    assert.equal((await signIn(jar, '/.gatehouse/login?return=%2Fdocs%2F', 'bob', 'bob-pw')).status, 303)
    const before = echo.seen.length
    const staff = await send(base, '/staff/report', { headers: { ...HTML, cookie: jar.header()! } })
    assert.equal(staff.status, 403)
    assert.equal(echo.seen.length, before, 'the app never saw the refused request')
    const docs = await send(base, '/docs/', { headers: { ...HTML, cookie: jar.header()! } })
    assert.equal(docs.status, 200)
    assert.equal(JSON.parse(docs.body).headers['x-remote-user'], 'bob')
  })

  test('open-redirect attempts in the return URL land on the default path of this site', async () => {
    for (const evil of ['//evil.example/x', '/\\evil.example', 'https://evil.example/', '/%2F%2Fevil.example']) {
      const jar = new Jar()
      const r = await signIn(jar, `/.gatehouse/login?return=${encodeURIComponent(evil)}`, 'alice', 'alice-pw')
      assert.equal(r.status, 303, evil)
      assert.equal(r.headers.location, '/', evil)
    }
  })

  test('a client that is not a browser gets the Basic challenge of a [form, basic] route through nginx, and Basic passes', async () => {
    const before = echo.seen.length
    const r = await send(base, '/api/items')
    assert.equal(r.status, 401, nginx.errorLog())
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(r.headers.location, undefined)
    assert.equal(echo.seen.length, before)
    const basic = `Basic ${Buffer.from('bob:bob-pw').toString('base64')}`
    const ok = await send(base, '/api/items', { headers: { authorization: basic } })
    assert.equal(ok.status, 200)
    assert.equal(JSON.parse(ok.body).headers['x-remote-user'], 'bob')
    const browser = await send(base, '/api/items', { headers: HTML })
    assert.equal(browser.status, 303)
    assert.equal(target(browser.headers.location), `/.gatehouse/login?return=${encodeURIComponent('/api/items')}`)
  })
})
