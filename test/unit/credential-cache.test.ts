import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { CredentialCache } from '../../src/auth/credential-cache.js'

describe('CredentialCache', () => {
  test('keys are keyed hashes: the plaintext never appears and separators cannot be shifted', () => {
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000 })
    const k = c.key('realm', 'alice', 'pa:ss')
    assert.ok(!k.includes('alice') && !k.includes('pa:ss'))
    assert.notEqual(c.key('a:b', 'c'), c.key('a', 'b:c'))
    assert.notEqual(
      new CredentialCache<string>({ maxEntries: 1, ttlMs: 1 }).key('x'),
      c.key('x'),
      'per-instance secret',
    )
  })

  test('entries expire after the TTL', () => {
    let now = 0
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000, now: () => now })
    c.set('k', 'v', 'p')
    now = 999
    assert.equal(c.get('k'), 'v')
    now = 1000
    assert.equal(c.get('k'), undefined)
  })

  test('size is bounded: the oldest entry goes first', () => {
    const c = new CredentialCache<number>({ maxEntries: 3, ttlMs: 1000 })
    for (let i = 0; i < 5; i++) c.set(`k${i}`, i, 'p')
    assert.equal(c.size, 3)
    assert.equal(c.get('k0'), undefined)
    assert.equal(c.get('k4'), 4)
  })

  test('identical concurrent checks collapse into one provider call', async () => {
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000 })
    let calls = 0
    const load = async () => {
      calls++
      await new Promise((r) => setTimeout(r, 20))
      return { value: 'alice', provider: 'p' }
    }
    const results = await Promise.all(Array.from({ length: 10 }, () => c.through('k', load)))
    assert.equal(calls, 1)
    assert.deepEqual(new Set(results), new Set(['alice']))
    assert.equal(await c.through('k', load), 'alice')
    assert.equal(calls, 1, 'served from the cache')
  })

  test('denials and failures are not cached', async () => {
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000 })
    assert.equal(await c.through('k', async () => undefined), undefined)
    await assert.rejects(
      c.through('k', async () => {
        throw new Error('down')
      }),
    )
    assert.equal(c.size, 0)
  })

  test("clearProvider empties exactly that provider's entries", () => {
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000 })
    c.set('a', '1', 'accounts')
    c.set('b', '2', 'office')
    assert.equal(c.clearProvider('accounts'), 1)
    assert.equal(c.get('a'), undefined)
    assert.equal(c.get('b'), '2')
  })
})

describe('the cache key', () => {
  test('is an HMAC-SHA256 under the per-boot key: same parts, same key; the key never appears', () => {
    const c = new CredentialCache<string>({ maxEntries: 1, ttlMs: 1000 })
    const k = c.key('R', 'basic-header', 'Basic YWxpY2U6cmlnaHQ=')
    assert.equal(k, c.key('R', 'basic-header', 'Basic YWxpY2U6cmlnaHQ='))
    assert.notEqual(k, c.key('R', 'basic-header', 'Basic YWxpY2U6cmlnaHU='))
    assert.notEqual(c.key('a:b', 'c'), c.key('a', 'b:c'))
    // Not a bare hash of the parts: without the process's key nobody can recompute it.
    assert.notEqual(k, createHash('sha256').update('R\0basic-header\0Basic YWxpY2U6cmlnaHQ=').digest('base64url'))
    assert.equal(Buffer.from(k, 'base64url').length, 32)
  })
})

describe('clearing while a check is in flight', () => {
  test('an answer loaded before a clear is not stored after it, and later callers do not join the old load', async () => {
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 60_000 })
    let release!: (v: { value: string; provider: string }) => void
    let loads = 0
    const slow = () => {
      loads++
      return new Promise<{ value: string; provider: string } | undefined>((r) => {
        release = r
      })
    }
    const first = c.through('k', slow)
    c.clearProvider('files') // the provider's data changed while the check ran
    const second = c.through('k', async () => {
      loads++
      return { value: 'new', provider: 'files' }
    })
    release({ value: 'old', provider: 'files' })
    assert.equal(await first, 'old', 'the caller still gets its answer')
    assert.equal(await second, 'new', 'a caller after the clear ran its own check')
    assert.equal(loads, 2)
    assert.equal(c.get('k'), 'new', 'only the answer loaded after the clear is cached')
  })
})
