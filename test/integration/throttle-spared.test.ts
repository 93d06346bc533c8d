/**
 * What an address lockout spares, through a real gateway: a valid user's credential-cache hits
 * (they ask no provider and guess nothing) pass while someone else's wrong guesses lock the
 * address they share, the guesser stays refused, and a correct password that is not a cache hit
 * is refused too (letting it through would tell a guesser it was right). Refused guesses at a user
 * count against that user, once per distinct password, so the cache cannot be used as an oracle.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { get, startThrottled, tally } from '../helpers/throttle-gateway.js'

const NAT = '127.0.0.5'

describe('what an address lockout spares', () => {
  test("a valid user's cache hits pass while a stale-password client at the same address is locked out; the stale client and uncached logins get 429", async (t) => {
    const { gw, echo, calls } = await startThrottled(t, {
      delay: 0,
      perAddress: { maxFailures: 5, lockout: '5m' },
      perUser: { maxFailures: 10 },
    })
    const alice = { from: NAT, user: 'alice', password: 'right-password' }
    assert.equal((await get(gw, '/app/x', alice)).status, 200)
    for (let i = 0; i < 5; i++)
      assert.equal((await get(gw, '/app/x', { from: NAT, user: 'bob', password: 'old-pw' })).status, 401)
    const stale = await get(gw, '/app/x', { from: NAT, user: 'bob', password: 'old-pw' })
    assert.equal(stale.status, 429)
    assert.equal(stale.headers['retry-after'], '300')
    const asked = calls()

    const cached = await get(gw, '/app/x', alice)
    assert.equal(cached.status, 200)
    assert.equal(JSON.parse(cached.body).headers['x-remote-user'], 'alice')

    // A burst of both at once: every cache hit passes, every guess is refused.
    const both = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        i % 2 === 0 ? get(gw, '/app/x', alice) : get(gw, '/app/x', { from: NAT, user: 'bob', password: `guess-${i}` }),
      ),
    )
    assert.deepEqual(tally(both.filter((_, i) => i % 2 === 0)), { 200: 100 })
    assert.deepEqual(tally(both.filter((_, i) => i % 2 === 1)), { 429: 100 })

    const uncached = [
      await get(gw, '/app/x', { from: NAT, user: 'bob', password: 'bob-pw' }),
      await get(gw, '/app/x', { from: NAT, user: 'carol', password: 'carol-pw' }),
      await get(gw, '/fresh/x', alice),
    ]
    assert.deepEqual(
      uncached.map((r) => r.status),
      [429, 429, 429],
      'a correct password that is not a cache hit is a guess like any other',
    )
    assert.equal(calls(), asked, 'nothing refused reached the provider')
    assert.equal(echo.seen.length, 1 + 1 + 100)
    assert.ok(echo.seen.every((s) => s.headers['x-remote-user'] === 'alice'))
  })

  test('distinct wrong passwords at a user refused by an address lockout count against her: past perUser.maxFailures her cache hits there get 429, at her other known-good address they pass', async (t) => {
    const { gw, calls } = await startThrottled(t, {
      delay: 0,
      perAddress: { maxFailures: 5 },
      perUser: { maxFailures: 10, lockout: '2m' },
    })
    const alice = { user: 'alice', password: 'right-password' }
    assert.equal((await get(gw, '/app/x', { from: NAT, ...alice })).status, 200)
    assert.equal((await get(gw, '/app/x', { from: '127.0.0.6', ...alice })).status, 200)
    for (let i = 0; i < 5; i++) await get(gw, '/app/x', { from: NAT, user: 'bob', password: `no-${i}` })
    const asked = calls()

    for (let i = 0; i < 9; i++)
      assert.equal((await get(gw, '/app/x', { from: NAT, user: 'alice', password: `guess-${i}` })).status, 429)
    assert.equal(
      (await get(gw, '/app/x', { from: NAT, ...alice })).status,
      200,
      'nine refused guesses: her cache hits still pass',
    )
    assert.equal((await get(gw, '/app/x', { from: NAT, user: 'alice', password: 'guess-9' })).status, 429)
    const refused = await get(gw, '/app/x', { from: NAT, ...alice })
    assert.equal(refused.status, 429, 'the tenth: a guess could now be told from a hit, so hits are refused too')
    assert.match(String(refused.headers['retry-after']), /^[1-9][0-9]*$/)
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.6', ...alice })).status,
      200,
      'her other known-good address is not locked',
    )
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.7', ...alice })).status,
      429,
      'a new address is refused by her lockout',
    )
    assert.equal(calls(), asked)
    assert.ok(
      gw.logs.some(
        (l) => l.includes('lockout started') && l.includes('"scope":"user"') && l.includes('"user":"alice"'),
      ),
    )
  })

  test('the same stale password refused again and again counts once against its user: her cache hits keep passing', async (t) => {
    const { gw } = await startThrottled(t, { delay: 0, perAddress: { maxFailures: 5 }, perUser: { maxFailures: 10 } })
    const alice = { from: NAT, user: 'alice', password: 'right-password' }
    assert.equal((await get(gw, '/app/x', alice)).status, 200)
    // Her old phone at the same address: failures from a known-good address count against the address only.
    for (let i = 0; i < 5; i++)
      assert.equal((await get(gw, '/app/x', { from: NAT, user: 'alice', password: 'old-pw' })).status, 401)
    for (let i = 0; i < 50; i++)
      assert.equal((await get(gw, '/app/x', { from: NAT, user: 'alice', password: 'old-pw' })).status, 429)
    assert.equal((await get(gw, '/app/x', alice)).status, 200)
  })

  test('parallel identical requests of one user on a cold cache take one slot and one provider call; identical wrong ones count once', async (t) => {
    const { gw, calls } = await startThrottled(t, { delay: 0, perAddress: { maxFailures: 3 }, perUser: false })
    // dave's checks take 1 s: the 30 requests sent together arrive while the first is being checked.
    const page = await Promise.all(
      Array.from({ length: 30 }, () => get(gw, '/app/x', { from: '127.0.0.8', user: 'dave', password: 'dave-pw' })),
    )
    assert.deepEqual(tally(page), { 200: 30 })
    assert.equal(calls(), 1)

    const stale = await Promise.all(
      Array.from({ length: 30 }, () => get(gw, '/app/x', { from: '127.0.0.9', user: 'dave', password: 'old-pw' })),
    )
    assert.deepEqual(tally(stale), { 401: 30 })
    assert.equal(calls(), 2)
    assert.equal(
      (await get(gw, '/app/x', { from: '127.0.0.9', user: 'bob', password: 'other' })).status,
      401,
      'one failure so far, not thirty',
    )
    assert.equal((await get(gw, '/app/x', { from: '127.0.0.9', user: 'bob', password: 'third' })).status, 401)
    assert.equal((await get(gw, '/app/x', { from: '127.0.0.9', user: 'bob', password: 'bob-pw' })).status, 429)
  })

  test('through the forward-auth sidecar (nginx answers 403): a cached user behind the same forwarded client address passes while the guesser there is refused', async (t) => {
    const { gw, calls } = await startThrottled(
      t,
      { delay: 0, perAddress: { maxFailures: 3, lockout: '2m' }, perUser: { maxFailures: 10 } },
      { sidecar: { path: '/auth', throttledStatus: 403 } },
    )
    const ask = (user: string, password: string) =>
      get(gw, '/auth', { xff: '203.0.113.50', user, password, headers: { 'x-original-uri': '/app/x' } })
    assert.equal((await ask('alice', 'right-password')).status, 200)
    for (let i = 0; i < 3; i++) assert.equal((await ask('bob', `guess-${i}`)).status, 401)
    const asked = calls()
    const refused = await ask('bob', 'guess-3')
    assert.equal(refused.status, 403)
    assert.equal(refused.headers['retry-after'], '120')
    assert.equal(refused.body, 'Forbidden: too many failed logins\n')
    assert.equal((await ask('alice', 'right-password')).status, 200, 'her cache hit')
    assert.equal((await ask('bob', 'bob-pw')).status, 403, 'not a cache hit')
    assert.equal(calls(), asked)
  })
})
