/**
 * The front server end to end on loopback: real gateway, real upstream, real providers in
 * worker threads. The configuration is the one the README publishes as a contract.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { request } from 'undici'
import http from 'node:http'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { UserStore } from '../../providers/sqlite/store.js'
import { clientResponse } from '../helpers/digest-client.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const md5 = (s: string) => createHash('md5').update(s).digest('hex')

let upstream: EchoUpstream
let gw: TestGateway
let cleanup: () => void

before(async () => {
  upstream = await startEchoUpstream()
  const t = tempDir()
  cleanup = t.cleanup
  writeFile(
    t.dir,
    'users.htpasswd',
    `alice:${bcrypt.hashSync('wonder:land', 4)}\nbob:{SHA}${createHash('sha1').update('builder').digest('base64')}\n`,
  )
  writeFile(
    t.dir,
    'users.htdigest',
    `alice:Office:${md5('alice:Office:digest-pw')}\ncarol:Office:${md5('carol:Office:carol-pw')}\n`,
  )
  const store = UserStore.open(`${t.dir}/gatehouse.sqlite`, { create: true })
  store.addUser('dave', 'dave-pw', { realms: ['Office'] })
  store.addToGroup('dave', 'staff')
  store.addUser('erin', 'erin-pw')
  store.close()
  const up = upstream.url
  gw = await startGateway(
    {
      providers: {
        office: { type: 'htpasswd', file: './users.htpasswd' },
        digestfile: { type: 'htdigest', file: './users.htdigest' },
        local: { type: 'sqlite', database: './gatehouse.sqlite' },
      },
      digest: { secret: 'a-test-secret-of-enough-length' },
      routes: [
        { path: '/basic', upstream: up, auth: { scheme: 'basic', realm: 'Office', provider: ['office', 'local'] } },
        {
          path: '/digest',
          upstream: up,
          auth: { scheme: ['digest', 'basic'], realm: 'Office', provider: 'digestfile', require: { users: ['alice'] } },
        },
        {
          path: '/staff',
          upstream: up,
          auth: { scheme: 'basic', realm: 'Office', provider: 'local', require: { groups: ['staff'] } },
        },
        { path: '/public', upstream: up },
        { path: '/proxied', upstream: up, auth: { scheme: 'basic', realm: 'Office', provider: 'local', proxy: true } },
        {
          path: '/integrity',
          upstream: up,
          auth: { scheme: 'digest', realm: 'Office', provider: 'local', qop: ['auth-int'], algorithms: ['SHA-256'] },
        },
        {
          path: '/hashed',
          upstream: up,
          auth: { scheme: 'digest', realm: 'Office', provider: 'local', userhash: true },
        },
        {
          path: '/staff-digest',
          upstream: up,
          auth: { scheme: ['digest'], realm: 'Office', provider: 'local', require: { groups: ['staff'] } },
        },
      ],
    },
    t.dir,
  )
})

after(async () => {
  await gw?.close()
  await upstream?.close()
  cleanup?.()
})

async function get(path: string, headers: Record<string, string | string[]> = {}) {
  const res = await request(`${gw.url}${path}`, { headers })
  const text = await res.body.text()
  return { status: res.statusCode, headers: res.headers, text }
}

describe('Basic', () => {
  test('a request without credentials gets 401 with the Basic challenge and charset', async () => {
    const r = await get('/basic/x')
    assert.equal(r.status, 401)
    assert.equal(r.headers['www-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(upstream.seen.length, 0)
  })

  test('valid bcrypt credentials with a colon in the password reach the upstream with the identity', async () => {
    const r = await get('/basic/hello?q=1', { authorization: basic('alice', 'wonder:land') })
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.text)
    assert.equal(seen.url, '/basic/hello?q=1')
    assert.equal(seen.headers['x-remote-user'], 'alice')
    assert.equal(seen.headers['x-remote-groups'], '')
    assert.equal(seen.headers.authorization, undefined, 'Authorization is not passed on by default')
  })

  test('the chain asks the next provider when the first does not know the user', async () => {
    const r = await get('/basic/', { authorization: basic('dave', 'dave-pw') })
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.text).headers['x-remote-groups'], 'staff')
  })

  test('a wrong password and an unknown user get the same 401', async () => {
    const wrong = await get('/basic/', { authorization: basic('alice', 'nope') })
    const unknown = await get('/basic/', { authorization: basic('mallory', 'nope') })
    assert.equal(wrong.status, 401)
    assert.equal(unknown.status, 401)
    assert.equal(wrong.headers['www-authenticate'], unknown.headers['www-authenticate'])
    assert.equal(wrong.text, unknown.text)
  })

  test('malformed Basic credentials get 400, not a crash', async () => {
    for (const value of [
      'Basic',
      'Basic !!!',
      'Basic ' + Buffer.from('nocolon').toString('base64'),
      'Basic ' + Buffer.from([0xff, 0x3a, 0x61]).toString('base64'),
    ]) {
      const r = await get('/basic/', { authorization: value })
      assert.ok(r.status === 400 || r.status === 401, `${value} → ${r.status}`)
    }
    assert.equal((await get('/basic/', { authorization: 'Basic !!!' })).status, 400)
  })

  test('client-forged identity headers and look-alikes never reach the upstream', async () => {
    const r = await get('/basic/', {
      authorization: basic('bob', 'builder'),
      'x-remote-user': 'root',
      x_remote_user: 'root',
      'X-Remote-Groups': 'admin',
    })
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.text)
    assert.equal(seen.headers['x-remote-user'], 'bob')
    assert.equal(seen.headers.x_remote_user, undefined)
    assert.equal(seen.headers['x-remote-groups'], '')
    assert.ok(!seen.rawHeaders.some((h: string) => /remote.user/i.test(h) && h !== 'x-remote-user'))
  })

  test('two Authorization headers are ambiguous and get 400', async () => {
    const r = await get('/basic/', { authorization: [basic('bob', 'builder'), basic('alice', 'x')] })
    assert.equal(r.status, 400)
  })
})

describe('authorization', () => {
  test('require groups: a user in staff passes, a valid user outside it gets 403', async () => {
    assert.equal((await get('/staff/', { authorization: basic('dave', 'dave-pw') })).status, 200)
    const r = await get('/staff/', { authorization: basic('erin', 'erin-pw') })
    assert.equal(r.status, 403)
    assert.equal(r.headers['www-authenticate'], undefined)
  })

  test('require users: a listed user passes, another valid user gets 403', async () => {
    assert.equal((await get('/digest/', { authorization: basic('alice', 'digest-pw') })).status, 200)
    assert.equal((await get('/digest/', { authorization: basic('carol', 'carol-pw') })).status, 403)
  })
})

describe('Digest', () => {
  test('an htdigest route offers MD5 only (its file holds nothing else), then Basic', async () => {
    const r = await get('/digest/')
    assert.equal(r.status, 401)
    const challenges = r.headers['www-authenticate'] as string[]
    assert.equal(challenges.length, 2)
    assert.match(
      challenges[0]!,
      /^Digest realm="Office", qop="auth", algorithm=MD5, nonce="[A-Za-z0-9_-]+", opaque="[A-Za-z0-9_-]+", charset=UTF-8$/,
    )
    assert.equal(challenges[1], 'Basic realm="Office", charset="UTF-8"')
  })

  test('a sqlite route offers SHA-256 first and MD5 last, and SHA-256 passes', async () => {
    const r = await get('/staff-digest/')
    const challenges = r.headers['www-authenticate'] as string[]
    assert.deepEqual(
      challenges.map((c) => /algorithm=([A-Z0-9-]+)/.exec(c)?.[1]),
      ['SHA-256', 'MD5'],
    )
    const nonce = /nonce="([^"]+)"/.exec(challenges[0]!)![1]!
    const opaque = /opaque="([^"]+)"/.exec(challenges[0]!)![1]!
    const response = clientResponse({
      algorithm: 'SHA-256',
      username: 'dave',
      realm: 'Office',
      password: 'dave-pw',
      method: 'GET',
      uri: '/staff-digest/',
      nonce,
      cnonce: 'c1',
      nc: '00000001',
      qop: 'auth',
    })
    const header = `Digest username="dave", realm="Office", nonce="${nonce}", uri="/staff-digest/", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c1", response="${response}"`
    const withoutOpaque = await get('/staff-digest/', { authorization: header })
    assert.equal(withoutOpaque.status, 401, 'opaque must come back (RFC 7616 §3.3)')
    assert.match(String(withoutOpaque.headers['www-authenticate']), /^Digest realm="Office"/)
    const ok = await get('/staff-digest/', { authorization: `${header}, opaque="${opaque}"` })
    assert.equal(ok.status, 200)
    assert.match(String(ok.headers['authentication-info']), /rspauth="[0-9a-f]{64}"/)
  })

  async function digestAuth(path: string, user: string, password: string, nc = '00000001') {
    const ch = (await get(path)).headers['www-authenticate'] as string[]
    const md5ch = ch.find((c) => c.includes('algorithm=MD5'))!
    const nonce = /nonce="([^"]+)"/.exec(md5ch)![1]!
    const opaque = /opaque="([^"]+)"/.exec(md5ch)![1]!
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
      nc,
      qop: 'auth',
    })
    const header = `Digest username="${user}", realm="Office", nonce="${nonce}", uri="${path}", algorithm=MD5, qop=auth, nc=${nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
    return { header, nonce }
  }

  test('a correct MD5 response passes with Authentication-Info; replaying it is refused as stale', async () => {
    const { header } = await digestAuth('/digest/page', 'alice', 'digest-pw')
    const ok = await get('/digest/page', { authorization: header })
    assert.equal(ok.status, 200)
    assert.match(String(ok.headers['authentication-info']), /rspauth="[0-9a-f]{32}"/)
    assert.equal(JSON.parse(ok.text).headers['x-remote-user'], 'alice')
    const replay = await get('/digest/page', { authorization: header })
    assert.equal(replay.status, 401)
    assert.ok((replay.headers['www-authenticate'] as string[]).some((c) => c.includes('stale=true')))
  })

  test('a Digest response for another uri is refused with 400', async () => {
    const { header } = await digestAuth('/digest/other', 'alice', 'digest-pw')
    const r = await get('/digest/page', { authorization: header })
    assert.equal(r.status, 400)
  })

  test('a wrong Digest password gets 401 without stale', async () => {
    const { header } = await digestAuth('/digest/page', 'alice', 'wrong')
    const r = await get('/digest/page', { authorization: header })
    assert.equal(r.status, 401)
    assert.ok(!(r.headers['www-authenticate'] as string[]).some((c) => c.includes('stale=true')))
  })
})

describe('Digest userhash (RFC 7616 §3.4.4)', () => {
  test('the challenge says userhash=true and a hashed user name authenticates as the real user', async () => {
    const ch = (await get('/hashed/')).headers['www-authenticate'] as string[]
    assert.ok(ch.every((c) => c.includes('userhash=true')))
    const nonce = /nonce="([^"]+)"/.exec(ch[0]!)![1]!
    const opaque = /opaque="([^"]+)"/.exec(ch[0]!)![1]!
    const hashedUser = createHash('sha256').update('dave:Office').digest('hex')
    const response = clientResponse({
      algorithm: 'SHA-256',
      username: 'dave',
      realm: 'Office',
      password: 'dave-pw',
      method: 'GET',
      uri: '/hashed/',
      nonce,
      cnonce: 'c2',
      nc: '00000001',
      qop: 'auth',
    })
    const r = await get('/hashed/', {
      authorization: `Digest username="${hashedUser}", userhash=true, realm="Office", nonce="${nonce}", uri="/hashed/", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c2", response="${response}", opaque="${opaque}"`,
    })
    assert.equal(r.status, 200)
    assert.equal(JSON.parse(r.text).headers['x-remote-user'], 'dave')
  })

  test('a hashed user name that matches nobody gets 401', async () => {
    const ch = (await get('/hashed/')).headers['www-authenticate'] as string[]
    const nonce = /nonce="([^"]+)"/.exec(ch[0]!)![1]!
    const opaque = /opaque="([^"]+)"/.exec(ch[0]!)![1]!
    const hashedUser = createHash('sha256').update('nobody:Office').digest('hex')
    const r = await get('/hashed/', {
      authorization: `Digest username="${hashedUser}", userhash=true, realm="Office", nonce="${nonce}", uri="/hashed/", algorithm=SHA-256, qop=auth, nc=00000001, cnonce="c2", response="${'0'.repeat(64)}", opaque="${opaque}"`,
    })
    assert.equal(r.status, 401)
  })
})

describe('proxy mode and auth-int', () => {
  test('a proxy-mode route answers 407 with Proxy-Authenticate and accepts Proxy-Authorization', async () => {
    const r = await get('/proxied/')
    assert.equal(r.status, 407)
    assert.equal(r.headers['proxy-authenticate'], 'Basic realm="Office", charset="UTF-8"')
    assert.equal(r.headers['www-authenticate'], undefined)
    assert.equal((await get('/proxied/', { authorization: basic('dave', 'dave-pw') })).status, 407)
    const ok = await get('/proxied/', { 'proxy-authorization': basic('dave', 'dave-pw') })
    assert.equal(ok.status, 200)
    assert.equal(JSON.parse(ok.text).headers['proxy-authorization'], undefined)
  })

  test('qop=auth-int binds the body: the right body passes and reaches the upstream, another body is refused', async () => {
    const body = 'ticket=42&state=closed'
    const sign = async (payload: string) => {
      const ch = (await get('/integrity/')).headers['www-authenticate'] as string
      assert.match(ch, /qop="auth-int"/)
      const nonce = /nonce="([^"]+)"/.exec(ch)![1]!
      const opaque = /opaque="([^"]+)"/.exec(ch)![1]!
      const response = clientResponse({
        algorithm: 'SHA-256',
        username: 'dave',
        realm: 'Office',
        password: 'dave-pw',
        method: 'POST',
        uri: '/integrity/t',
        nonce,
        cnonce: 'c3',
        nc: '00000001',
        qop: 'auth-int',
        body: payload,
      })
      return `Digest username="dave", realm="Office", nonce="${nonce}", uri="/integrity/t", algorithm=SHA-256, qop=auth-int, nc=00000001, cnonce="c3", response="${response}", opaque="${opaque}"`
    }
    const ok = await request(`${gw.url}/integrity/t`, {
      method: 'POST',
      body,
      headers: { authorization: await sign(body), 'content-type': 'text/plain' },
    })
    assert.equal(ok.statusCode, 200)
    const seen = JSON.parse(await ok.body.text())
    assert.equal(seen.bodySha256, createHash('sha256').update(body).digest('hex'))
    const tampered = await request(`${gw.url}/integrity/t`, {
      method: 'POST',
      body: body + '&admin=1',
      headers: { authorization: await sign(body), 'content-type': 'text/plain' },
    })
    assert.equal(tampered.statusCode, 401)
    await tampered.body.text()
  })
})

describe('routing and hygiene', () => {
  test('a public route forwards without credentials and without identity', async () => {
    const r = await get('/public/file.txt', { 'x-remote-user': 'root' })
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.text)
    assert.equal(seen.headers['x-remote-user'], undefined)
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1')
    assert.equal(seen.headers['x-forwarded-proto'], 'http')
  })

  test('dot segments that would route around auth get 400', async () => {
    for (const p of ['/public/../staff/', '/public/%2e%2e/staff/', '/public/..%2fstaff/']) {
      // node:http sends the path as given; WHATWG URL clients would normalize it away.
      const status = await new Promise<number>((resolve, reject) => {
        http
          .get({ host: '127.0.0.1', port: gw.port, path: p, agent: false }, (res) => {
            res.resume()
            resolve(res.statusCode ?? 0)
          })
          .on('error', reject)
      })
      assert.equal(status, 400, p)
    }
  })

  test('a path outside every route gets 404', async () => {
    assert.equal((await get('/nowhere')).status, 404)
    assert.equal((await get('/basicx')).status, 404)
  })

  test('no log line carries a password or an Authorization header', async () => {
    await get('/basic/', { authorization: basic('alice', 'S3cret-Pa55') })
    await get('/basic/', { authorization: basic('alice', 'wonder:land') })
    const all = gw.logs.join('')
    assert.ok(all.includes('"msg":"access"'), 'access lines are written')
    assert.ok(!all.includes('S3cret-Pa55'))
    assert.ok(!all.includes('wonder:land'))
    assert.ok(!all.includes(Buffer.from('alice:wonder:land').toString('base64')))
    assert.ok(!/authorization/i.test(all))
  })
})
