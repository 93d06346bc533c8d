/**
 * Files written by Apache's own tools (Debian apache2-utils): `htpasswd -b` in every
 * format it writes (bcrypt -B, MD5 -m, SHA-1 -s, crypt -d, SHA-256 -2, SHA-512 -5) and
 * `htdigest` (driven on a pseudo-terminal: it reads the password from the terminal) serve a
 * running gateway; real curl authenticates each user. Editing a file with the same tools while
 * the gateway runs is picked up without a restart (bounded polling).
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { CURL, curl, type CurlResult } from './helpers/curl.js'
import { runPythonJson, skipUnlessPython } from './helpers/python.js'
import { run, skipUnless } from './helpers/run.js'
import { REALM, startStack, type InteropStack } from './helpers/stack.js'

const HTPASSWD = '/usr/bin/htpasswd'
const HTDIGEST = '/usr/bin/htdigest'
const skip =
  skipUnless(HTPASSWD, 'htpasswd', 'apache2-utils') ||
  skipUnless(HTDIGEST, 'htdigest', 'apache2-utils') ||
  skipUnless(CURL, 'curl', 'curl') ||
  skipUnlessPython(['pty'], 'python3')

/** One user per format htpasswd writes; the pattern is what that format looks like in the file. */
const formats = [
  { flag: '-B', user: 'bea', password: 'b:crypt pw', pattern: /^\$2y\$\d\d\$[./A-Za-z0-9]{53}$/ },
  { flag: '-m', user: 'mike', password: 'apr1:pw é', pattern: /^\$apr1\$[./A-Za-z0-9]{1,8}\$[./A-Za-z0-9]{22}$/ },
  { flag: '-s', user: 'sam', password: 'sha1 pw', pattern: /^\{SHA\}[A-Za-z0-9+/]{27}=$/ },
  { flag: '-d', user: 'dora', password: 'crypt:88', pattern: /^[./A-Za-z0-9]{13}$/ },
  { flag: '-2', user: 'tess', password: 'sha-256 pw', pattern: /^\$5\$[^$]+\$[./A-Za-z0-9]{43}$/ },
  { flag: '-5', user: 'fifi', password: 'sha-512 pw', pattern: /^\$6\$[^$]+\$[./A-Za-z0-9]{86}$/ },
  { flag: '-B', user: 'zoë', password: 'ünïcode', pattern: /^\$2y\$/ },
] as const

const digestUsers = [
  { user: 'hilda', password: 'digest:pw 1' },
  { user: 'zoë', password: 'ünïcode dïgest' },
] as const

async function htpasswd(args: string[]): Promise<void> {
  const r = await run(HTPASSWD, args, { timeoutMs: 20_000 })
  assert.equal(r.code, 0, `htpasswd ${args[0]} exited with ${r.code}: ${r.stderr}`)
}

async function htdigest(file: string, user: string, password: string, create: boolean): Promise<void> {
  const r = await runPythonJson<{ exitCode: number; prompts: number; timedOut: boolean }>('htdigest_pty.py', {
    htdigest: HTDIGEST,
    file,
    realm: REALM,
    user,
    password,
    create,
  })
  assert.deepEqual(r, { exitCode: 0, prompts: 2, timedOut: false }, `htdigest for ${user}`)
}

/** Polls until `probe` gives `status` or about 5 s pass; returns the last result. Bounded. */
async function eventually(probe: () => Promise<CurlResult>, status: number): Promise<CurlResult> {
  const deadline = Date.now() + 5_000
  let last = await probe()
  while (last.status !== status && Date.now() < deadline) {
    await sleep(100)
    last = await probe()
  }
  return last
}

describe('Apache htpasswd and htdigest files', { skip }, () => {
  let stack: InteropStack
  let pwFile: string
  let digestFile: string
  const url = (path: string) => `${stack.gw.url}${path}`
  const basic = (path: string, user: string, password: string) =>
    curl(url(path), ['--basic', '-u', `${user}:${password}`])

  before(async () => {
    stack = await startStack(async ({ dir, upstream }) => {
      pwFile = join(dir, 'apache.htpasswd')
      digestFile = join(dir, 'apache.htdigest')
      let first = true
      for (const f of formats) {
        await htpasswd([
          first ? '-cb' : '-b',
          ...(f.flag === '-B' ? ['-B', '-C', '4'] : [f.flag]),
          pwFile,
          f.user,
          f.password,
        ])
        first = false
      }
      for (const [i, u] of digestUsers.entries()) await htdigest(digestFile, u.user, u.password, i === 0)
      return {
        providers: {
          apache: { type: 'htpasswd', file: './apache.htpasswd', watchIntervalMs: 100 },
          apachedigest: { type: 'htdigest', file: './apache.htdigest', watchIntervalMs: 100 },
        },
        routes: [
          { path: '/pw', upstream, auth: { scheme: 'basic', realm: REALM, provider: 'apache' } },
          { path: '/pw-nocache', upstream, auth: { scheme: 'basic', realm: REALM, provider: 'apache', cache: false } },
          {
            path: '/dg',
            upstream,
            auth: { scheme: ['digest', 'basic'], realm: REALM, provider: 'apachedigest', algorithms: ['MD5'] },
          },
          {
            path: '/dg-default',
            upstream,
            auth: { scheme: ['digest', 'basic'], realm: REALM, provider: 'apachedigest' },
          },
        ],
      }
    })
  })

  after(async () => {
    await stack?.close()
  })

  test('htpasswd wrote each user in the format its flag asks for', () => {
    const lines = new Map(
      readFileSync(pwFile, 'utf8')
        .trim()
        .split('\n')
        .map((l) => [l.slice(0, l.indexOf(':')), l.slice(l.indexOf(':') + 1)]),
    )
    for (const f of formats) assert.match(lines.get(f.user) ?? '', f.pattern, `${f.flag} ${f.user}`)
  })

  test('curl --basic authenticates every htpasswd user, in every format', async () => {
    for (const f of formats) {
      const r = await basic('/pw/', f.user, f.password)
      assert.equal(r.status, 200, `${f.flag} ${f.user}`)
      assert.equal(JSON.parse(r.body).headers['x-remote-user'], encodeURIComponent(f.user), `${f.flag} ${f.user}`)
    }
  })

  test('a wrong password fails with 401 for every htpasswd format', async () => {
    for (const f of formats) {
      const r = await basic('/pw/', f.user, `${f.password}x`.slice(1))
      assert.equal(r.status, 401, `${f.flag} ${f.user}`)
      assert.deepEqual(r.headers['www-authenticate'], [`Basic realm="${REALM}", charset="UTF-8"`])
    }
  })

  test('crypt (-d) uses only the first 8 characters, as Apache does', async () => {
    assert.equal((await basic('/pw/', 'dora', 'crypt:88-and-more')).status, 200)
  })

  test('curl --digest authenticates every htdigest user; the same file serves Basic', async () => {
    for (const u of digestUsers) {
      const d = await curl(url('/dg/'), ['--digest', '-u', `${u.user}:${u.password}`])
      assert.equal(d.status, 200, `digest ${u.user}`)
      assert.equal(JSON.parse(d.body).headers['x-remote-user'], encodeURIComponent(u.user))
      assert.match(String(d.headers['authentication-info']), /rspauth="[0-9a-f]{32}"/)
      const b = await basic('/dg/', u.user, u.password)
      assert.equal(b.status, 200, `basic ${u.user}`)
    }
  })

  test('curl --digest authenticates against an htdigest file on a route with the default algorithms (MD5 only is offered)', async () => {
    const r = await curl(url('/dg-default/'), ['--digest', '-u', `${digestUsers[0].user}:${digestUsers[0].password}`])
    assert.equal(r.status, 200)
  })

  test('a wrong password fails with 401 against the htdigest file, Digest and Basic', async () => {
    assert.equal((await curl(url('/dg/'), ['--digest', '-u', 'hilda:digest:pw 2'])).status, 401)
    assert.equal((await basic('/dg/', 'hilda', 'digest:pw 2')).status, 401)
  })

  test('a user added with htpasswd while the gateway runs can log in without a restart', async () => {
    assert.equal((await basic('/pw/', 'newbie', 'fresh:pw')).status, 401)
    await htpasswd(['-b', '-B', '-C', '4', pwFile, 'newbie', 'fresh:pw'])
    const r = await eventually(() => basic('/pw/', 'newbie', 'fresh:pw'), 200)
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).headers['x-remote-user'], 'newbie')
  })

  test('a user removed with htpasswd -D is refused without a restart (route without cache)', async () => {
    assert.equal((await basic('/pw-nocache/', 'sam', 'sha1 pw')).status, 200)
    const d = await run(HTPASSWD, ['-D', pwFile, 'sam'], { timeoutMs: 20_000 })
    assert.equal(d.code, 0, d.stderr)
    const r = await eventually(() => basic('/pw-nocache/', 'sam', 'sha1 pw'), 401)
    assert.equal(r.status, 401)
  })

  test('a user added with htdigest while the gateway runs can log in without a restart', async () => {
    const probe = () => curl(url('/dg/'), ['--digest', '-u', 'ivy:new digest pw'])
    assert.equal((await probe()).status, 401)
    await htdigest(digestFile, 'ivy', 'new digest pw', false)
    const r = await eventually(probe, 200)
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).headers['x-remote-user'], 'ivy')
  })
})
