/** The `session:` section and `scheme: form`: defaults, and errors that name the key. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseConfig } from '../../src/config/parse.js'
import { LoginPage } from '../../src/session/login-page.js'

const providers = { office: { type: 'htpasswd', file: './u' } }
const formRoute = {
  path: '/app',
  upstream: 'http://127.0.0.1:1',
  auth: { realm: 'R', provider: 'office', scheme: 'form' },
}

function problem(raw: Record<string, unknown>): string {
  try {
    parseConfig({ providers, ...raw }, { baseDir: '/etc/gh' })
  } catch (err) {
    return (err as Error).message
  }
  return 'no error'
}

test('defaults: /.gatehouse/login and /.gatehouse/logout, cookie gatehouse_session, 30 min idle, 12 h lifetime', () => {
  const c = parseConfig({ providers, routes: [formRoute] }, { baseDir: '/etc/gh' })
  assert.deepEqual(c.session, {
    loginPath: '/.gatehouse/login',
    logoutPath: '/.gatehouse/logout',
    cookieName: 'gatehouse_session',
    idleTimeoutMs: 1_800_000,
    lifetimeMs: 43_200_000,
  })
  assert.deepEqual(c.routes[0]!.auth!.scheme, ['form'])
})

test('scheme [form, basic] and the session keys are read as written', () => {
  const c = parseConfig(
    {
      providers,
      session: {
        loginPath: '/login',
        logoutPath: '/logout',
        cookie: { name: 'sid', domain: 'example.org' },
        idleTimeout: '10m',
        lifetime: '1h',
        template: 'login.html',
      },
      routes: [{ ...formRoute, auth: { ...formRoute.auth, scheme: ['form', 'basic'] } }],
    },
    { baseDir: '/etc/gh' },
  )
  assert.deepEqual(c.routes[0]!.auth!.scheme, ['form', 'basic'])
  assert.deepEqual(c.session, {
    loginPath: '/login',
    logoutPath: '/logout',
    cookieName: 'sid',
    cookieDomain: 'example.org',
    idleTimeoutMs: 600_000,
    lifetimeMs: 3_600_000,
    template: '/etc/gh/login.html',
  })
})

test('bad session values are refused naming their key', () => {
  assert.match(problem({ routes: [formRoute], session: { loginPath: '//evil' } }), /session\.loginPath: expected/)
  assert.match(
    problem({ routes: [formRoute], session: { cookie: { name: 'a;b' } } }),
    /session\.cookie\.name: expected/,
  )
  assert.match(
    problem({ routes: [formRoute], session: { cookie: { domain: 'a b' } } }),
    /session\.cookie\.domain: expected/,
  )
  assert.match(
    problem({ routes: [formRoute], session: { idleTimeout: 0 } }),
    /session\.idleTimeout: expected more than 0/,
  )
  assert.match(problem({ routes: [formRoute], session: { lifetime: '0s' } }), /session\.lifetime: expected more than 0/)
  assert.match(
    problem({ routes: [formRoute], session: { loginPath: '/x', logoutPath: '/x' } }),
    /session\.logoutPath: \/x is also session\.loginPath/,
  )
  assert.match(
    problem({ routes: [formRoute], session: { loginPath: '/app' } }),
    /session\.loginPath: \/app is also the path of routes\[0\]/,
  )
  assert.match(problem({ routes: [formRoute], session: { colour: 'red' } }), /session\.colour: unknown key/)
  assert.match(
    problem({ routes: [{ ...formRoute, auth: { ...formRoute.auth, proxy: true } }] }),
    /routes\[0\]\.auth\.proxy: form login cannot be proxy authentication/,
  )
  assert.match(
    problem({ routes: [{ ...formRoute, auth: { ...formRoute.auth, scheme: 'cookie' } }] }),
    /routes\[0\]\.auth\.scheme/,
  )
})

test("a login template must hold the form's placeholders; the error names session.template", (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-tpl-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const bad = join(dir, 'bad.html')
  writeFileSync(bad, '<form action="{{action}}"></form>')
  assert.throws(() => new LoginPage(bad), /session\.template: .*lacks \{\{csrf\}\}, \{\{return\}\}/)
  assert.throws(() => new LoginPage(join(dir, 'missing.html')), /session\.template: cannot read/)
  const good = join(dir, 'good.html')
  writeFileSync(
    good,
    '<h1>Acme</h1><form method=post action="{{action}}"><input type=hidden name=csrf value="{{csrf}}"><input type=hidden name=return value="{{return}}">{{errorBlock}}</form>',
  )
  const html = new LoginPage(good).render({
    action: '/login',
    csrf: 'tok',
    returnTo: '/app',
    realm: 'R',
    error: 'Wrong.',
    logoutAction: '/logout',
  })
  assert.equal(
    html,
    '<h1>Acme</h1><form method=post action="/login"><input type=hidden name=csrf value="tok"><input type=hidden name=return value="/app"><p class="error" role="alert">Wrong.</p></form>',
  )
})

test("check-config reports a login template without the form's placeholders under session.template", async (t) => {
  const { checkConfigFiles } = await import('../../src/config/check-files.js')
  const dir = mkdtempSync(join(tmpdir(), 'gh-tpl-check-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'u'), '')
  writeFileSync(join(dir, 'login.html'), '<p>no form</p>')
  const config = parseConfig({ providers, session: { template: 'login.html' }, routes: [formRoute] }, { baseDir: dir })
  const problems = checkConfigFiles(config).filter((p) => p.key === 'session.template')
  assert.equal(problems.length, 1)
  assert.match(problems[0]!.problem, /lacks \{\{action\}\}, \{\{csrf\}\}, \{\{return\}\}/)
})
