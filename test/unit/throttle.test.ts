/** LoginThrottle: sliding windows, lockouts that grow, known-good addresses, bounded memory. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { addressKey, LoginThrottle, type LoginThrottleOptions, type LockoutEvent } from '../../src/auth/throttle.js'
import { inProcess, type SyncLoginThrottle } from '../helpers/sync-throttle.js'
import { clientAddress, claimedUser } from '../../src/auth/throttle-gate.js'
import { parseConfig } from '../../src/config/parse.js'

function make(over: Partial<LoginThrottleOptions> = {}): { t: SyncLoginThrottle; clock: { now: number } } {
  const clock = { now: 1_000_000 }
  const t = new LoginThrottle({
    perAddress: { maxFailures: 5, windowMs: 60_000, lockoutMs: 10_000 },
    perUser: { maxFailures: 8, windowMs: 60_000, lockoutMs: 20_000 },
    maxLockoutMs: 35_000,
    delayMs: 100,
    maxDelayMs: 300,
    maxEntries: 100,
    now: () => clock.now,
    ...over,
  })
  return { t: inProcess(t), clock }
}

describe('LoginThrottle per address', () => {
  test('the maxFailures-th failure within the window locks the address; Retry-After counts down in whole seconds', () => {
    const { t, clock } = make()
    for (let i = 0; i < 4; i++) assert.equal(t.recordFailure('u', '192.0.2.1').lockout, undefined)
    assert.deepEqual(t.check('u', '192.0.2.1'), { locked: false })
    assert.deepEqual(t.recordFailure('u', '192.0.2.1').lockout, { scope: 'address', lockoutMs: 10_000 })
    assert.deepEqual(t.check('other', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
    clock.now += 9_001
    assert.deepEqual(t.check('other', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 1 })
    clock.now += 999
    assert.deepEqual(t.check('other', '192.0.2.1'), { locked: false })
    assert.deepEqual(t.check(undefined, '192.0.2.2'), { locked: false }, 'other addresses are not affected')
  })

  test('failures older than the window slide out and do not count', () => {
    const { t, clock } = make()
    for (let i = 0; i < 4; i++) t.recordFailure('u', '192.0.2.1')
    clock.now += 60_001
    for (let i = 0; i < 4; i++) assert.equal(t.recordFailure('u', '192.0.2.1').lockout, undefined)
    assert.deepEqual(t.check('u', '192.0.2.1'), { locked: false })
  })

  test('each lockout that comes back doubles, up to maxLockout; a key quiet for maxLockout starts over', () => {
    const { t, clock } = make({ perUser: undefined })
    const lockouts: number[] = []
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 5; i++) {
        const effect = t.recordFailure('u', '192.0.2.1')
        if (effect.lockout) lockouts.push(effect.lockout.lockoutMs)
      }
      clock.now += (lockouts.at(-1) ?? 0) + 1
    }
    assert.deepEqual(lockouts, [10_000, 20_000, 35_000, 35_000])
    clock.now += 35_001
    for (let i = 0; i < 5; i++) t.recordFailure('u', '192.0.2.1')
    assert.deepEqual(t.check('u', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
  })

  test('failed answers are delayed from the 4th failure on, doubling up to maxDelay', () => {
    const { t } = make({ perAddress: { maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000 } })
    const delays = Array.from({ length: 7 }, () => t.recordFailure(undefined, '192.0.2.1').delayMs)
    assert.deepEqual(delays, [0, 0, 0, 100, 200, 300, 300])
  })

  test('a success does not reset the address count (one valid account cannot launder guesses at others)', () => {
    const { t } = make()
    for (let i = 0; i < 4; i++) t.recordFailure(`victim${i}`, '192.0.2.1')
    t.recordSuccess('attacker', '192.0.2.1')
    assert.deepEqual(t.recordFailure('victim9', '192.0.2.1').lockout, { scope: 'address', lockoutMs: 10_000 })
  })

  test('failures of requests that passed check before a concurrent lockout do not extend it', () => {
    const { t } = make({ perUser: undefined })
    for (let i = 0; i < 5; i++) t.recordFailure('u', '192.0.2.1')
    for (let i = 0; i < 10; i++) assert.equal(t.recordFailure('u', '192.0.2.1').lockout, undefined)
    assert.deepEqual(t.check('u', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
  })
})

describe('LoginThrottle per user', () => {
  test('failures from many addresses lock the user out for addresses that never logged in as the user', () => {
    const { t } = make()
    const events: LockoutEvent[] = []
    t.on('lockout', (e) => events.push(e))
    t.recordSuccess('alice', '198.51.100.7')
    for (let i = 0; i < 8; i++) t.recordFailure('alice', `203.0.113.${i}`)
    assert.deepEqual(events, [{ scope: 'user', address: '203.0.113.7', user: 'alice', lockoutMs: 20_000 }])
    assert.deepEqual(t.check('alice', '203.0.113.100'), { locked: true, scope: 'user', retryAfterS: 20 })
    assert.deepEqual(t.check('alice', '198.51.100.7'), { locked: false }, 'her known-good address still gets through')
    assert.deepEqual(t.check('bob', '203.0.113.100'), { locked: false })
  })

  test('failures from a known-good address do not count against the user', () => {
    const { t } = make({ perAddress: undefined })
    t.recordSuccess('alice', '198.51.100.7')
    for (let i = 0; i < 30; i++) assert.equal(t.recordFailure('alice', '198.51.100.7').lockout, undefined)
    assert.deepEqual(t.check('alice', '203.0.113.1'), { locked: false })
  })

  test('without a per-user rule, user names are not tracked at all', () => {
    const { t } = make({ perUser: undefined })
    for (let i = 0; i < 3; i++) t.recordFailure(`user${i}`, '192.0.2.1')
    assert.equal(t.size.users, 0)
  })
})

describe('LoginThrottle memory', () => {
  test('addresses and users are LRUs of at most maxEntries', () => {
    const { t } = make({ maxEntries: 50 })
    for (let i = 0; i < 1000; i++) {
      t.recordFailure(`user${i}`, `10.0.${i >> 8}.${i & 255}`)
      t.recordSuccess(`user${i}`, `10.1.${i >> 8}.${i & 255}`)
    }
    assert.deepEqual(t.size, { addresses: 50, users: 50, knownGood: 50 })
  })

  test('a user keeps at most 16 known-good addresses, the most recent', () => {
    const { t } = make()
    for (let i = 0; i < 20; i++) t.recordSuccess('alice', `10.0.0.${i}`)
    assert.equal(t.isKnownGood('alice', '10.0.0.3'), false)
    assert.equal(t.isKnownGood('alice', '10.0.0.4'), true)
    assert.equal(t.isKnownGood('alice', '10.0.0.19'), true)
  })

  test('bad options are refused by name', () => {
    assert.throws(() => make({ maxEntries: 0 }), /throttle\.maxEntries/)
    assert.throws(() => make({ perUser: { maxFailures: 0, windowMs: 1, lockoutMs: 1 } }), /throttle\.perUser/)
  })
})

describe('addresses and claimed users', () => {
  test('IPv6 addresses count by their /64; IPv4-mapped ones as IPv4', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
    assert.equal(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64')
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
    assert.equal(addressKey('::1'), '0:0:0:0::/64')
    assert.equal(addressKey('::ffff:192.0.2.9'), '192.0.2.9')
    assert.equal(addressKey('192.0.2.9'), '192.0.2.9')
  })

  test('the client address is the peer, or the right-most untrusted X-Forwarded-For hop behind trusted proxies', () => {
    const ctx = (remoteAddress: string, xff?: string) => ({
      method: 'GET',
      path: '/',
      host: 'h',
      remoteAddress,
      route: '/',
      realm: 'r',
      headers: xff ? { 'x-forwarded-for': xff } : {},
    })
    const trusted = new Set(['127.0.0.1', '10.0.0.2'])
    assert.equal(
      clientAddress(ctx('192.0.2.1', '6.6.6.6'), trusted),
      '192.0.2.1',
      'an untrusted peer cannot pick its address',
    )
    assert.equal(clientAddress(ctx('127.0.0.1', '6.6.6.6, 203.0.113.5, 10.0.0.2'), trusted), '203.0.113.5')
    assert.equal(clientAddress(ctx('127.0.0.1'), trusted), '127.0.0.1')
  })

  test('the claimed user comes from Basic or Digest credentials; malformed ones claim nobody', () => {
    assert.equal(claimedUser(`Basic ${Buffer.from('alice:pw').toString('base64')}`), 'alice')
    assert.equal(
      claimedUser(
        'Digest username="bob", realm="r", nonce="n", uri="/", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c"',
      ),
      'bob',
    )
    assert.equal(claimedUser('Basic !!!'), undefined)
    assert.equal(claimedUser('Bearer abc'), undefined)
  })
})

describe('throttle configuration', () => {
  test('defaults: on, 20 failures per address, 50 per user, 10 min window, 5 min lockout up to 1 h', () => {
    const c = parseConfig({ routes: [] }, { baseDir: '/' })
    assert.deepEqual(c.throttle, {
      enabled: true,
      perAddress: { maxFailures: 20, windowMs: 600_000, lockoutMs: 300_000 },
      perUser: { maxFailures: 50, windowMs: 600_000, lockoutMs: 300_000 },
      maxLockoutMs: 3_600_000,
      delayMs: 100,
      maxDelayMs: 2_000,
      maxEntries: 10_000,
    })
  })

  test('rules take their own values or false; routes can opt out', () => {
    const c = parseConfig(
      {
        throttle: { window: '1m', lockout: '30s', perAddress: { maxFailures: 3, lockout: '2m' }, perUser: false },
        providers: { p: { type: 'htpasswd', file: 'x' } },
        routes: [
          { path: '/a', auth: { realm: 'r', provider: 'p', throttle: false } },
          { path: '/b', auth: { realm: 'r', provider: 'p' } },
        ],
      },
      { baseDir: '/' },
    )
    assert.deepEqual(c.throttle.perAddress, { maxFailures: 3, windowMs: 60_000, lockoutMs: 120_000 })
    assert.equal(c.throttle.perUser, undefined)
    assert.equal(c.routes[0]!.auth!.throttle, false)
    assert.equal(c.routes[1]!.auth!.throttle, true)
  })

  test('a bad value names its key', () => {
    assert.throws(
      () => parseConfig({ throttle: { perUser: { maxFailures: 0 } }, routes: [] }, { baseDir: '/' }),
      /throttle\.perUser/,
    )
    assert.throws(() => parseConfig({ throttle: { delay: 'soon' }, routes: [] }, { baseDir: '/' }), /throttle\.delay/)
  })
})
