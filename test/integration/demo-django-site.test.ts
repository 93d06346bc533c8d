/**
 * examples/django-site run for real: its create-db.py makes the database with Django itself
 * (Debian's python3-django; skipped when missing), gatehouse starts from the example's own
 * gatehouse.yaml (only the database path and the port changed), and the README's users log
 * in with Basic in front of the example's tiny app.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { parse as parseYaml } from 'yaml'
import { request } from 'undici'
import { parseConfig } from '../../src/config/parse.js'
import { runGateway, type RunningGateway } from '../../src/gateway.js'
import { createLogger } from '../../src/log.js'
import { packageRoot } from '../../src/package-root.js'
import { tempDir } from '../helpers/gateway.js'
import { needs } from '../helpers/required-tool.js'

const PYTHON = '/usr/bin/python3'
const example = join(packageRoot(), 'examples', 'django-site')
const hasDjango = spawnSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore' }).status === 0

let gw: RunningGateway
let base: string
let cleanup: () => void

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

async function get(path: string, user?: string, password?: string) {
  const r = await request(`${base}${path}`, {
    headers: user === undefined ? {} : { authorization: basic(user, password ?? '') },
  })
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() }
}

describe(
  'examples/django-site',
  { skip: needs(hasDjango, 'Django is not installed (apt install python3-django)') },
  () => {
    before(async () => {
      const t = tempDir('gh-django-site-')
      cleanup = t.cleanup
      const db = join(t.dir, 'db.sqlite3')
      const made = execFileSync(PYTHON, [join(example, 'create-db.py'), db], { encoding: 'utf8' })
      assert.match(made, /with Django [0-9.]+: 5 users, 1 group/)
      const raw = parseYaml(readFileSync(join(example, 'gatehouse.yaml'), 'utf8')) as {
        listen: unknown
        providers: { djangosite: { database: string } }
      }
      raw.listen = { host: '127.0.0.1', port: 0 }
      raw.providers.djangosite.database = db
      const sink = new Writable({
        write(_c, _e, cb) {
          cb()
        },
      })
      gw = await runGateway(parseConfig(raw, { baseDir: example }), {
        logger: createLogger('silent', sink),
        signals: false,
      })
      base = `http://127.0.0.1:${new URL(gw.address).port}`
    })

    after(async () => {
      await gw?.stop()
      cleanup?.()
    })

    test('a staff user gets /reports/ and the app sees the Django user and groups', async () => {
      const r = await get('/reports/', 'ann', 'ann-pass')
      assert.equal(r.status, 200)
      assert.match(r.body, /<b id="user">ann<\/b>/)
      assert.match(r.body, /<span id="groups">staff<\/span>/)
      assert.equal((await get('/reports/', 'admin', 'admin-pass')).status, 200)
    })

    test('a user outside staff gets 403 on /reports/ and 200 on /', async () => {
      assert.equal((await get('/reports/', 'ben', 'ben-pass')).status, 403)
      const r = await get('/', 'ben', 'ben-pass')
      assert.equal(r.status, 200)
      assert.match(r.body, /<b id="user">ben<\/b>/)
    })

    test('inactive, unusable-password, unknown and wrong-password users get 401 with the Basic challenge', async () => {
      for (const [user, password] of [
        ['carl', 'carl-pass'],
        ['dora', ''],
        ['dora', 'anything'],
        ['zoe', 'zoe-pass'],
        ['ann', 'wrong'],
      ] as const) {
        const r = await get('/', user, password)
        assert.equal(r.status, 401, `${user}`)
        assert.equal(r.headers['www-authenticate'], 'Basic realm="Site", charset="UTF-8"')
      }
    })

    test('without credentials both routes challenge with their own realm', async () => {
      assert.equal((await get('/reports/')).headers['www-authenticate'], 'Basic realm="Reports", charset="UTF-8"')
      assert.equal((await get('/')).headers['www-authenticate'], 'Basic realm="Site", charset="UTF-8"')
    })
  },
)
