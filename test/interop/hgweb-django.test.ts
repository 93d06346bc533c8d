/**
 * Mercurial's hgweb (Debian's mercurial) in a Python group, protected by the users of a Django
 * site (python3-django) whose own django.contrib.auth.handlers.modwsgi runs as the provider in
 * the site's group: the example examples/hgweb-with-django-users, its setup.py, settings,
 * wsgi.py, hgweb.wsgi and gatehouse.yaml as they are, with the real `hg` client.
 *
 * Everyone with a Django login may clone; only the committers group may push, and a push from
 * anyone else is refused by the front (`limitExcept`), before hgweb sees it. The hgweb group
 * runs the example's hgweb.wsgi through a recorder (test/fixtures/wsgi/hg-recorder.py) that
 * writes down every request reaching hgweb.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parse as parseYaml } from 'yaml'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { PYTHON } from '../helpers/python.js'
import { needs } from '../helpers/required-tool.js'
import { noProxyEnv, run, which, type RunResult } from './helpers/run.js'

const HERE = dirname(fileURLToPath(import.meta.url))
const EXAMPLE = join(HERE, '..', '..', 'examples', 'hgweb-with-django-users')
const RECORDER = join(HERE, '..', 'fixtures', 'wsgi', 'hg-recorder.py')
const HG = which('hg')
const hasDjango = existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import django'], { stdio: 'ignore' }).status === 0
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

const skip =
  needs(HG !== undefined, 'hg not found (Debian package mercurial)') ||
  needs(hasDjango, `Django not importable by ${PYTHON} (Debian package python3-django)`)

describe("hgweb protected by a Django site's users: committers push, others only clone", { skip }, () => {
  let gw: TestGateway
  let cleanup: () => void
  let dir: string
  let data: string
  let seen: string
  const repoUrl = (cred = '') => `http://${cred}127.0.0.1:${gw.port}/hg/demo`
  const served = () => join(data, 'repos', 'demo')
  const seenLines = () =>
    existsSync(seen)
      ? readFileSync(seen, 'utf8')
          .split('\n')
          .filter((l) => l !== '')
      : []

  /** `hg` with only the given config file (no ~/.hgrc, no /etc/mercurial), never prompting. */
  const hg = (args: string[], hgrc = join(dir, 'empty.hgrc')): Promise<RunResult> =>
    run(HG!, ['--noninteractive', ...args], {
      env: { ...noProxyEnv(), HGPLAIN: '1', HGRCPATH: hgrc, HOME: dir },
      timeoutMs: 60_000,
    })
  const ok = (r: RunResult, what: string) => assert.equal(r.code, 0, `${what}: ${r.stdout}${r.stderr}`)
  const servedLog = async () => {
    const r = await hg(['log', '-R', served(), '-T', '{node} {desc}\n'])
    ok(r, 'hg log of the served repository')
    return r.stdout
  }
  const commit = async (clone: string, user: string, message: string) => {
    writeFileSync(join(clone, `${user}.txt`), `${message}\n`)
    ok(await hg(['add', '-R', clone, join(clone, `${user}.txt`)]), 'hg add')
    ok(await hg(['commit', '-R', clone, '-u', `${user} <${user}@example.invalid>`, '-m', message]), 'hg commit')
  }
  const http = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    fetch(`${gw.url}${path}`, { method, headers, body, redirect: 'manual' })

  before(async () => {
    const t = tempDir('gh-hgweb-')
    cleanup = t.cleanup
    dir = t.dir
    data = join(dir, 'data')
    seen = join(dir, 'seen.log')
    writeFileSync(join(dir, 'empty.hgrc'), '')
    const setup = spawnSync(PYTHON, [join(EXAMPLE, 'setup.py')], {
      env: { ...process.env, HGSITE_DATA: data, PYTHONDONTWRITEBYTECODE: '1' },
      encoding: 'utf8',
    })
    assert.equal(setup.status, 0, `setup.py: ${setup.stderr}`)

    // The example's own configuration; only the port, the data directory and the recorder differ.
    const raw = parseYaml(readFileSync(join(EXAMPLE, 'gatehouse.yaml'), 'utf8')) as {
      listen?: unknown
      groups: Record<string, { wsgi: string; env?: Record<string, string> }>
    }
    delete raw.listen
    for (const g of Object.values(raw.groups)) g.env = { ...g.env, HGSITE_DATA: data, PYTHONDONTWRITEBYTECODE: '1' }
    const hgGroup = raw.groups.hg!
    hgGroup.env = { ...hgGroup.env, HGWEB_WSGI: join(EXAMPLE, hgGroup.wsgi), HG_SEEN: seen }
    hgGroup.wsgi = RECORDER
    gw = await startGateway(raw, EXAMPLE)
  })

  after(async () => {
    await gw?.close()
    cleanup?.()
  })

  test('a user outside committers clones with the credentials in the URL; hgweb sees her as REMOTE_USER', async () => {
    const clone = join(dir, 'ben')
    ok(await hg(['clone', repoUrl('ben:ben-pass@'), clone]), 'hg clone as ben')
    assert.equal(readFileSync(join(clone, 'README'), 'utf8'), 'A repository served by hgweb behind gatehouse.\n')
    const lines = seenLines()
    assert.ok(
      lines.some((l) => l.startsWith('GET cmd=getbundle') && l.endsWith(' ben')),
      lines.join('\n'),
    )
    assert.ok(
      lines.every((l) => l.startsWith('GET ')),
      lines.join('\n'),
    )
  })

  test('without credentials hg is refused with 401 by the front, and nothing reaches hgweb', async () => {
    const before = seenLines().length
    const r = await hg(['clone', repoUrl(), join(dir, 'anonymous')])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /authorization required/)
    for (const [method, query] of [
      ['GET', 'capabilities'],
      ['POST', 'unbundle'],
    ] as const) {
      const res = await http(
        method,
        `/hg/demo?cmd=${query}`,
        { 'content-type': 'application/mercurial-0.1' },
        method === 'POST' ? 'HG10UN' : undefined,
      )
      assert.equal(res.status, 401, `${method} ?cmd=${query}`)
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="Mercurial repositories", charset="UTF-8"')
    }
    assert.equal(seenLines().length, before)
  })

  test('a push from a user outside committers gets 403 from the front: hgweb never sees it and the repository is unchanged', async () => {
    const clone = join(dir, 'ben')
    const tip = await servedLog()
    await commit(clone, 'ben', 'ben tries to push')
    const before = seenLines().length
    const r = await hg(['push', '-R', clone, repoUrl('ben:ben-pass@')])
    assert.notEqual(r.code, 0)
    assert.match(r.stderr, /HTTP Error 403: Forbidden/)
    // hg asked for capabilities, heads and keys (reads, let through); the write never arrived.
    const during = seenLines().slice(before)
    assert.ok(during.length > 0 && during.every((l) => l.startsWith('GET ') && l.endsWith(' ben')), during.join('\n'))

    const res = await http(
      'POST',
      '/hg/demo?cmd=unbundle',
      { authorization: basic('ben', 'ben-pass'), 'content-type': 'application/mercurial-0.1' },
      'HG10UN',
    )
    assert.equal(res.status, 403)
    assert.equal(await res.text(), 'Forbidden\n')
    assert.equal(seenLines().length, before + during.length)
    assert.equal(await servedLog(), tip)
  })

  test('a committer pushes with credentials from an [auth] section and the changeset lands', async () => {
    const hgrc = join(dir, 'ann.hgrc')
    writeFileSync(hgrc, `[auth]\ndemo.prefix = ${repoUrl()}\ndemo.username = ann\ndemo.password = ann-pass\n`)
    const clone = join(dir, 'ann')
    ok(await hg(['clone', repoUrl(), clone], hgrc), 'hg clone as ann')
    await commit(clone, 'ann', 'ann was here')
    ok(await hg(['push', '-R', clone, repoUrl()], hgrc), 'hg push as ann')
    assert.match(await servedLog(), /^[0-9a-f]{40} ann was here$/m)
    assert.ok(seenLines().some((l) => l.startsWith('POST cmd=unbundle') && l.endsWith(' ann')))
  })

  test('the Django admin works through gatehouse: a user added there clones at once', async () => {
    const cookies = new Map<string, string>()
    const keep = (res: Response) => {
      for (const c of res.headers.getSetCookie()) {
        const [pair] = c.split(';')
        const i = pair!.indexOf('=')
        cookies.set(pair!.slice(0, i), pair!.slice(i + 1))
      }
      return res
    }
    const cookie = () => [...cookies].map(([k, v]) => `${k}=${v}`).join('; ')
    const token = async (path: string) => {
      const res = keep(await http('GET', path, { cookie: cookie() }))
      assert.equal(res.status, 200, path)
      return /name="csrfmiddlewaretoken" value="([^"]+)"/.exec(await res.text())![1]!
    }
    const post = async (path: string, form: Record<string, string>) =>
      keep(
        await http(
          'POST',
          path,
          { cookie: cookie(), 'content-type': 'application/x-www-form-urlencoded', referer: `${gw.url}${path}` },
          new URLSearchParams(form).toString(),
        ),
      )

    const login = await post('/admin/login/', {
      csrfmiddlewaretoken: await token('/admin/login/'),
      username: 'admin',
      password: 'admin-pass',
      next: '/admin/',
    })
    assert.equal(login.status, 302)
    assert.equal(login.headers.get('location'), '/admin/')
    const add = await post('/admin/auth/user/add/', {
      csrfmiddlewaretoken: await token('/admin/auth/user/add/'),
      username: 'cleo',
      password1: 'cleo-secret-4711',
      password2: 'cleo-secret-4711',
      _save: 'Save',
    })
    assert.equal(add.status, 302, await add.text())

    ok(await hg(['clone', repoUrl('cleo:cleo-secret-4711@'), join(dir, 'cleo')]), 'hg clone as cleo')
  })
})
