/**
 * Attempts in flight: MemoryThrottleStore's atomic reserve/settle, and LoginThrottle's begin/settle
 * (the limits hold however many attempts are under way), checkCached (what an address lockout
 * spares) and the count of refused attempts against their user.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { MemoryThrottleStore, type CountedKey } from '../../src/auth/throttle-store.js'
import {
  IN_FLIGHT_RETRY_S,
  LoginThrottle,
  type Attempt,
  type BeginDecision,
  type LockoutEvent,
  type LoginThrottleOptions,
} from '../../src/auth/throttle.js'
import { inProcess, type SyncLoginThrottle } from '../helpers/sync-throttle.js'

const rule = { maxFailures: 3, windowMs: 60_000, lockoutMs: 10_000 }
const addr: CountedKey = { scope: 'address', id: '192.0.2.1', rule }
const user: CountedKey = { scope: 'user', id: 'p\0alice', rule: { ...rule, maxFailures: 2 } }

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

function admitted(d: BeginDecision): Attempt {
  assert.equal(d.locked, false)
  return (d as { attempt: Attempt }).attempt
}

describe('MemoryThrottleStore reserve/settle', () => {
  test('failures in the window plus slots in flight reach maxFailures: the next reserve is refused as busy (lockedMs 0)', () => {
    const s = new MemoryThrottleStore({ maxEntries: 10, maxLockoutMs: 60_000 })
    const now = 1000
    for (let i = 0; i < 3; i++) assert.deepEqual(s.reserve([addr], now), { ok: true })
    assert.deepEqual(s.reserve([addr], now), { ok: false, scope: 'address', lockedMs: 0 })
    assert.deepEqual(s.settle([addr], false, now), [{ failures: 0, lockoutMs: 0 }], 'a success gives its slot back')
    assert.deepEqual(s.reserve([addr], now), { ok: true })
    assert.deepEqual(s.settle([addr], true, now), [{ failures: 1, lockoutMs: 0 }])
    assert.deepEqual(
      s.reserve([addr], now),
      { ok: false, scope: 'address', lockedMs: 0 },
      'one failure and two in flight',
    )
    assert.deepEqual(s.settle([addr], true, now), [{ failures: 2, lockoutMs: 0 }])
    assert.deepEqual(s.settle([addr], true, now), [{ failures: 3, lockoutMs: 10_000 }], 'the third failure locks')
    assert.deepEqual(s.reserve([addr], now + 1), { ok: false, scope: 'address', lockedMs: 9_999 })
    assert.equal(s.lockedFor('address', addr.id, now + 1), 9_999)
  })

  test('reserve is all or nothing: a refusal on one key takes no slot on the others; a lockout is reported before a busy key', () => {
    const s = new MemoryThrottleStore({ maxEntries: 10, maxLockoutMs: 60_000 })
    for (let i = 0; i < 2; i++) s.reserve([user], 0)
    assert.deepEqual(s.reserve([addr, user], 0), { ok: false, scope: 'user', lockedMs: 0 })
    for (let i = 0; i < 3; i++)
      assert.deepEqual(s.reserve([addr], 0), { ok: true }, 'the address lost no slot to the refused reserve')
    s.settle([user], true, 0)
    s.settle([user], true, 0)
    assert.deepEqual(s.reserve([addr, user], 1), { ok: false, scope: 'user', lockedMs: 9_999 })
  })

  test('failures in flight when a key locks do not extend the lockout; slots of an entry pushed out of the LRU are simply gone', () => {
    const s = new MemoryThrottleStore({ maxEntries: 1, maxLockoutMs: 60_000 })
    for (let i = 0; i < 3; i++) s.reserve([addr], 0)
    for (let i = 0; i < 3; i++) s.settle([addr], true, 0)
    assert.deepEqual(s.settle([addr], true, 5), [{ failures: 3, lockoutMs: 0 }])
    assert.equal(s.lockedFor('address', addr.id, 5), 9_995)
    const other: CountedKey = { ...addr, id: '192.0.2.2' }
    s.reserve([other], 0)
    assert.deepEqual(s.settle([addr], false, 6), [{ failures: 0, lockoutMs: 0 }])
    assert.equal(s.size.addresses, 1)
  })

  test('fail with a credential id counts each id once among the recent ones', () => {
    const s = new MemoryThrottleStore({ maxEntries: 10, maxLockoutMs: 60_000 })
    assert.deepEqual(s.fail(user, 0, 'c1'), { failures: 1, lockoutMs: 0 })
    assert.equal(s.fail(user, 0, 'c1'), undefined)
    assert.deepEqual(s.fail(user, 0, 'c2'), { failures: 2, lockoutMs: 10_000 })
  })
})

describe('LoginThrottle attempts in flight', () => {
  test('however many begin at once, at most maxFailures are admitted; the rest are refused with Retry-After 1 until a lockout gives its own', () => {
    const { t } = make({ perUser: undefined })
    const decisions = Array.from({ length: 100 }, () => t.begin('p\0bob', '192.0.2.1'))
    const attempts = decisions.filter((d) => !d.locked).map((d) => (d as { attempt: Attempt }).attempt)
    assert.equal(attempts.length, 5)
    for (const d of decisions.filter((x) => x.locked))
      assert.deepEqual(d, { locked: true, scope: 'address', retryAfterS: IN_FLIGHT_RETRY_S })
    const effects = attempts.map((a) => t.settle(a, 'failure'))
    assert.deepEqual(
      effects.map((e) => e.lockout),
      [undefined, undefined, undefined, undefined, { scope: 'address', lockoutMs: 10_000 }],
    )
    assert.deepEqual(t.begin('p\0bob', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
  })

  test("successes give their slots back, so a valid user's logins keep going however many run at once over time", () => {
    const { t } = make()
    for (let round = 0; round < 20; round++) {
      const batch = Array.from({ length: 5 }, () => admitted(t.begin('p\0alice', '192.0.2.1')))
      for (const a of batch) assert.deepEqual(t.settle(a, 'success'), { delayMs: 0 })
    }
    assert.equal(t.isKnownGood('p\0alice', '192.0.2.1'), true)
  })

  test('neutral ends (an error, a stale nonce) give the slot back and count nothing', () => {
    const { t } = make({ perUser: undefined })
    for (let i = 0; i < 50; i++) t.settle(admitted(t.begin(undefined, '192.0.2.1')), 'neutral')
    assert.deepEqual(t.check(undefined, '192.0.2.1'), { locked: false })
  })

  test("a user's known-good address takes no per-user slot: her own logins pass while strangers' guesses fill the per-user limit", () => {
    const { t } = make({ perAddress: undefined })
    t.recordSuccess('p\0alice', '198.51.100.7')
    const guesses = Array.from({ length: 20 }, (_, i) => t.begin('p\0alice', `203.0.113.${i}`))
    assert.equal(guesses.filter((d) => !d.locked).length, 8)
    assert.deepEqual(guesses.at(-1), { locked: true, scope: 'user', retryAfterS: IN_FLIGHT_RETRY_S })
    t.settle(admitted(t.begin('p\0alice', '198.51.100.7')), 'success')
  })

  test("the growing delay follows the address's failures as before", () => {
    const { t } = make({ perAddress: { maxFailures: 10, windowMs: 60_000, lockoutMs: 10_000 } })
    const delays = Array.from(
      { length: 7 },
      () => t.settle(admitted(t.begin(undefined, '192.0.2.1')), 'failure').delayMs,
    )
    assert.deepEqual(delays, [0, 0, 0, 100, 200, 300, 300])
  })
})

describe('what an address lockout spares', () => {
  function lockAddress(t: SyncLoginThrottle, address: string): void {
    for (let i = 0; i < 5; i++) t.settle(admitted(t.begin('p\0bob', address)), 'failure')
  }

  test('a cache hit passes an address lockout; an attempt that would ask a provider, right password or not, is refused', () => {
    const { t } = make()
    lockAddress(t, '192.0.2.1')
    assert.deepEqual(t.checkCached('p\0alice', '192.0.2.1'), { locked: false })
    assert.deepEqual(t.begin('p\0alice', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
  })

  test('without a per-user rule nothing bounds refused guesses at a user, so an address lockout refuses cache hits too', () => {
    const { t } = make({ perUser: undefined })
    lockAddress(t, '192.0.2.1')
    assert.deepEqual(t.checkCached('p\0alice', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
  })

  test('refused attempts with distinct credentials count against the claimed user, whatever the address; past the limit her cache hits at a locked address are refused', () => {
    const { t } = make()
    const events: LockoutEvent[] = []
    t.on('lockout', (e) => events.push(e))
    t.recordSuccess('p\0alice', '192.0.2.1')
    t.recordSuccess('p\0alice', '198.51.100.7')
    lockAddress(t, '192.0.2.1')
    for (let i = 0; i < 7; i++) t.begin('p\0alice', '192.0.2.1', `guess-${i}`)
    for (let i = 0; i < 20; i++) t.begin('p\0alice', '192.0.2.1', 'guess-0')
    assert.deepEqual(
      t.checkCached('p\0alice', '192.0.2.1'),
      { locked: false },
      'seven distinct guesses, the repeats count once',
    )
    t.begin('p\0alice', '192.0.2.1', 'guess-7')
    assert.deepEqual(events.at(-1), { scope: 'user', address: '192.0.2.1', user: 'p\0alice', lockoutMs: 20_000 })
    assert.deepEqual(t.checkCached('p\0alice', '192.0.2.1'), { locked: true, scope: 'address', retryAfterS: 10 })
    assert.deepEqual(
      t.checkCached('p\0alice', '198.51.100.7'),
      { locked: false },
      'her known-good address is not locked',
    )
    assert.deepEqual(t.checkCached('p\0alice', '203.0.113.1'), { locked: true, scope: 'user', retryAfterS: 20 })
    assert.deepEqual(
      t.checkCached('p\0bob', '192.0.2.1'),
      { locked: false },
      'other users at the address are not affected',
    )
  })

  test('refused attempts without a credential id (no cache hits on that route, or Digest) count against nobody', () => {
    const { t } = make()
    lockAddress(t, '192.0.2.1')
    for (let i = 0; i < 30; i++) t.begin('p\0alice', '192.0.2.1')
    assert.deepEqual(t.check('p\0alice', '203.0.113.1'), { locked: false })
  })
})
