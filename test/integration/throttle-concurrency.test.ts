/**
 * The login throttle under parallel guessing, through a real gateway over real sockets: attempts
 * in flight hold the limits, so 1000 wrong guesses sent at once let exactly `maxFailures` reach
 * the provider (which counts its calls in a file), per address and per user, and the rest are
 * answered 429 with Retry-After without a provider call.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { get, startThrottled, tally, type Res } from '../helpers/throttle-gateway.js'

const PARALLEL = 1000
const LOCKOUT_S = 300

/** A 429 as the throttle sends it: no challenge, not cached, Retry-After 1 (limit held by attempts in flight) or what is left of the lockout. */
function assertThrottled(r: Res): void {
  assert.equal(r.status, 429)
  assert.equal(r.body, 'Too Many Requests\n')
  assert.equal(r.headers['www-authenticate'], undefined)
  assert.equal(r.headers['cache-control'], 'no-store')
  const after = Number(r.headers['retry-after'])
  assert.ok(
    Number.isInteger(after) && after >= 1 && after <= LOCKOUT_S,
    `Retry-After ${String(r.headers['retry-after'])}`,
  )
}

function assertChallenged(r: Res): void {
  assert.equal(r.status, 401)
  assert.equal(r.headers['www-authenticate'], 'Basic realm="App", charset="UTF-8"')
}

describe('parallel guessing against the login throttle', () => {
  test('1000 parallel wrong guesses from one address: exactly perAddress.maxFailures reach the provider (401), the rest get 429', async (t) => {
    const { gw, echo, calls } = await startThrottled(t, {
      delay: 0,
      perAddress: { maxFailures: 20, lockout: '5m' },
      perUser: false,
    })
    const results = await Promise.all(
      Array.from({ length: PARALLEL }, (_, i) =>
        get(gw, '/app/x', { from: '127.0.0.2', user: i % 2 === 0 ? 'bob' : `nobody${i}`, password: `guess-${i}` }),
      ),
    )
    assert.deepEqual(tally(results), { 401: 20, 429: PARALLEL - 20 })
    assert.equal(calls(), 20, 'no more guesses than the limit reached the provider')
    for (const r of results) {
      if (r.status === 401) assertChallenged(r)
      else assertThrottled(r)
    }
    assert.equal(echo.seen.length, 0)

    const after = await get(gw, '/app/x', { from: '127.0.0.2', user: 'bob', password: 'bob-pw' })
    assertThrottled(after)
    assert.ok(Number(after.headers['retry-after']) > 1, 'the address is now locked out, not merely busy')
    assert.equal(calls(), 20)
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.3', user: 'bob', password: 'bob-pw' })).status,
      200,
      'another address is not affected',
    )
  })

  test('1000 parallel wrong guesses at one user from 1000 forwarded addresses: exactly perUser.maxFailures reach the provider, and her own logins from her known-good address still pass', async (t) => {
    const { gw, echo, calls } = await startThrottled(t, {
      delay: 0,
      perAddress: false,
      perUser: { maxFailures: 50, lockout: '5m' },
    })
    // Her usual address, known-good once she has logged in from it.
    const home = { xff: '198.51.100.7', user: 'alice', password: 'right-password' }
    assert.equal((await get(gw, '/app/x', home)).status, 200)
    const before = calls()

    const guesses = Array.from({ length: PARALLEL }, (_, i) =>
      get(gw, '/app/x', { xff: `198.18.${i >> 8}.${i & 255}`, user: 'alice', password: `guess-${i}` }),
    )
    // Mid-burst, not cache hits: /fresh asks the provider every time. One after another, so
    // none joins another's check in flight: each is a provider call of its own.
    const own = (async () => {
      const out = []
      for (let i = 0; i < 5; i++) out.push(await get(gw, '/fresh/x', home))
      return out
    })()
    const results = await Promise.all(guesses)
    const mine = await own

    assert.deepEqual(tally(results), { 401: 50, 429: PARALLEL - 50 })
    for (const r of results) {
      if (r.status === 401) assertChallenged(r)
      else assertThrottled(r)
    }
    assert.deepEqual(
      mine.map((r) => r.status),
      [200, 200, 200, 200, 200],
      'her own logins from her known-good address',
    )
    assert.equal(calls() - before, 50 + 5, 'the 50 guesses the limit allows, and her own 5 logins')
    assert.equal(echo.seen.length, 1 + 5)

    const stranger = await get(gw, '/fresh/x', { xff: '203.0.113.9', user: 'alice', password: 'right-password' })
    assertThrottled(stranger)
    assert.ok(Number(stranger.headers['retry-after']) > 1, 'the name is locked out for new addresses')
    assert.equal((await get(gw, '/fresh/x', home)).status, 200)
  })
})
