/**
 * The per-request hashing of the Digest and cache paths: what each shortcut must still
 * guarantee. Expected values are computed here with node:crypto directly, not with gatehouse's code.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, createHmac } from 'node:crypto'
import { safeEqualPublicLength } from '../../src/auth/compare.js'
import { CredentialCache } from '../../src/auth/credential-cache.js'
import { NonceManager } from '../../src/auth/nonce.js'
import { parseAuthParams } from '../../src/auth/auth-header.js'
import { computeResponse, computeHA1 } from '../../src/auth/digest.js'

describe('safeEqualPublicLength(a, b)', () => {
  test('true for the same string, false when any byte or the length differs', () => {
    const hex = 'a'.repeat(63) + 'b'
    assert.equal(safeEqualPublicLength(hex, hex), true)
    assert.equal(safeEqualPublicLength(hex, 'a'.repeat(64)), false)
    assert.equal(safeEqualPublicLength(hex, hex.slice(1)), false)
    assert.equal(safeEqualPublicLength('', ''), true)
  })

  test('compares UTF-8 bytes: a character above U+00FF never equals its low byte', () => {
    assert.equal(safeEqualPublicLength('\u0100', '\u0000'), false)
    assert.equal(safeEqualPublicLength('é', 'é'), true)
    assert.equal(safeEqualPublicLength('é', '\u00c3\u00a9'), false)
  })

  test('throws TypeError for a non-string', () => {
    assert.throws(() => safeEqualPublicLength(Buffer.from('a') as unknown as string, 'a'), TypeError)
  })
})

describe('CredentialCache keys', () => {
  const cache = (): CredentialCache<string> => new CredentialCache<string>({ maxEntries: 10, ttlMs: 60_000 })

  test('key() is stable in one cache, differs between caches (per-boot key), and hides the parts', () => {
    const a = cache()
    const b = cache()
    const header = 'Basic YmVuY2g6YmVuY2g='
    assert.equal(a.key('r', 'basic-header', header), a.key('r', 'basic-header', header))
    assert.notEqual(a.key('r', 'basic-header', header), b.key('r', 'basic-header', header))
    assert.match(a.key('r', 'basic-header', header), /^[A-Za-z0-9_-]{43}$/)
    assert.ok(!a.key('r', 'basic-header', header).includes('YmVuY2g'))
  })

  test('key() separates its parts: ("a:b","c") and ("a","b:c") differ', () => {
    const c = cache()
    assert.notEqual(c.key('a:b', 'c'), c.key('a', 'b:c'))
    assert.notEqual(c.plainKey('a:b', 'c'), c.plainKey('a', 'b:c'))
  })

  test('plainKey() never equals a key(): the two kinds of entries cannot meet', () => {
    const c = cache()
    const plain = c.plainKey('Bench\0accounts', 'groups', 'accounts', 'bench')
    assert.equal(plain, '\0Bench\0accounts\0groups\0accounts\0bench')
    assert.notEqual(plain, c.key('Bench\0accounts', 'groups', 'accounts', 'bench'))
    c.set(plain, 'x', 'accounts')
    assert.equal(c.get(c.key('Bench\0accounts', 'groups', 'accounts', 'bench')), undefined)
    assert.equal(c.get(plain), 'x')
  })
})

describe('NonceManager.opaque(realm)', () => {
  const secret = 'opaque-test-secret-0123456789'
  const expected = (realm: string): string => {
    const k = createHmac('sha256', secret).update('gatehouse digest opaque v1').digest()
    return createHmac('sha256', k).update(realm, 'utf8').digest('base64url')
  }

  test('is HMAC-SHA256(k_opaque, realm) for every realm, asked once or many times, past the memo bound', () => {
    const m = new NonceManager({ secret })
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < 300; i++) assert.equal(m.opaque(`realm ${i}`), expected(`realm ${i}`))
    }
    assert.equal(m.opaque('Bench'), expected('Bench'))
    assert.equal(m.opaque('Bench'), new NonceManager({ secret }).opaque('Bench'))
    assert.notEqual(m.opaque('Bench'), new NonceManager({ secret: `${secret}!` }).opaque('Bench'))
  })
})

describe('parseAuthParams quoted-strings', () => {
  test('unescapes quoted-pairs at the start, middle and end of a value, and next to each other', () => {
    const p = parseAuthParams('a="\\"x\\\\y\\"", b="", c="p\\q\\\\\\"r", d=tok')
    assert.ok(p)
    assert.equal(p.get('a'), '"x\\y"')
    assert.equal(p.get('b'), '')
    assert.equal(p.get('c'), 'pq\\"r')
    assert.equal(p.get('d'), 'tok')
  })

  test('an unclosed quote, or one closed only by an escaped quote, is malformed', () => {
    assert.equal(parseAuthParams('a="abc'), undefined)
    assert.equal(parseAuthParams('a="abc\\"'), undefined)
    assert.equal(parseAuthParams('a="abc\\'), undefined)
  })

  test('a parameter after a long quoted value is read from the right place', () => {
    const response = 'f'.repeat(64)
    const p = parseAuthParams(`response="${response}",nc=00000001 , qop=auth`)
    assert.ok(p)
    assert.equal(p.get('response'), response)
    assert.equal(p.get('nc'), '00000001')
    assert.equal(p.get('qop'), 'auth')
  })
})

describe('computeResponse hashes the octets the client sent', () => {
  const h = (data: string | Buffer): string => createHash('sha256').update(data).digest('hex')

  for (const uri of ['/group-digest?x=1', '/caf\u00e9']) {
    test(`uri ${JSON.stringify(uri)}: H(HA1:nonce:nc:cnonce:qop:H(method:uri)) over latin1 octets`, () => {
      const ha1 = computeHA1('SHA-256', 'bench', 'Bench', 'bench')
      assert.equal(ha1, h('bench:Bench:bench'))
      const ha2 = h(Buffer.from(`GET:${uri}`, 'latin1'))
      const want = h(Buffer.from(`${ha1}:n0nce:00000001:c0nce:auth:${ha2}`, 'latin1'))
      assert.equal(
        computeResponse({
          algorithm: 'SHA-256',
          ha1,
          method: 'GET',
          uri,
          nonce: 'n0nce',
          nc: '00000001',
          cnonce: 'c0nce',
          qop: 'auth',
        }),
        want,
      )
    })
  }
})

describe('NonceManager.check(nonce, realm) with verified nonces remembered', () => {
  const secret = 'check-memo-test-secret-0123456789'

  test('a nonce verified for one realm stays invalid for another, however often it was checked', () => {
    const m = new NonceManager({ secret })
    const n = m.issue('A')
    for (let i = 0; i < 3; i++) assert.equal(m.check(n, 'A'), 'valid')
    assert.equal(m.check(n, 'B'), 'invalid')
    assert.equal(m.check(n, 'A'), 'valid')
  })

  test('a nonce with one changed tag character is invalid after the genuine one was verified', () => {
    const m = new NonceManager({ secret })
    const n = m.issue('A')
    assert.equal(m.check(n, 'A'), 'valid')
    const last = n.at(-1) === 'A' ? 'B' : 'A'
    assert.equal(m.check(n.slice(0, -1) + last, 'A'), 'invalid')
    assert.equal(m.check(n, 'A'), 'valid')
  })

  test('a remembered nonce still turns stale with age, and one from the future beyond the skew is invalid', () => {
    let now = 1_000_000
    const m = new NonceManager({ secret, ttlMs: 1000, now: () => now })
    const n = m.issue('A')
    assert.equal(m.check(n, 'A'), 'valid')
    now += 1001
    assert.equal(m.check(n, 'A'), 'stale')
    now = 1_000_000 - 10_000
    const early = new NonceManager({ secret, ttlMs: 1000, now: () => now })
    now = 1_000_000
    const future = m.issue('A')
    assert.equal(m.check(future, 'A'), 'valid')
    now = 1_000_000 - 10_000
    assert.equal(early.check(future, 'A'), 'invalid')
    assert.equal(m.check(future, 'A'), 'invalid')
  })

  test('past the memo bound every nonce is still judged right (re-verified)', () => {
    const m = new NonceManager({ secret })
    const first = m.issue('A')
    assert.equal(m.check(first, 'A'), 'valid')
    for (let i = 0; i < 5000; i++) assert.equal(m.check(m.issue('A'), 'A'), 'valid')
    assert.equal(m.check(first, 'A'), 'valid')
    assert.equal(m.check(first, 'B'), 'invalid')
  })
})
