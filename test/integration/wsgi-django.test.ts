/**
 * A real Django 3.2 site (Debian's python3-django) in a Python group, and Django's own
 * mod_wsgi auth handler (django.contrib.auth.handlers.modwsgi) as the provider that protects
 * another WSGI application: in the documented form (imported into the site's wsgi.py) and as a
 * separate script. Every answer must equal the built-in `django` provider's on the same SQLite
 * database, made by Django itself (examples/django-site/create-db.py).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { httpGet, type TextResponse } from '../helpers/http-get.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { PYTHON, requirePython } from '../helpers/python.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const FIXTURES = join(HERE, '..', 'fixtures', 'wsgi')
const SITE = join(FIXTURES, 'django')
const CREATE_DB = join(HERE, '..', '..', 'examples', 'django-site', 'create-db.py')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

const hasDjango = spawnSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore' }).status === 0
const required = process.env.GATEHOUSE_INTEROP_REQUIRED === '1'

type Res = TextResponse

let gw: TestGateway
let cleanup: () => void

const get = (path: string, headers: Record<string, string> = {}): Promise<Res> => httpGet(gw.port, path, headers)

// Users made by create-db.py: admin and ann in group staff, ben in none, carl inactive, dora unusable.
const LOGINS: Array<[string, string]> = [
  ['admin', 'admin-pass'],
  ['ann', 'ann-pass'],
  ['ann', 'wrong'],
  ['ben', 'ben-pass'],
  ['carl', 'carl-pass'],
  ['dora', ''],
  ['dora', 'dora-pass'],
  ['nobody', 'x'],
]

describe(
  "a Django site's users protect another WSGI application",
  { skip: hasDjango || required ? false : 'Django is not installed (apt install python3-django)' },
  () => {
    before(async () => {
      requirePython()
      if (!hasDjango)
        throw new Error('python3-django is required (GATEHOUSE_INTEROP_REQUIRED=1): apt-get install python3-django')
      const t = tempDir('gh-wsgi-django-')
      cleanup = t.cleanup
      const db = join(t.dir, 'db.sqlite3')
      execFileSync(PYTHON, [CREATE_DB, db], { stdio: 'ignore' })
      const django = {
        python: PYTHON,
        pythonPath: [SITE],
        threads: 4,
        env: { DJANGO_SETTINGS_MODULE: 'mysite.settings', GATEHOUSE_DJANGO_DB: db, PYTHONDONTWRITEBYTECODE: '1' },
      }
      const plain = { wsgi: join(FIXTURES, 'app.py'), python: PYTHON, threads: 4 }
      const route = (path: string, provider: string, staff = false) => ({
        path,
        group: 'wiki',
        auth: {
          scheme: 'basic',
          realm: 'Wiki',
          provider,
          cache: false,
          ...(staff ? { require: { groups: ['staff'] } } : {}),
        },
      })
      gw = await startGateway(
        {
          // Many deliberate failures from one address: the login throttle is not what is tested here.
          throttle: { enabled: false },
          providers: { builtin: { type: 'django', database: db } },
          groups: {
            site: { ...django, wsgi: join(SITE, 'mysite', 'wsgi.py'), provider: join(SITE, 'mysite', 'wsgi.py') },
            scripted: { ...django, wsgi: join(FIXTURES, 'app.py'), provider: join(SITE, 'auth.wsgi') },
            wiki: plain,
          },
          routes: [
            { path: '/site', group: 'site' },
            route('/by-site', 'site'),
            route('/by-site-staff', 'site', true),
            route('/by-script', 'scripted'),
            route('/by-script-staff', 'scripted', true),
            route('/by-builtin', 'builtin'),
            route('/by-builtin-staff', 'builtin', true),
          ],
        },
        t.dir,
      )
    })

    after(async () => {
      await gw?.close()
      cleanup?.()
    })

    test("Django's check_password and groups_for_user answer as the built-in django provider does, login by login", async () => {
      const answers: Record<string, number[]> = {}
      for (const [user, password] of LOGINS) {
        const auth = { authorization: basic(user, password) }
        answers[`${user}:${password}`] = await Promise.all(
          ['/by-site', '/by-script', '/by-builtin', '/by-site-staff', '/by-script-staff', '/by-builtin-staff'].map(
            async (p) => (await get(`${p}/pid`, auth)).status,
          ),
        )
      }
      assert.deepEqual(answers, {
        'admin:admin-pass': [200, 200, 200, 200, 200, 200],
        'ann:ann-pass': [200, 200, 200, 200, 200, 200],
        'ann:wrong': [401, 401, 401, 401, 401, 401],
        'ben:ben-pass': [200, 200, 200, 403, 403, 403],
        'carl:carl-pass': [401, 401, 401, 401, 401, 401],
        'dora:': [401, 401, 401, 401, 401, 401],
        'dora:dora-pass': [401, 401, 401, 401, 401, 401],
        'nobody:x': [401, 401, 401, 401, 401, 401],
      })
    })

    test('the protected application sees the Django user as REMOTE_USER, and the groups Django gave as bytes', async () => {
      const r = await get('/by-site/environ', { authorization: basic('ann', 'ann-pass') })
      assert.equal(r.status, 200)
      assert.equal((JSON.parse(r.text) as { REMOTE_USER: string }).REMOTE_USER, 'ann')
      const staff = await get('/by-site-staff/pid', { authorization: basic('ann', 'ann-pass') })
      assert.equal(staff.status, 200)
    })

    test("the Django site itself runs in its group: its admin login page, mounted under the route's prefix", async () => {
      const r = await get('/site/admin/login/')
      assert.equal(r.status, 200)
      assert.match(r.text, /csrfmiddlewaretoken/)
      // Django builds its URLs from SCRIPT_NAME: the form posts back under /site.
      assert.match(r.text, /action="\/site\/admin\/login\/"/)
      const who = await get('/site/whoami')
      assert.deepEqual(JSON.parse(who.text), { REMOTE_USER: null, SCRIPT_NAME: '/site', path: '/site/whoami' })
    })
  },
)
