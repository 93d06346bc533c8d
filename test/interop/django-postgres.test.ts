/**
 * A Django 3.2 site (Debian's python3-django, /usr/bin/python3) whose database is PostgreSQL
 * (Debian's postgresql, psycopg2) protects another WSGI application through gatehouse: the
 * separate mod_wsgi auth script (django.setup(), then django.contrib.auth.handlers.modwsgi's
 * check_password and groups_for_user) is the Python group's provider. The cluster is the test's
 * own: initdb into a temporary directory, a unix socket there, no TCP. Users and groups are made
 * and changed by Django's ORM with the site's settings; the client is the real curl. The routes
 * set `cache: false`, so Django's handler answers every login (no cached identity to expire).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CURL, curl } from './helpers/curl.js'
import { startPostgres, skipUnlessPostgres, type PostgresCluster } from './helpers/postgres.js'
import { PYTHON, pythonScript, skipUnlessPython } from './helpers/python.js'
import { noProxyEnv, run, skipUnless } from './helpers/run.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const FIXTURES = join(HERE, '..', 'fixtures', 'wsgi')
const SITE = join(FIXTURES, 'django')
const DATABASE = 'site'
const CHALLENGE = 'Basic realm="Wiki", charset="UTF-8"'

const skip =
  skipUnlessPostgres() ||
  skipUnlessPython(['django', 'psycopg2'], 'python3-django python3-psycopg2') ||
  skipUnless(CURL, 'curl', 'curl')

interface Seen {
  REMOTE_USER: string | null
  AUTH_TYPE: string | null
  HTTP_X_REMOTE_USER: string | null
  HTTP_AUTHORIZATION: string | null
}

describe('a Django site on PostgreSQL checks the passwords of another WSGI application', { skip }, () => {
  let pg: PostgresCluster | undefined
  let gw: TestGateway | undefined
  let cleanup: (() => void) | undefined
  let record: string
  let djangoEnv: Record<string, string>

  /** Django's ORM, with the site's own settings, in a process of its own. */
  async function django(args: Record<string, unknown>): Promise<{ ok: true; django: number[]; vendor: string }> {
    const r = await run(PYTHON, [pythonScript('django_postgres_users.py'), JSON.stringify(args)], {
      env: { ...noProxyEnv(), ...djangoEnv, PYTHONPATH: SITE },
      timeoutMs: 120_000,
    })
    if (r.code !== 0)
      throw new Error(`django_postgres_users.py exited with ${r.code ?? r.signal}: ${r.stderr.slice(-2000)}`)
    return JSON.parse(r.stdout) as { ok: true; django: number[]; vendor: string }
  }

  const url = (path: string) => `${gw!.url}${path}`
  const login = (path: string, user: string, password: string) =>
    curl(url(path), ['--basic', '-u', `${user}:${password}`])
  /** How many requests the protected application has received so far. */
  const received = () =>
    readFileSync(record, 'utf8')
      .split('\n')
      .filter((l) => l !== '').length
  const cacheHits = () => gw!.gw.gatehouse.deps.identities.hits

  /** Asserts a refusal: the exact status and challenge, and that the application never saw it. */
  async function refused(path: string, user: string, password: string, status: 401 | 403): Promise<void> {
    const before = received()
    const r = await login(path, user, password)
    assert.equal(r.status, status, `${user} on ${path}`)
    if (status === 401) assert.deepEqual(r.headers['www-authenticate'], [CHALLENGE])
    else assert.equal(r.headers['www-authenticate'], undefined)
    assert.equal(received(), before, 'the application never saw the refused request')
  }

  /** Asserts a login the application received as that Django user. */
  async function admitted(path: string, user: string, password: string): Promise<void> {
    const before = received()
    const r = await login(path, user, password)
    assert.equal(r.status, 200, `${user} on ${path}`)
    assert.deepEqual(JSON.parse(r.body) as Seen, {
      REMOTE_USER: user,
      AUTH_TYPE: 'Basic',
      HTTP_X_REMOTE_USER: user,
      HTTP_AUTHORIZATION: null,
    })
    assert.equal(received(), before + 1)
  }

  before(async () => {
    pg = await startPostgres()
    const made = await pg.client('createdb', [DATABASE])
    assert.equal(made.code, 0, made.stderr)
    djangoEnv = {
      DJANGO_SETTINGS_MODULE: 'mysite.settings_postgres',
      GATEHOUSE_DJANGO_PG_HOST: pg.socketDir,
      GATEHOUSE_DJANGO_PG_NAME: DATABASE,
      GATEHOUSE_DJANGO_PG_USER: pg.role,
      PYTHONDONTWRITEBYTECODE: '1',
    }
    const created = await django({
      op: 'create',
      users: [
        { username: 'ann', password: 'ann-pass', groups: ['staff'] },
        { username: 'ben', password: 'ben-pass' },
        { username: 'carl', password: 'carl-pass', active: false },
        { username: 'dora', password: 'dora-old', groups: ['staff'] },
      ],
    })
    assert.equal(created.vendor, 'postgresql')

    const t = tempDir('gh-django-pg-')
    cleanup = t.cleanup
    record = join(t.dir, 'received.log')
    writeFileSync(record, '')
    const route = (path: string, staff: boolean) => ({
      path,
      group: 'wiki',
      auth: {
        scheme: 'basic',
        realm: 'Wiki',
        provider: 'site',
        cache: false,
        ...(staff ? { require: { groups: ['staff'] } } : {}),
      },
    })
    gw = await startGateway(
      {
        // Deliberate failures from one address: the login throttle is not what is tested here.
        throttle: { enabled: false },
        groups: {
          site: {
            wsgi: join(SITE, 'mysite', 'wsgi.py'),
            provider: join(SITE, 'auth.wsgi'),
            python: PYTHON,
            pythonPath: [SITE],
            threads: 4,
            env: djangoEnv,
          },
          wiki: { wsgi: join(FIXTURES, 'recorder.py'), python: PYTHON, threads: 2, env: { GATEHOUSE_RECORD: record } },
        },
        routes: [route('/wiki', false), route('/wiki-staff', true)],
      },
      t.dir,
    )
  })

  after(async () => {
    await gw?.close()
    await pg?.stop()
    cleanup?.()
  })

  test("the users live in PostgreSQL: Django's auth_user table, read back with psql", async () => {
    const r = await pg!.client('psql', [
      '-d',
      DATABASE,
      '-At',
      '-c',
      'SELECT username, is_active FROM auth_user ORDER BY username',
    ])
    assert.equal(r.code, 0, r.stderr)
    assert.deepEqual(r.stdout.trim().split('\n'), ['ann|t', 'ben|t', 'carl|f', 'dora|t'])
  })

  test('the right password: 200, and the application sees the Django user as REMOTE_USER and X-Remote-User, without Authorization', async () => {
    await admitted('/wiki/page', 'ann', 'ann-pass')
    await admitted('/wiki/page', 'ben', 'ben-pass')
  })

  test('a wrong password, an unknown user and an inactive user with the right password: 401 with the Basic challenge, never reaching the application', async () => {
    await refused('/wiki/page', 'ann', 'ann-wrong', 401)
    await refused('/wiki/page', 'ann', '', 401)
    await refused('/wiki/page', 'nobody', 'ann-pass', 401)
    await refused('/wiki/page', 'carl', 'carl-pass', 401)
  })

  test("require groups: Django's groups_for_user lets a staff member in (200) and refuses a user outside staff (403)", async () => {
    await admitted('/wiki-staff/page', 'ann', 'ann-pass')
    await refused('/wiki-staff/page', 'ben', 'ben-pass', 403)
    // A wrong password is still a 401 on the group route, not a 403 that would confirm the user.
    await refused('/wiki-staff/page', 'ben', 'ben-wrong', 401)
  })

  test("set_password + save through Django's ORM: the next login (cache: false) refuses the old password and accepts the new", async () => {
    const hits = cacheHits()
    await admitted('/wiki-staff/page', 'dora', 'dora-old')
    await admitted('/wiki-staff/page', 'dora', 'dora-old')
    await django({ op: 'set_password', username: 'dora', password: 'dora-new' })
    await refused('/wiki-staff/page', 'dora', 'dora-old', 401)
    await admitted('/wiki-staff/page', 'dora', 'dora-new')
    assert.equal(cacheHits(), hits, 'every login was answered by Django, none by the cache')
  })

  test('no log line carries a password or a Basic credential', () => {
    assert.ok(gw!.logs.length > 0, 'the gateway logged')
    const logs = gw!.logs.join('')
    for (const secret of [
      'ann-pass',
      'ann-wrong',
      'ben-pass',
      'ben-wrong',
      'carl-pass',
      'dora-old',
      'dora-new',
      'Basic YW5u',
    ]) {
      assert.equal(logs.includes(secret), false, `a log line contains ${secret}`)
    }
  })
})
