/**
 * `gatehouse cache flush [--user NAME]` as operators run it: a child process talking to a
 * running gateway's admin unix socket (token-protected), after a password changed in a store
 * gatehouse cannot watch (a provider module that reads a JSON file and never calls
 * env.changed()). Without the flush the old password keeps working for cache.ttl; with it, the
 * next request is asked of the provider again. Uses dist/ (built by `npm test`).
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { CachedLoginProbe } from '../helpers/cached-login.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'

const BIN = fileURLToPath(new URL('../../bin/gatehouse.js', import.meta.url))
const PROVIDER = fileURLToPath(new URL('../fixtures/providers/json-users.ts', import.meta.url))
const TOKEN = 'a-cache-flush-test-token-0123456789'
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void
let dir: string
let socket: string
let probe: CachedLoginProbe
const get = (path: string, authorization?: string) => probe.get(path, authorization)
const digest = (path: string, user: string, password: string) => probe.digestMd5(path, 'Site', user, password)

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-cache-flush-')
  dir = t.dir
  cleanup = t.cleanup
  socket = join(dir, 'run', 'admin.sock')
  writeUsers({ alice: 'alice-pw', carol: 'carol-old' })
  gw = await startGateway(
    {
      throttle: { enabled: false },
      digest: { secret: 'a-test-secret-of-enough-length' },
      admin: { socket: './run/admin.sock', token: TOKEN },
      providers: { site: { type: 'module', module: PROVIDER, file: './users.json', threads: 1 } },
      routes: [
        { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Site', provider: 'site' } },
        {
          path: '/digest',
          upstream: upstream.url,
          auth: { scheme: 'digest', realm: 'Site', provider: 'site', algorithms: ['MD5'] },
        },
      ],
    },
    dir,
  )
  probe = new CachedLoginProbe(gw, upstream, 0)
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})

function writeUsers(users: Record<string, string>): void {
  writeFileSync(join(dir, 'users.json'), JSON.stringify(users))
}

/** `gatehouse cache ...` as a child process; the token from the environment unless `env` says otherwise. */
function cache(
  args: string[],
  env: NodeJS.ProcessEnv = { GATEHOUSE_ADMIN_TOKEN: TOKEN },
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, 'cache', ...args],
      { timeout: 30_000, env: { PATH: process.env.PATH, ...env } },
      (err, stdout, stderr) => {
        resolve({ code: err ? (err as { code: number }).code : 0, stdout, stderr })
      },
    )
  })
}
/** One request to the admin socket, by hand. */
function admin(
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, method, path, headers }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => (body += c))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
    })
    req.on('error', reject)
    req.end()
  })
}

describe('gatehouse cache flush against a running gateway', () => {
  test("--user drops only that user's entries (Basic and Digest): the old password gets 401, the other user stays cached", async () => {
    const { identities, realmHashes } = gw.gw.gatehouse.deps
    await probe.loginCached('/basic/x', () => basic('alice', 'alice-pw'), identities)
    await probe.loginCached('/basic/x', () => basic('carol', 'carol-old'), identities)
    await probe.loginCached('/digest/x', () => digest('/digest/x', 'carol', 'carol-old'), realmHashes)

    writeUsers({ alice: 'alice-pw', carol: 'carol-new' })
    // The store is not watched: the cached login goes on working (what the flush is for).
    assert.equal((await get('/basic/x', basic('carol', 'carol-old'))).status, 200)

    const r = await cache(['flush', '--user', 'carol', '--admin', socket])
    assert.equal(r.code, 0, r.stderr)
    // carol's Basic success, her Digest HA1 and the identity (groups) Digest cached for her.
    assert.equal(r.stdout, 'flushed 3 cached entries for user carol\n')

    const seen = upstream.seen.length
    const refused = await get('/basic/x', basic('carol', 'carol-old'))
    assert.equal(refused.status, 401)
    assert.equal(refused.challenge, 'Basic realm="Site", charset="UTF-8"')
    const refusedDigest = await get('/digest/x', await digest('/digest/x', 'carol', 'carol-old'))
    assert.equal(refusedDigest.status, 401)
    assert.match(
      refusedDigest.challenge ?? '',
      /^Digest realm="Site", qop="auth", algorithm=MD5, nonce="[^"]+", opaque="[^"]+", charset=UTF-8$/,
    )
    assert.equal(upstream.seen.length, seen, 'the upstream never saw the refused requests')
    assert.equal((await get('/basic/x', basic('carol', 'carol-new'))).status, 200)
    assert.equal((await get('/digest/x', await digest('/digest/x', 'carol', 'carol-new'))).status, 200)

    const hits = identities.hits
    assert.equal((await get('/basic/x', basic('alice', 'alice-pw'))).status, 200)
    assert.equal(identities.hits, hits + 1, 'alice was still answered from the cache')
    assert.ok(
      gw.logs.some(
        (l) =>
          l.includes('credential cache flushed (admin command)') &&
          l.includes('"user":"carol"') &&
          l.includes('"flushed":3'),
      ),
    )
  })

  test('without --user every entry goes: the next login of each user is asked of the provider', async () => {
    const { identities } = gw.gw.gatehouse.deps
    await probe.loginCached('/basic/x', () => basic('alice', 'alice-pw'), identities)
    const size = identities.size + gw.gw.gatehouse.deps.realmHashes.size
    assert.ok(size >= 2)

    const r = await cache(['flush', '--admin', socket, '--json'])
    assert.equal(r.code, 0, r.stderr)
    const body = JSON.parse(r.stdout) as { flushed: number; identities: number; realmHashes: number }
    assert.equal(body.flushed, size)
    assert.equal(body.flushed, body.identities + body.realmHashes)
    assert.equal(identities.size, 0)

    const { hits, misses } = identities
    assert.equal((await get('/basic/x', basic('alice', 'alice-pw'))).status, 200)
    assert.deepEqual([identities.hits, identities.misses], [hits, misses + 1], 'the login was a cache miss')
    const again = await cache(['flush', '--admin', socket])
    assert.equal(again.stdout, 'flushed 1 cached entry\n')
  })

  test('usage errors name the flag or the subcommand and exit 2 before any request', async () => {
    const empty = await cache(['flush', '--user', '', '--admin', socket])
    assert.equal(empty.code, 2)
    assert.match(empty.stderr, /--user must be a non-empty user name/)
    const missing = await cache(['flush', '--admin', socket, '--user'])
    assert.equal(missing.code, 2)
    assert.match(missing.stderr, /--user/)
    const unknown = await cache(['purge', '--admin', socket])
    assert.equal(unknown.code, 2)
    assert.match(unknown.stderr, /unknown subcommand purge \(the only one is flush\)/)
    const help = await cache(['--help'])
    assert.equal(help.code, 0)
    assert.match(help.stdout, /^Usage: gatehouse cache flush \[--user NAME\]/)
  })

  test('the endpoint is protected like the other admin commands: token, no web pages, one non-empty user', async () => {
    const { identities } = gw.gw.gatehouse.deps
    await probe.loginCached('/basic/x', () => basic('alice', 'alice-pw'), identities)
    const size = identities.size
    const auth = { authorization: `Bearer ${TOKEN}` }

    const noToken = await admin('POST', '/cache/flush')
    assert.equal(noToken.status, 401)
    assert.equal(noToken.headers['www-authenticate'], 'Bearer realm="gatehouse admin"')
    const wrongCli = await cache(['flush', '--admin', socket], { GATEHOUSE_ADMIN_TOKEN: 'not-the-token-at-all-xx' })
    assert.equal(wrongCli.code, 1)
    assert.match(wrongCli.stderr, /answered 401/)
    assert.equal((await admin('POST', '/cache/flush', { ...auth, origin: 'http://evil.example' })).status, 403)
    assert.equal((await admin('GET', '/cache/flush', auth)).status, 404)
    for (const query of ['?user=', '?user=a&user=b', '?users=alice']) {
      const r = await admin('POST', `/cache/flush${query}`, auth)
      assert.equal(r.status, 400, query)
      assert.match(JSON.parse(r.body).error as string, /user/)
    }
    assert.equal(identities.size, size, 'nothing was flushed by the refused requests')

    const ok = await admin('POST', '/cache/flush?user=alice', auth)
    assert.equal(ok.status, 200)
    assert.deepEqual(JSON.parse(ok.body), { user: 'alice', flushed: 1, identities: 1, realmHashes: 0 })
  })
})
