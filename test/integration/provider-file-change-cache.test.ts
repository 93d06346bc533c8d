/**
 * A built-in provider's file changes under a running front with the credential cache on: the
 * re-read empties that provider's cache entries, so a removed user, a changed password or a
 * user taken out of a group is refused within the file poll, not when the entry expires
 * (5 minutes). Real files, real gateway, providers in two worker threads (each reloads the file
 * and reports it on its own).
 */
import { describe, test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import bcrypt from 'bcryptjs'
import { eventually } from '../fixtures/apps/harness.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, type TestGateway } from '../helpers/gateway.js'
import { clientResponse } from '../helpers/digest-client.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const htpasswdLine = (user: string, password: string) => `${user}:${bcrypt.hashSync(password, 4)}\n`
const htdigestLine = (user: string, password: string) =>
  `${user}:Office:${createHash('md5').update(`${user}:Office:${password}`).digest('hex')}\n`
/** A change must be enforced within this long (the files are polled every 20 ms; the rest is slack for a loaded machine). */
const WITHIN_MS = 5000

/** What an editor does: write a temporary file beside it, then rename it over the old one. */
function writeAtomic(file: string, content: string): void {
  writeFileSync(`${file}.tmp`, content)
  renameSync(`${file}.tmp`, file)
}

/** What `echo ... > file` does: truncate and write the same inode. */
function writeInPlace(file: string, content: string): void {
  writeFileSync(file, content)
}

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void
let dir: string

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir('gh-file-cache-')
  dir = t.dir
  cleanup = t.cleanup
  writeFileSync(join(dir, 'users.htpasswd'), '')
  writeFileSync(join(dir, 'groups'), '')
  writeFileSync(join(dir, 'users.htdigest'), '')
  const file = { watchIntervalMs: 20, threads: 2, threadsAtStart: 2 }
  gw = await startGateway(
    {
      throttle: { enabled: false },
      providers: {
        office: { type: 'htpasswd', file: './users.htpasswd', groupFile: './groups', ...file },
        digestfile: { type: 'htdigest', file: './users.htdigest', ...file },
      },
      digest: { secret: 'a-test-secret-of-enough-length' },
      routes: [
        { path: '/basic', upstream: upstream.url, auth: { scheme: 'basic', realm: 'Office', provider: 'office' } },
        {
          path: '/staff',
          upstream: upstream.url,
          auth: { scheme: 'basic', realm: 'Office', provider: 'office', require: { groups: ['staff'] } },
        },
        {
          path: '/hd-basic',
          upstream: upstream.url,
          auth: { scheme: 'basic', realm: 'Office', provider: 'digestfile' },
        },
        {
          path: '/hd-digest',
          upstream: upstream.url,
          auth: { scheme: 'digest', realm: 'Office', provider: 'digestfile', algorithms: ['MD5'] },
        },
      ],
    },
    dir,
  )
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})

async function get(path: string, authorization?: string): Promise<{ status: number; challenge: string | undefined }> {
  const res = await fetch(`${gw.url}${path}`, { headers: authorization === undefined ? {} : { authorization } })
  await res.arrayBuffer()
  return { status: res.status, challenge: res.headers.get('www-authenticate') ?? undefined }
}

/** A fresh Digest MD5 answer to a fresh challenge of /hd-digest. */
async function digestHeader(path: string, user: string, password: string): Promise<string> {
  const ch = (await get(path)).challenge as string
  const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
  const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
  const cnonce = 'abcdef0123456789'
  const response = clientResponse({
    algorithm: 'MD5',
    username: user,
    realm: 'Office',
    password,
    method: 'GET',
    uri: path,
    nonce,
    cnonce,
    nc: '00000001',
    qop: 'auth',
  })
  return `Digest username="${user}", realm="Office", nonce="${nonce}", uri="${path}", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
}

const DROPPED = 'provider data changed: cache entries dropped'

/**
 * Writes a provider's file and waits until both of its threads reported the re-read (each
 * keeps its own copy: until the second one has, a check it answers could still use the old
 * contents). Bounded by WITHIN_MS.
 */
async function change(provider: string, write: () => void): Promise<void> {
  const mark = gw.logs.length
  write()
  await eventually(
    `both threads of ${provider} dropped its cache entries`,
    () => {
      const threads = new Set<number>()
      for (const line of gw.logs.slice(mark)) {
        const rec = JSON.parse(line) as { msg?: string; provider?: string; thread?: number }
        if (rec.msg === DROPPED && rec.provider === provider && typeof rec.thread === 'number') threads.add(rec.thread)
      }
      return threads.size === 2
    },
    WITHIN_MS,
  )
}

/** Logs in twice; the second answer must come from the cache, or the test would prove nothing. */
async function loginCached(path: string, authorization: string): Promise<void> {
  const cache = gw.gw.gatehouse.deps.identities
  assert.equal((await get(path, authorization)).status, 200)
  const hits = cache.hits
  assert.equal((await get(path, authorization)).status, 200)
  assert.equal(cache.hits, hits + 1, 'the second login was answered from the cache')
}

describe('a provider file changes while its answers are cached', () => {
  for (const [how, write] of [
    ['atomic rename', writeAtomic],
    ['in-place write', writeInPlace],
  ] as const) {
    test(`htpasswd: a user removed by ${how} gets 401 with the challenge while the others stay in`, async () => {
      const file = join(dir, 'users.htpasswd')
      await change('office', () => writeAtomic(file, htpasswdLine('alice', 'alice-pw') + htpasswdLine('bob', 'bob-pw')))
      await loginCached('/basic/x', basic('alice', 'alice-pw'))

      await change('office', () => write(file, htpasswdLine('bob', 'bob-pw')))
      const r = await get('/basic/x', basic('alice', 'alice-pw'))
      assert.equal(r.status, 401)
      assert.equal(r.challenge, 'Basic realm="Office", charset="UTF-8"')
      assert.equal((await get('/basic/x', basic('bob', 'bob-pw'))).status, 200)
    })
  }

  test('htpasswd: after a password change the old password gets 401 and the new one 200', async () => {
    const file = join(dir, 'users.htpasswd')
    await change('office', () => writeAtomic(file, htpasswdLine('carol', 'old-pw')))
    await loginCached('/basic/x', basic('carol', 'old-pw'))

    await change('office', () => writeAtomic(file, htpasswdLine('carol', 'new-pw')))
    assert.equal((await get('/basic/x', basic('carol', 'old-pw'))).status, 401)
    assert.equal((await get('/basic/x', basic('carol', 'new-pw'))).status, 200)
  })

  test('htpasswd group file: a user taken out of the required group gets 403', async () => {
    await change('office', () => writeAtomic(join(dir, 'users.htpasswd'), htpasswdLine('dave', 'dave-pw')))
    await change('office', () => writeAtomic(join(dir, 'groups'), 'staff: dave\n'))
    await loginCached('/staff/x', basic('dave', 'dave-pw'))

    await change('office', () => writeInPlace(join(dir, 'groups'), 'staff: someone-else\n'))
    assert.equal((await get('/staff/x', basic('dave', 'dave-pw'))).status, 403)
  })

  test('htdigest: a removed user gets 401 over Basic, and a changed password 401 over Digest', async () => {
    const file = join(dir, 'users.htdigest')
    await change('digestfile', () =>
      writeAtomic(file, htdigestLine('erin', 'erin-pw') + htdigestLine('frank', 'old-pw')),
    )
    await loginCached('/hd-basic/x', basic('erin', 'erin-pw'))
    // Digest caches frank's HA1 (realmHashes): the second login must not ask the provider.
    const realmHashes = gw.gw.gatehouse.deps.realmHashes
    assert.equal((await get('/hd-digest/x', await digestHeader('/hd-digest/x', 'frank', 'old-pw'))).status, 200)
    const hits = realmHashes.hits
    assert.equal((await get('/hd-digest/x', await digestHeader('/hd-digest/x', 'frank', 'old-pw'))).status, 200)
    assert.equal(realmHashes.hits, hits + 1, 'the HA1 came from the cache')

    await change('digestfile', () => writeAtomic(file, htdigestLine('frank', 'new-pw')))
    assert.equal((await get('/hd-basic/x', basic('erin', 'erin-pw'))).status, 401)
    const r = await get('/hd-digest/x', await digestHeader('/hd-digest/x', 'frank', 'old-pw'))
    assert.equal(r.status, 401)
    assert.match(r.challenge ?? '', /^Digest realm="Office", qop="auth", algorithm=MD5, nonce="/)
    assert.equal((await get('/hd-digest/x', await digestHeader('/hd-digest/x', 'frank', 'new-pw'))).status, 200)
  })
})
