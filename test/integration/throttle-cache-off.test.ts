/**
 * A route without the credential cache (`cache: false`) under the throttle's in-flight counting:
 * one client's parallel requests with the same correct password are one check in flight, not
 * one each, so they never fill the per-address limit and get 429 with nothing guessed. Wrong
 * guesses are still bounded by the limit, and a shared success is authorized for each request's
 * own method (limitExcept), never copied from the request that made the check.
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { request } from 'node:http'
import { get, startThrottled, tally } from '../helpers/throttle-gateway.js'

const limits = { perAddress: { maxFailures: 5, lockout: '1m' }, perUser: { maxFailures: 50 }, delay: 0 }

test('40 parallel requests with one correct password on a cache-off route all pass, and wrong guesses stop at the limit', async (t) => {
  const { gw, echo, calls } = await startThrottled(t, limits)
  // dave's check takes 1 s: all 40 arrive while the first is still in flight.
  const right = await Promise.all(
    Array.from({ length: 40 }, () => get(gw, '/fresh/x', { from: '127.0.0.7', user: 'dave', password: 'dave-pw' })),
  )
  assert.deepEqual(tally(right), { 200: 40 })
  assert.equal(echo.seen.filter((r) => r.headers['x-remote-user'] === 'dave').length, 40)
  assert.ok(calls() < 40, `identical checks in flight were joined (${calls()} provider calls for 40 requests)`)

  const before = calls()
  const wrong = await Promise.all(
    Array.from({ length: 40 }, (_, i) =>
      get(gw, '/fresh/x', { from: '127.0.0.8', user: 'dave', password: `guess-${i}` }),
    ),
  )
  const statuses = tally(wrong)
  assert.equal(statuses[401], 5, JSON.stringify(statuses))
  assert.equal(statuses[429], 35, JSON.stringify(statuses))
  assert.equal(calls() - before, 5, 'no more guesses than the limit reached the provider')
})

test("a shared success is authorized for each request's own method: POSTs joined to a GET's check are still refused by limitExcept", async (t) => {
  const { gw, echo } = await startThrottled(t, limits)
  const send = (method: string): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: gw.port,
          path: '/fresh-read/x',
          method,
          agent: false,
          headers: { authorization: `Basic ${Buffer.from('dave:dave-pw').toString('base64')}` },
        },
        (res) => {
          res.resume()
          resolve(res.statusCode ?? 0)
        },
      )
      req.on('error', reject)
      req.end()
    })
  // dave's check takes 1 s: the POSTs arrive while the GET's check is in flight and wait for it.
  const [g, ...posts] = await Promise.all([send('GET'), send('POST'), send('POST'), send('DELETE')])
  assert.deepEqual([g, ...posts], [200, 403, 403, 403])
  assert.deepEqual(
    echo.seen.filter((r) => r.url === '/fresh-read/x').map((r) => r.method),
    ['GET'],
  )
})
