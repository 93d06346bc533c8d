import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { NonceManager } from '../../src/auth/nonce.js'
import { isGatehouseError } from '../../src/errors.js'

const SECRET = 'an example secret of 32 bytes!!!'

function clock(start = 1_700_000_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start
  return {
    now: () => t,
    advance: (ms) => {
      t += ms
    },
  }
}

const nc = (n: number): string => n.toString(16).padStart(8, '0')

describe('NonceManager construction', () => {
  test('refuses a missing or short secret and bad numbers with GH_ERR_OPT_INVALID', () => {
    for (const opts of [
      { secret: '' },
      { secret: 'short' },
      { secret: Buffer.alloc(15) },
      { secret: SECRET, ttlMs: 0 },
      { secret: SECRET, windowSize: 1.5 },
      { secret: SECRET, maxTracked: -1 },
      { secret: SECRET, windowSize: 5000 },
    ]) {
      assert.throws(
        () => new NonceManager(opts),
        (err: unknown) => isGatehouseError(err, 'GH_ERR_OPT_INVALID'),
        JSON.stringify(opts),
      )
    }
  })

  test('accepts the edges: a 16-byte secret, windowSize 4096; refuses a now that is not a function', () => {
    assert.doesNotThrow(() => new NonceManager({ secret: Buffer.alloc(16, 1) }))
    assert.doesNotThrow(() => new NonceManager({ secret: 'x'.repeat(16) }))
    assert.doesNotThrow(() => new NonceManager({ secret: SECRET, windowSize: 4096 }))
    assert.throws(
      () => new NonceManager({ secret: SECRET, now: 5 as unknown as () => number }),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_OPT_INVALID'),
    )
  })

  test('a clock that returns a negative, non-finite or non-number time throws TypeError instead of issuing or accepting', () => {
    for (const t of [-1, Number.NaN, Number.POSITIVE_INFINITY, '1700000000000' as unknown as number]) {
      const m = new NonceManager({ secret: SECRET, now: () => t })
      assert.throws(() => m.issue('r'), TypeError, String(t))
    }
    const good = new NonceManager({ secret: SECRET }).issue('r')
    assert.throws(() => new NonceManager({ secret: SECRET, now: () => Number.NaN }).check(good, 'r'), TypeError)
  })
})

describe('NonceManager.issue / check', () => {
  test('issues 48-character base64url nonces that are unique', () => {
    const m = new NonceManager({ secret: SECRET })
    const a = m.issue('Office')
    assert.match(a, /^[A-Za-z0-9_-]{48}$/)
    assert.notEqual(m.issue('Office'), a)
  })

  test('a fresh nonce is valid for its realm, on this and on another instance with the same secret', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now })
    const n = m.issue('Office')
    assert.equal(m.check(n, 'Office'), 'valid')
    assert.equal(new NonceManager({ secret: Buffer.from(SECRET), now: c.now }).check(n, 'Office'), 'valid')
  })

  test('a nonce older than ttlMs is stale, and valid up to exactly ttlMs', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now, ttlMs: 1000 })
    const n = m.issue('Office')
    c.advance(1000)
    assert.equal(m.check(n, 'Office'), 'valid')
    c.advance(1)
    assert.equal(m.check(n, 'Office'), 'stale')
  })

  test('the default ttl is 5 minutes', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now })
    const n = m.issue('r')
    c.advance(300_000)
    assert.equal(m.check(n, 'r'), 'valid')
    c.advance(1)
    assert.equal(m.check(n, 'r'), 'stale')
  })

  test('a nonce from the future beyond the skew is invalid, within it valid', () => {
    const c = clock()
    const issuer = new NonceManager({ secret: SECRET, now: c.now })
    const n = issuer.issue('r')
    const behind = new NonceManager({ secret: SECRET, now: () => c.now() - 5000 })
    assert.equal(behind.check(n, 'r'), 'valid')
    const farBehind = new NonceManager({ secret: SECRET, now: () => c.now() - 5001 })
    assert.equal(farBehind.check(n, 'r'), 'invalid')
  })

  test('a nonce for another realm, from another secret, or tampered is invalid (even when old)', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now, ttlMs: 1000 })
    const n = m.issue('Office')
    assert.equal(m.check(n, 'office'), 'invalid')
    assert.equal(
      new NonceManager({ secret: 'another secret of 32 bytes!!!!!!', now: c.now }).check(n, 'Office'),
      'invalid',
    )
    for (let i = 0; i < n.length; i++) {
      const flipped = n.slice(0, i) + (n[i] === 'A' ? 'B' : 'A') + n.slice(i + 1)
      assert.equal(m.check(flipped, 'Office'), 'invalid', `position ${i}`)
    }
    c.advance(10_000)
    assert.equal(m.check(n.slice(0, -1) + (n.endsWith('A') ? 'B' : 'A'), 'Office'), 'invalid')
    assert.equal(m.check(n, 'Office'), 'stale')
  })

  test('malformed nonces are invalid', () => {
    const m = new NonceManager({ secret: SECRET })
    const n = m.issue('r')
    for (const bad of [
      '',
      'x',
      `${n}A`,
      n.slice(1),
      `${n.slice(0, -1)}=`,
      n.replace(/./, '+'),
      undefined as unknown as string,
    ]) {
      assert.equal(m.check(bad, 'r'), 'invalid', String(bad))
    }
  })
})

describe('NonceManager.opaque', () => {
  test('is deterministic per realm and secret, and differs between realms and secrets', () => {
    const a = new NonceManager({ secret: SECRET })
    const b = new NonceManager({ secret: SECRET })
    assert.equal(a.opaque('Office'), b.opaque('Office'))
    assert.notEqual(a.opaque('Office'), a.opaque('Wiki'))
    assert.notEqual(
      a.opaque('Office'),
      new NonceManager({ secret: 'another secret of 32 bytes!!!!!!' }).opaque('Office'),
    )
    assert.match(a.opaque('Office'), /^[A-Za-z0-9_-]{43}$/)
  })
})

describe('NonceManager.useCount (replay protection)', () => {
  test('accepts each nc once and refuses a replay', () => {
    const m = new NonceManager({ secret: SECRET })
    const n = m.issue('r')
    assert.equal(m.useCount(n, '00000001'), true)
    assert.equal(m.useCount(n, '00000001'), false)
    assert.equal(m.useCount(n, '00000002'), true)
    assert.equal(m.useCount(n, '00000002'), false)
  })

  test('treats nc case-insensitively as a number', () => {
    const m = new NonceManager({ secret: SECRET })
    const n = m.issue('r')
    assert.equal(m.useCount(n, '0000000a'), true)
    assert.equal(m.useCount(n, '0000000A'), false)
  })

  test('accepts out-of-order counts within the window once each', () => {
    const m = new NonceManager({ secret: SECRET, windowSize: 8 })
    const n = m.issue('r')
    assert.equal(m.useCount(n, nc(10)), true)
    assert.equal(m.useCount(n, nc(5)), true)
    assert.equal(m.useCount(n, nc(3)), true) // 10 - 3 = 7 < 8: inside the window
    assert.equal(m.useCount(n, nc(5)), false)
    assert.equal(m.useCount(n, nc(3)), false)
    assert.equal(m.useCount(n, nc(9)), true)
    assert.equal(m.useCount(n, nc(9)), false)
  })

  test('refuses counts at or below the bottom of the window', () => {
    const m = new NonceManager({ secret: SECRET, windowSize: 8 })
    const n = m.issue('r')
    assert.equal(m.useCount(n, nc(10)), true)
    assert.equal(m.useCount(n, nc(2)), false) // 10 - 2 = 8: outside
    assert.equal(m.useCount(n, nc(1)), false)
  })

  test('keeps the window after a jump larger than the window', () => {
    const m = new NonceManager({ secret: SECRET, windowSize: 4 })
    const n = m.issue('r')
    assert.equal(m.useCount(n, nc(1)), true)
    assert.equal(m.useCount(n, nc(100)), true)
    assert.equal(m.useCount(n, nc(100)), false)
    assert.equal(m.useCount(n, nc(97)), true)
    assert.equal(m.useCount(n, nc(96)), false)
    assert.equal(m.useCount(n, nc(1)), false)
  })

  test('the default window is 64', () => {
    const m = new NonceManager({ secret: SECRET })
    const n = m.issue('r')
    assert.equal(m.useCount(n, nc(100)), true)
    assert.equal(m.useCount(n, nc(37)), true)
    assert.equal(m.useCount(n, nc(36)), false)
  })

  test('tracks counts per nonce', () => {
    const m = new NonceManager({ secret: SECRET })
    const a = m.issue('r')
    const b = m.issue('r')
    assert.equal(m.useCount(a, '00000001'), true)
    assert.equal(m.useCount(b, '00000001'), true)
  })

  test('refuses nc 0 and malformed nc or nonces', () => {
    const m = new NonceManager({ secret: SECRET })
    const n = m.issue('r')
    for (const bad of ['00000000', '1', '000000001', '0000000g', '']) assert.equal(m.useCount(n, bad), false, bad)
    assert.equal(m.useCount('not a nonce', '00000001'), false)
  })

  test('without nc (RFC 2069 mode) allows one use per nonce', () => {
    const m = new NonceManager({ secret: SECRET })
    const n = m.issue('r')
    assert.equal(m.useCount(n, undefined), true)
    assert.equal(m.useCount(n, undefined), false)
  })

  test('memory stays bounded by maxTracked whatever the traffic', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now, maxTracked: 10 })
    for (let i = 0; i < 1000; i++) {
      assert.equal(m.useCount(m.issue('r'), '00000001'), true)
      assert.ok(m.trackedCount <= 10)
      c.advance(1)
    }
    assert.equal(m.trackedCount, 10)
  })

  test('an evicted nonce is refused (stale by eviction) while newer nonces still work', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now, maxTracked: 2 })
    const first = m.issue('r')
    assert.equal(m.useCount(first, '00000001'), true)
    c.advance(1)
    const second = m.issue('r')
    c.advance(1)
    const third = m.issue('r')
    assert.equal(m.useCount(second, '00000001'), true)
    assert.equal(m.useCount(third, '00000001'), true) // evicts `first`
    assert.equal(m.trackedCount, 2)
    assert.equal(m.useCount(first, '00000001'), false) // a replay is not accepted once forgotten
    assert.equal(m.useCount(first, '00000002'), false) // nor a new count: the client must take a fresh nonce
    assert.equal(m.check(first, 'r'), 'valid') // the nonce itself is authentic: the caller answers stale=true
    c.advance(1)
    assert.equal(m.useCount(m.issue('r'), '00000001'), true)
  })

  test('the most recently used nonce survives eviction (LRU)', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now, maxTracked: 2 })
    const a = m.issue('r')
    c.advance(1)
    const b = m.issue('r')
    c.advance(1)
    assert.equal(m.useCount(a, '00000001'), true)
    assert.equal(m.useCount(b, '00000001'), true)
    assert.equal(m.useCount(a, '00000002'), true) // a is now the most recent
    assert.equal(m.useCount(m.issue('r'), '00000001'), true) // evicts b
    assert.equal(m.useCount(a, '00000003'), true)
    assert.equal(m.useCount(a, '00000002'), false)
  })

  test('expired states are dropped without waiting for the limit', () => {
    const c = clock()
    const m = new NonceManager({ secret: SECRET, now: c.now, ttlMs: 1000, maxSkewMs: 1 })
    assert.equal(m.useCount(m.issue('r'), '00000001'), true)
    assert.equal(m.trackedCount, 1)
    c.advance(1002)
    assert.equal(m.useCount(m.issue('r'), '00000001'), true)
    assert.equal(m.trackedCount, 1)
  })
})
