/**
 * The sidecar's access lines read as the front's: a refused check names the attempted user
 * (escaped) and why (unknown user, wrong password, malformed, throttled, forbidden, provider
 * error), a passed one the user, and no line ever holds a password or the Authorization value.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import bcrypt from 'bcryptjs'
import { request } from 'undici'
import { startGateway, tempDir, writeFile } from '../helpers/gateway.js'

const PASSWORD = 'wonder-land-3X'
const WRONG = 'not-it-8Y'
const GUESS = 'a-guess-5Z'
const basic = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`, 'utf8').toString('base64')}`

test('a refused sidecar check logs the attempted user and the reason; the password never appears', async (t) => {
  const { dir, cleanup } = tempDir('gh-sidecar-access-')
  t.after(cleanup)
  writeFile(dir, 'users.htpasswd', `alice:${bcrypt.hashSync(PASSWORD, 4)}\nbob:${bcrypt.hashSync('builder', 4)}\n`)
  writeFile(dir, 'groups', 'staff: alice\n')
  const gw = await startGateway(
    {
      providers: {
        office: { type: 'htpasswd', file: './users.htpasswd', groupFile: './groups' },
        broken: { type: 'module', module: new URL('../fixtures/providers/throws.ts', import.meta.url).pathname },
      },
      trustedProxies: ['127.0.0.1'],
      throttle: { delay: '0s', perUser: { maxFailures: 2 } },
      sidecar: { path: '/auth' },
      routes: [
        { path: '/app', auth: { scheme: 'basic', realm: 'Office', provider: 'office' } },
        {
          path: '/staff',
          auth: { scheme: 'basic', realm: 'Office', provider: 'office', require: { groups: ['staff'] } },
        },
        { path: '/broken', auth: { scheme: 'basic', realm: 'Office', provider: 'broken' } },
      ],
    },
    dir,
  )
  t.after(() => gw.close())
  const check = async (uri: string, authorization?: string) => {
    const r = await request(`${gw.url}/auth`, {
      headers: { 'x-original-uri': uri, ...(authorization === undefined ? {} : { authorization }) },
    })
    await r.body.dump()
    return r.statusCode
  }

  assert.equal(await check('/app/', basic('alice', PASSWORD)), 200)
  assert.equal(await check('/app/', basic('alice', WRONG)), 401)
  assert.equal(await check('/app/', basic('mal"lo\\ry', GUESS)), 401)
  assert.equal(await check('/app/', 'Basic !!!not-base64'), 400)
  assert.equal(await check('/staff/', basic('bob', 'builder')), 403)
  assert.equal(await check('/broken/', basic('alice', PASSWORD)), 500)
  assert.equal(await check('/app/'), 401)
  // Two wrong passwords for carol lock her out: the third check is throttled before any provider call.
  assert.equal(await check('/app/', basic('carol', 'x1')), 401)
  assert.equal(await check('/app/', basic('carol', 'x2')), 401)
  assert.equal(await check('/app/', basic('carol', 'x3')), 429)

  const out = gw.logs.join('')
  for (const secret of [PASSWORD, WRONG, GUESS, Buffer.from(`alice:${PASSWORD}`).toString('base64')])
    assert.ok(!out.includes(secret), `${secret} in the log`)
  const access = gw.logs
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r.msg === 'access' && r.url === '/auth')
  assert.deepEqual(
    access.map((r) => [r.status, r.user, r.refused, r.attemptedUser]),
    [
      [200, 'alice', undefined, undefined],
      [401, '-', 'wrong-password', 'alice'],
      [401, '-', 'unknown-user', 'mal"lo\\ry'],
      [400, '-', 'malformed', undefined],
      [403, 'bob', 'forbidden', 'bob'],
      [500, '-', 'provider-error', 'alice'],
      [401, '-', 'no-credentials', undefined],
      [401, '-', 'unknown-user', 'carol'],
      [401, '-', 'unknown-user', 'carol'],
      [429, '-', 'throttled', 'carol'],
    ],
  )
  assert.ok(out.includes('"attemptedUser":"mal\\"lo\\\\ry"'), 'the name is escaped in the line itself')
})
