/**
 * Real nginx (Debian's /usr/sbin/nginx) with `auth_request` in front of a hello-world upstream,
 * gatehouse as the sidecar, and real curl through nginx. The nginx configuration is the recipe
 * of examples/sidecar-nginx/nginx.conf with its placeholders filled in; nginx runs as a child
 * (`daemon off`) and is stopped by its PID.
 */
import { after, before, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { curl } from './helpers/curl.js'
import { run, skipUnless } from './helpers/run.js'
import { REALM, standardProviders, startStack, users, writeStandardUsers, type InteropStack } from './helpers/stack.js'

const NGINX = '/usr/sbin/nginx'
const skip = skipUnless(NGINX, 'nginx', 'nginx') || skipUnless('/usr/bin/curl', 'curl', 'curl')
const basicChallenge = `Basic realm="${REALM}", charset="UTF-8"`

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.on('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number }
      s.close(() => resolve(port))
    })
  })
}

async function waitForPort(port: number, child: ChildProcess, log: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${readFileSync(log, 'utf8')}`)
    const r = await curl(`http://127.0.0.1:${port}/_probe`).catch(() => undefined)
    if (r && r.status > 0) return
    await new Promise((res) => setTimeout(res, 50))
  }
  throw new Error('nginx did not start listening')
}

async function nginxMinor(): Promise<[number, number]> {
  const r = await run(NGINX, ['-v'], { timeoutMs: 5000 })
  const m = /nginx\/(\d+)\.(\d+)/.exec(r.stderr)
  return m ? [Number(m[1]), Number(m[2])] : [0, 0]
}

describe('nginx auth_request with gatehouse as the sidecar', { skip }, () => {
  let stack: InteropStack
  let nginx: ChildProcess | undefined
  let base: string
  let version: [number, number]

  before(async () => {
    version = await nginxMinor()
    stack = await startStack(({ dir }) => {
      writeStandardUsers(dir)
      return {
        providers: standardProviders,
        trustedProxies: ['127.0.0.1'],
        // nginx passes only 401/403 on: a lockout must be a 403 to reach the client as one.
        sidecar: { path: '/auth', throttledStatus: 403 },
        // Only the per-user rule, tight, for the lockout test's own user; no delay for the rest.
        throttle: { perAddress: false, perUser: { maxFailures: 3 }, delay: 0 },
        routes: [
          { path: '/basic', auth: { scheme: 'basic', realm: REALM, provider: ['office', 'local'] } },
          {
            path: '/staff',
            auth: { scheme: 'basic', realm: REALM, provider: 'local', require: { groups: ['staff'] } },
          },
          { path: '/digest', auth: { scheme: 'digest', realm: REALM, provider: 'local', algorithms: ['SHA-256'] } },
          { path: '/offers', auth: { scheme: ['digest', 'basic'], realm: REALM, provider: 'local' } },
          { path: '/public' },
        ],
      }
    })
    const dir = join(stack.dir, 'nginx')
    mkdirSync(dir)
    const port = await freePort()
    const conf = readFileSync(new URL('../../examples/sidecar-nginx/nginx.conf', import.meta.url), 'utf8')
      .replaceAll('@DIR@', dir)
      .replaceAll('@LISTEN@', `127.0.0.1:${port}`)
      .replaceAll('@GATEHOUSE@', `127.0.0.1:${stack.gw.port}`)
      .replaceAll('@UPSTREAM@', `127.0.0.1:${stack.upstream.port}`)
    // Run as root (CI): the worker would switch to "nobody", which cannot read the temp dir.
    const asRoot = process.getuid?.() === 0 ? 'user root;\n' : ''
    const file = join(dir, 'nginx.conf')
    writeFileSync(file, asRoot + conf)
    nginx = spawn(NGINX, ['-p', dir, '-c', file, '-e', join(dir, 'startup.log')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    nginx.stderr?.resume()
    await waitForPort(port, nginx, join(dir, 'error.log'))
    base = `http://127.0.0.1:${port}`
  })

  after(async () => {
    const child = nginx
    if (child?.pid !== undefined && child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r))
      process.kill(child.pid, 'SIGQUIT')
      await exited
    }
    await stack?.close()
  })

  test('Basic passes through nginx and the upstream sees the identity headers, not the password', async () => {
    const r = await curl(`${base}/staff/page?x=1`, ['-u', `${users.dave.name}:${users.dave.password}`])
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.body)
    assert.equal(seen.url, '/staff/page?x=1')
    assert.equal(seen.headers['x-remote-user'], 'dave')
    assert.equal(seen.headers['x-remote-groups'], 'staff')
    assert.equal(seen.headers['remote-user'], 'dave')
    assert.equal(seen.headers.authorization, undefined)
  })

  test('a UTF-8 user from htpasswd passes, percent-encoded in the identity header', async () => {
    const r = await curl(`${base}/basic/`, ['-u', `${users.cafe.name}:${users.cafe.password}`])
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.body).headers['x-remote-user'], encodeURIComponent(users.cafe.name))
  })

  test('client-forged identity headers and their look-alikes never reach the upstream', async () => {
    const forged = [
      '-H',
      'X-Remote-User: root',
      '-H',
      'X_Remote_User: root',
      '-H',
      'Remote-User: root',
      '-H',
      'X-Remote-Groups: admin',
    ]
    const pub = await curl(`${base}/public/x`, forged)
    assert.equal(pub.status, 200)
    const seenPublic = JSON.parse(pub.body).headers
    for (const h of ['x-remote-user', 'x_remote_user', 'remote-user', 'x-remote-groups'])
      assert.equal(seenPublic[h], undefined, h)
    const authed = await curl(`${base}/basic/x`, [...forged, '-u', `${users.alice.name}:${users.alice.password}`])
    assert.equal(authed.status, 200)
    const seen = JSON.parse(authed.body).headers
    assert.equal(seen['x-remote-user'], 'alice')
    assert.equal(seen['remote-user'], 'alice')
    assert.equal(seen['x_remote_user'], undefined)
    assert.equal(seen['x-remote-groups'], undefined, 'an empty group list removes the header')
  })

  test('wrong credentials: 401 with the challenge, copied by nginx', async () => {
    const before = stack.upstream.seen.length
    const r = await curl(`${base}/basic/x`, ['-u', `${users.alice.name}:wrong`])
    assert.equal(r.status, 401)
    assert.deepEqual(r.headers['www-authenticate'], [basicChallenge])
    assert.equal(stack.upstream.seen.length, before, 'the upstream was not asked')
  })

  test('a valid user outside the required group: 403', async () => {
    const r = await curl(`${base}/staff/x`, ['-u', `${users.erin.name}:${users.erin.password}`])
    assert.equal(r.status, 403)
  })

  test('Digest passes through nginx: curl answers the challenge nginx passed on', async () => {
    const r = await curl(`${base}/digest/doc?id=3`, ['--digest', '-u', `${users.dave.name}:${users.dave.password}`])
    assert.equal(r.status, 200)
    assert.equal(r.sent.filter((l) => l.startsWith('GET ')).length, 2)
    assert.equal(JSON.parse(r.body).headers['x-remote-user'], 'dave')
  })

  test('Digest with a wrong password: 401 with a fresh challenge', async () => {
    const r = await curl(`${base}/digest/doc`, ['--digest', '-u', `${users.dave.name}:nope`])
    assert.equal(r.status, 401)
    assert.match(
      r.headers['www-authenticate']?.[0] ?? '',
      /^Digest realm="Office", qop="auth", algorithm=SHA-256, nonce="/,
    )
  })

  test('a user locked out by login throttling gets 403 through nginx, not 500 (sidecar.throttledStatus: 403)', async () => {
    for (let i = 0; i < 3; i++) assert.equal((await curl(`${base}/basic/x`, ['-u', 'mallory:guess'])).status, 401)
    const locked = await curl(`${base}/basic/x`, ['-u', 'mallory:guess'])
    assert.equal(locked.status, 403)
    const direct = await curl(`http://127.0.0.1:${stack.gw.port}/auth`, [
      '-u',
      'mallory:guess',
      '-H',
      'X-Original-URI: /basic/x',
      '-H',
      'X-Original-Method: GET',
    ])
    assert.equal(direct.status, 403)
    assert.match(String(direct.headers['retry-after']), /^\d+$/)
    assert.equal(
      (await curl(`${base}/staff/page`, ['-u', `${users.dave.name}:${users.dave.password}`])).status,
      200,
      'other users are not affected',
    )
  })

  test('several challenges: nginx 1.22 passes the first only, 1.23 and later all of them', async () => {
    const direct = await curl(`http://127.0.0.1:${stack.gw.port}/auth`, ['-H', 'X-Original-URI: /offers/x'])
    assert.equal(direct.headers['www-authenticate']?.length, 3)
    const r = await curl(`${base}/offers/x`)
    assert.equal(r.status, 401)
    const got = r.headers['www-authenticate'] ?? []
    if (version[0] === 1 && version[1] < 23) {
      assert.equal(got.length, 1)
      assert.match(got[0]!, /^Digest realm="Office", qop="auth", algorithm=SHA-256, /)
    } else {
      assert.equal(got.length, 3)
      assert.equal(got[2], basicChallenge)
    }
  })
})
