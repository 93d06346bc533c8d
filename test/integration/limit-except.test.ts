/**
 * routes[].auth.limitExcept end to end (Apache's <LimitExcept GET>): on a real gateway, every
 * logged-in user may read and only `committers` may send any other method; a refused write
 * never reaches the upstream. The sidecar applies the rule to the original method, and to a
 * sub-request whose original method it cannot learn (nginx without X-Original-Method) as to a write.
 */
import { test, before, after, describe } from 'node:test'
import assert from 'node:assert/strict'
import bcrypt from 'bcryptjs'
import { request } from 'undici'
import { startGateway, tempDir, writeFile, type TestGateway } from '../helpers/gateway.js'
import { startEchoUpstream, type EchoUpstream } from '../helpers/echo-upstream.js'

const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`
const ANN = basic('ann', 'ann-pass')
const BEN = basic('ben', 'ben-pass')

let gw: TestGateway
let upstream: EchoUpstream
let cleanup: () => void

before(async () => {
  const t = tempDir('gh-limit-except-')
  cleanup = t.cleanup
  writeFile(t.dir, 'users', `ann:${bcrypt.hashSync('ann-pass', 4)}\nben:${bcrypt.hashSync('ben-pass', 4)}\n`)
  writeFile(t.dir, 'groups', 'committers: ann\n')
  upstream = await startEchoUpstream()
  gw = await startGateway(
    {
      providers: { office: { type: 'htpasswd', file: './users', groupFile: './groups' } },
      trustedProxies: ['127.0.0.1'],
      sidecar: { path: '/auth' },
      routes: [
        {
          path: '/hg',
          upstream: upstream.url,
          auth: {
            scheme: 'basic',
            realm: 'Code',
            provider: 'office',
            limitExcept: { methods: ['GET'], require: { groups: ['committers'] } },
          },
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

async function send(method: string, path: string, headers: Record<string, string>, body?: string) {
  const res = await request(`${gw.url}${path}`, { method, headers, body })
  return { status: res.statusCode, headers: res.headers, text: await res.body.text() }
}

describe('at the front', () => {
  test('a user outside the write rule reads with GET and HEAD; POST and PUT get 403 and never reach the upstream', async () => {
    assert.equal((await send('GET', '/hg/repo?cmd=capabilities', { authorization: BEN })).status, 200)
    assert.equal((await send('HEAD', '/hg/repo', { authorization: BEN })).status, 200)
    const before = upstream.seen.length
    for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS']) {
      // The GET above put ben's login in the credential cache: the rule holds on a cache hit too.
      const r = await send(
        method,
        '/hg/repo?cmd=unbundle',
        { authorization: BEN, 'content-type': 'application/mercurial-0.1' },
        method === 'POST' || method === 'PUT' ? 'HG10UN' : undefined,
      )
      assert.equal(r.status, 403, method)
      assert.equal(r.text, 'Forbidden\n')
    }
    assert.equal(upstream.seen.length, before)
  })

  test("a committer's POST reaches the upstream as the committer; without credentials a POST gets 401", async () => {
    const r = await send('POST', '/hg/repo?cmd=unbundle', { authorization: ANN }, 'HG10UN')
    assert.equal(r.status, 200)
    const seen = JSON.parse(r.text)
    assert.equal(seen.method, 'POST')
    assert.equal(seen.headers['x-remote-user'], 'ann')
    const before = upstream.seen.length
    const anon = await send('POST', '/hg/repo?cmd=unbundle', {}, 'HG10UN')
    assert.equal(anon.status, 401)
    assert.equal(anon.headers['www-authenticate'], 'Basic realm="Code", charset="UTF-8"')
    assert.equal(upstream.seen.length, before)
  })
})

describe('in the sidecar', () => {
  const ask = (method: string, path: string, headers: Record<string, string>) => send(method, path, headers)

  test('the original method decides: X-Original-Method POST from a non-committer is 403, GET is 200', async () => {
    assert.equal(
      (await ask('GET', '/auth', { 'x-original-uri': '/hg/repo', 'x-original-method': 'GET', authorization: BEN }))
        .status,
      200,
    )
    assert.equal(
      (await ask('GET', '/auth', { 'x-original-uri': '/hg/repo', 'x-original-method': 'POST', authorization: BEN }))
        .status,
      403,
    )
    assert.equal(
      (await ask('GET', '/auth', { 'x-forwarded-uri': '/hg/repo', 'x-forwarded-method': 'PUT', authorization: BEN }))
        .status,
      403,
    )
    assert.equal(
      (await ask('GET', '/auth', { 'x-original-uri': '/hg/repo', 'x-original-method': 'POST', authorization: ANN }))
        .status,
      200,
    )
  })

  test("Envoy's check request keeps the method: POST /auth/hg/repo from a non-committer is 403, GET 200", async () => {
    assert.equal((await ask('GET', '/auth/hg/repo', { authorization: BEN })).status, 200)
    assert.equal((await ask('POST', '/auth/hg/repo', { authorization: BEN })).status, 403)
    assert.equal((await ask('POST', '/auth/hg/repo', { authorization: ANN })).status, 200)
  })

  test('a sub-request that does not say the original method is judged as a write (fail closed)', async () => {
    assert.equal((await ask('GET', '/auth', { 'x-original-uri': '/hg/repo', authorization: BEN })).status, 403)
    assert.equal((await ask('GET', '/auth', { 'x-original-uri': '/hg/repo', authorization: ANN })).status, 200)
  })
})
