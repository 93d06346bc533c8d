/**
 * A Digest client's parallel requests after a restart (cold realm-hash cache) are one login, not
 * many: they ask the provider once and all pass, where each took a slot of the in-flight limit
 * and those past it got 429. Parallel wrong responses still count one failure each and lock the
 * address out at the limit. Responses computed by test/helpers/digest-client.ts (node:crypto),
 * each request on its own challenge, all sent together from one address.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { clientResponse } from '../helpers/digest-client.js'
import { get, startThrottled, tally, type ThrottledGateway } from '../helpers/throttle-gateway.js'

const PARALLEL = 40

async function challenges(
  g: ThrottledGateway,
  from: string,
  n: number,
): Promise<Array<{ nonce: string; opaque: string }>> {
  const out: Array<{ nonce: string; opaque: string }> = []
  for (let i = 0; i < n; i++) {
    const r = await get(g.gw, '/digest/x', { from })
    assert.equal(r.status, 401)
    const h = String(r.headers['www-authenticate'])
    out.push({ nonce: /nonce="([^"]+)"/.exec(h)![1]!, opaque: /opaque="([^"]+)"/.exec(h)![1]! })
  }
  return out
}

function authorization(user: string, password: string, c: { nonce: string; opaque: string }, i: number): string {
  const cnonce = `c${i}`
  const response = clientResponse({
    algorithm: 'MD5',
    username: user,
    realm: 'App',
    password,
    method: 'GET',
    uri: '/digest/x',
    nonce: c.nonce,
    qop: 'auth',
    nc: '00000001',
    cnonce,
  })
  return `Digest username="${user}", realm="App", nonce="${c.nonce}", uri="/digest/x", algorithm=MD5, qop=auth, nc=00000001, cnonce="${cnonce}", response="${response}", opaque="${c.opaque}"`
}

test('40 parallel Digest requests of one user on a cold cache all pass, the provider asked once', async (t) => {
  const g = await startThrottled(t, { delay: '0s' })
  const from = '127.0.0.5'
  const cs = await challenges(g, from, PARALLEL)
  const before = g.calls()
  const seen = g.echo.seen.length
  const results = await Promise.all(
    cs.map((c, i) =>
      get(g.gw, '/digest/x', { from, headers: { authorization: authorization('alice', 'right-password', c, i) } }),
    ),
  )
  assert.deepEqual(tally(results), { 200: PARALLEL })
  assert.equal(g.calls() - before, 1, 'one realm-hash lookup for all of them')
  assert.equal(g.echo.seen.length - seen, PARALLEL)
})

test('40 parallel wrong Digest responses: 20 refused with 401, then the address is locked out (429), the app never asked', async (t) => {
  const g = await startThrottled(t, { delay: '0s', perAddress: { maxFailures: 20 }, perUser: false })
  const from = '127.0.0.6'
  const cs = await challenges(g, from, PARALLEL)
  const seen = g.echo.seen.length
  const results = await Promise.all(
    cs.map((c, i) =>
      get(g.gw, '/digest/x', { from, headers: { authorization: authorization('bob', `guess-${i}`, c, i) } }),
    ),
  )
  assert.deepEqual(tally(results), { 401: 20, 429: 20 })
  for (const r of results.filter((x) => x.status === 429)) assert.match(String(r.headers['retry-after']), /^\d+$/)
  assert.equal(g.echo.seen.length - seen, 0)
})
