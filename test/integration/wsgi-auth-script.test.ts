/**
 * mod_wsgi auth scripts, unchanged, as a Python group's provider: check_password,
 * get_realm_hash, groups_for_user and allow_access answer the front's Basic and Digest logins
 * and `require: { groups }` rules from inside the group's processes. Clients are independent of
 * gatehouse's code: curl for Digest, and RFC 7616 computed here with node:crypto.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHash } from 'node:crypto'
import { copyFileSync, existsSync, readFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { httpGet, type TextResponse } from '../helpers/http-get.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { PYTHON, requirePython, skipWithoutPython } from '../helpers/python.js'

const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'wsgi')
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const run = promisify(execFile)

type Res = TextResponse

let gw: TestGateway
let dir: string
let cleanup: () => void

const get = (path: string, headers: Record<string, string> = {}): Promise<Res> => httpGet(gw.port, path, headers)

/** RFC 7616 response for the challenge of `algorithm` in `challenges`, computed here. */
function digestAuthorization(
  challenges: string | string[] | undefined,
  algorithm: 'MD5' | 'SHA-256' | 'SHA-512-256',
  user: string,
  password: string,
  uri: string,
): string {
  const list = Array.isArray(challenges) ? challenges : [challenges ?? '']
  const challenge = list.find((c) => new RegExp(`algorithm=("?)${algorithm}\\1(,|$)`).test(c))
  assert.ok(challenge, `a ${algorithm} challenge in ${JSON.stringify(list)}`)
  const param = (name: string) => new RegExp(`${name}="([^"]*)"`).exec(challenge)?.[1] ?? ''
  const realm = param('realm')
  const nonce = param('nonce')
  const opaque = param('opaque')
  const hash = (s: string) =>
    (algorithm === 'MD5'
      ? createHash('md5')
      : algorithm === 'SHA-256'
        ? createHash('sha256')
        : createHash('sha512-256')
    )
      .update(s)
      .digest('hex')
  const cnonce = 'f2d3c4b5a6'
  const nc = '00000001'
  const ha1 = hash(`${user}:${realm}:${password}`)
  const ha2 = hash(`GET:${uri}`)
  const response = hash(`${ha1}:${nonce}:${nc}:${cnonce}:auth:${ha2}`)
  return `Digest username="${user}", realm="${realm}", nonce="${nonce}", uri="${uri}", algorithm=${algorithm}, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}"${opaque ? `, opaque="${opaque}"` : ''}`
}

describe("mod_wsgi auth scripts as a Python group's provider", { skip: skipWithoutPython() }, () => {
  before(async () => {
    requirePython()
    const t = tempDir('gh-wsgi-auth-')
    dir = t.dir
    cleanup = t.cleanup
    copyFileSync(join(FIXTURES, 'app.py'), join(dir, 'app.py'))
    copyFileSync(join(FIXTURES, 'auth.wsgi'), join(dir, 'auth.wsgi'))
    copyFileSync(join(FIXTURES, 'auth_algorithms.py'), join(dir, 'auth_algorithms.py'))
    const site = { wsgi: 'app.py', python: PYTHON, threads: 4 }
    gw = await startGateway(
      {
        digest: { secret: 'a-test-secret-of-enough-length' },
        groups: {
          wiki: { ...site, provider: 'auth.wsgi', providerTimeout: '1s', env: { AUTH_MARKER: join(dir, 'auth.log') } },
          modern: { ...site, provider: 'auth_algorithms.py' },
        },
        routes: [
          { path: '/wiki', group: 'wiki', auth: { scheme: 'basic', realm: 'Wiki', provider: 'wiki', cache: false } },
          {
            path: '/committers',
            group: 'wiki',
            auth: {
              scheme: 'basic',
              realm: 'Wiki',
              provider: 'wiki',
              require: { groups: ['committers'] },
              cache: false,
            },
          },
          {
            path: '/wiki-digest',
            group: 'wiki',
            auth: { scheme: 'digest', realm: 'Wiki', provider: 'wiki', algorithms: ['MD5'], cache: false },
          },
          {
            path: '/modern',
            group: 'modern',
            auth: {
              scheme: 'digest',
              realm: 'Modern',
              provider: 'modern',
              algorithms: ['SHA-256', 'SHA-512-256', 'MD5'],
              cache: false,
            },
          },
        ],
      },
      dir,
    )
  })

  after(async () => {
    await gw?.close()
    cleanup?.()
  })

  test('check_password: True lets the user in and the app sees REMOTE_USER; False and None are 401; the app never sees a refusal', async () => {
    const ok = await get('/wiki/environ', { authorization: basic('alice', 'wonderland') })
    assert.equal(ok.status, 200)
    assert.deepEqual(((j) => [j.REMOTE_USER, j.AUTH_TYPE])(JSON.parse(ok.text) as Record<string, unknown>), [
      'alice',
      'Basic',
    ])
    const unicode = await get('/wiki/environ', { authorization: basic('zoë', 'café') })
    assert.equal((JSON.parse(unicode.text) as { REMOTE_USER: string }).REMOTE_USER, 'zoë')
    const marker = join(dir, 'refused.marker')
    for (const [user, password] of [
      ['alice', 'wrong'],
      ['nobody', 'x'],
    ] as const) {
      const r = await get(`/wiki/closing?${marker}`, { authorization: basic(user, password) })
      assert.equal(r.status, 401, user)
      assert.equal(r.headers['www-authenticate'], 'Basic realm="Wiki", charset="UTF-8"')
    }
    assert.equal(existsSync(marker), false, 'the application never ran for a refused login')
    // The script ran in the group's processes, with the group's env, given the request's environ.
    assert.match(readFileSync(join(dir, 'auth.log'), 'utf8'), /^check_password GET Wiki$/m)
  })

  test('a string from check_password is the canonical user name', async () => {
    const r = await get('/wiki/environ', { authorization: basic('ALICE', 'wonderland') })
    assert.equal(r.status, 200)
    assert.equal((JSON.parse(r.text) as { REMOTE_USER: string }).REMOTE_USER, 'alice')
  })

  test('require: { groups } is decided by groups_for_user, bytes group names included', async () => {
    const alice = await get('/committers/environ', { authorization: basic('alice', 'wonderland') })
    assert.equal(alice.status, 200)
    const marker = join(dir, 'forbidden.marker')
    const bob = await get(`/committers/closing?${marker}`, { authorization: basic('bob', 'builder') })
    assert.equal(bob.status, 403)
    assert.equal(existsSync(marker), false, 'the application never ran for a forbidden user')
  })

  test('Digest with get_realm_hash: curl logs in, a wrong password is 401', async () => {
    const ok = await run('curl', [
      '-s',
      '-o',
      '-',
      '-w',
      '\n%{http_code}',
      '--digest',
      '-u',
      'alice:wonderland',
      `${gw.url}/wiki-digest/environ`,
    ])
    const [body, status] = ok.stdout.split(/\n(?=\d+$)/)
    assert.equal(status, '200')
    assert.deepEqual(((j) => [j.REMOTE_USER, j.AUTH_TYPE])(JSON.parse(body!) as Record<string, unknown>), [
      'alice',
      'Digest',
    ])
    const wrong = await run('curl', [
      '-s',
      '-o',
      '/dev/null',
      '-w',
      '%{http_code}',
      '--digest',
      '-u',
      'alice:nope',
      `${gw.url}/wiki-digest/environ`,
    ])
    assert.equal(wrong.stdout, '401')
  })

  test('Digest with get_realm_hash: Python requests logs in, a wrong password is 401', async () => {
    const script = [
      'import sys, requests',
      'from requests.auth import HTTPDigestAuth',
      'ok = requests.get(sys.argv[1], auth=HTTPDigestAuth("alice", "wonderland"))',
      'bad = requests.get(sys.argv[1], auth=HTTPDigestAuth("alice", "nope"))',
      'print(ok.status_code, ok.json()["REMOTE_USER"], bad.status_code)',
    ].join('\n')
    const { stdout } = await run(PYTHON, ['-c', script, `${gw.url}/wiki-digest/environ`])
    assert.equal(stdout.trim(), '200 alice 401')
  })

  test('get_realm_hash with an algorithm keyword answers SHA-256 and SHA-512-256 too', async () => {
    for (const algorithm of ['SHA-256', 'SHA-512-256', 'MD5'] as const) {
      const challenge = await get('/modern/environ')
      assert.equal(challenge.status, 401)
      const auth = digestAuthorization(
        challenge.headers['www-authenticate'],
        algorithm,
        'carol',
        'c4r0l',
        '/modern/environ',
      )
      const r = await get('/modern/environ', { authorization: auth })
      assert.equal(r.status, 200, algorithm)
      assert.equal((JSON.parse(r.text) as { REMOTE_USER: string }).REMOTE_USER, 'carol')
      const wrong = await get('/modern/environ', {
        authorization: digestAuthorization(
          challenge.headers['www-authenticate'],
          algorithm,
          'carol',
          'nope',
          '/modern/environ',
        ),
      })
      assert.equal(wrong.status, 401, `${algorithm} with a wrong password`)
    }
  })

  test('allow_access False is 403 before any login', async () => {
    const r = await get('/modern/environ', { 'x-block': 'yes' })
    assert.equal(r.status, 403)
  })

  test('a script blocked in one call does not hold up the process: another login completes meanwhile', async () => {
    const order: string[] = []
    const calls = () => readFileSync(join(dir, 'auth.log'), 'utf8').split('\n').length
    const before = calls()
    const slow = get('/wiki/environ', { authorization: basic('sleeper', 'x') }).then((r) => {
      order.push(`sleeper ${r.status}`)
    })
    // Once the sleeper's check_password is running (it left its mark), alice logs in on the same process.
    for (let i = 0; i < 400 && calls() === before; i++) await new Promise((r) => setTimeout(r, 10))
    assert.ok(calls() > before, 'the blocking call reached the script')
    const fast = await get('/wiki/environ', { authorization: basic('alice', 'wonderland') })
    order.push(`alice ${fast.status}`)
    await slow
    assert.deepEqual(order, ['alice 200', 'sleeper 503'])
  })

  test('faults fail closed: a raise is 500 with the password kept out of the log, a wrong type 500, a hang 503', async () => {
    rmSync(join(dir, 'refused.marker'), { force: true })
    const raised = await get('/wiki/environ', { authorization: basic('raiser', 'hunter2-secret') })
    assert.equal(raised.status, 500)
    const confused = await get('/wiki/environ', { authorization: basic('confused', 'x') })
    assert.equal(confused.status, 500)
    const hang = await get('/wiki/environ', { authorization: basic('sleeper', 'x') })
    assert.equal(hang.status, 503)
    const line = gw.logs.find((l) => l.includes('check_password raised RuntimeError'))
    assert.ok(line, 'the failure is logged with its traceback')
    assert.match(line, /cannot check \[redacted\]/)
    assert.equal(
      gw.logs.some((l) => l.includes('hunter2-secret')),
      false,
      'no log line carries the password',
    )
    // The group still answers logins after the faults.
    assert.equal((await get('/wiki/environ', { authorization: basic('alice', 'wonderland') })).status, 200)
  })
})
