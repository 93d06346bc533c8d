/**
 * Django password hashers, verified natively, against fixed vectors. The vectors are what
 * Django 3.2's own make_password / hasher.encode produced for 'lètmein' (the password of
 * Django's tests/auth_tests/test_hashers.py); scrypt's is Django 4's test vector.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { algorithmOf, parseDjangoHash } from '../../providers/django/hash-format.js'
import { nodeHashPrimitives, type HashPrimitives } from '../../providers/django/hash-primitives.js'
import {
  DJANGO_DEFAULT_PBKDF2_ITERATIONS,
  DUMMY_HASH,
  hardenRuntime,
  runDummyCheck,
  verifyDjangoPassword,
} from '../../providers/django/hashers.js'

const PASSWORD = 'lètmein'

const VECTORS: Array<[algorithm: string, encoded: string]> = [
  ['pbkdf2_sha256', 'pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo='],
  ['pbkdf2_sha1', 'pbkdf2_sha1$260000$seasalt$XXHk2gQ7tjWIyrS320RXXsGqkUg='],
  ['argon2 (argon2id)', 'argon2$argon2id$v=19$m=64,t=1,p=2$c2Vhc2FsdDE$vwA4ilZRq/qFjGEGLH1C9A'],
  ['argon2 (argon2i)', 'argon2$argon2i$v=19$m=64,t=1,p=2$c2Vhc2FsdDE$MXF62nhG9aNbLRKrCDkmWw'],
  ['argon2 (argon2d)', 'argon2$argon2d$v=19$m=64,t=1,p=2$c2Vhc2FsdDE$rcjMd40ckSffyYExdl/Kow'],
  ['bcrypt_sha256', 'bcrypt_sha256$$2b$04$abcdefghijklmnopqrstuulyx/yrfLnuLCi6gwFG5mrkJjuQKpL6S'],
  ['bcrypt', 'bcrypt$$2b$04$abcdefghijklmnopqrstuuanVo7Xut1CH8VGIGlz1JovQh9GJbbtG'],
  [
    'scrypt',
    'scrypt$16384$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==',
  ],
  ['sha1', 'sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8'],
  ['md5', 'md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3'],
  ['unsalted_sha1', 'sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b'],
  ['unsalted_md5', '88a434c88cca4e900f7874cd98123f43'],
  ['unsalted_md5 (md5$$ form)', 'md5$$88a434c88cca4e900f7874cd98123f43'],
  ['crypt', 'crypt$$abprj99vCww4M'],
]

describe('verifyDjangoPassword(encoded, password)', () => {
  for (const [algorithm, encoded] of VECTORS) {
    test(`${algorithm}: accepts the password Django hashed`, async () => {
      assert.equal(await verifyDjangoPassword(encoded, PASSWORD), true)
    })
    test(`${algorithm}: refuses a wrong password and the empty password`, async () => {
      assert.equal(await verifyDjangoPassword(encoded, 'letmein'), false)
      assert.equal(await verifyDjangoPassword(encoded, ''), false)
    })
  }

  test('bcrypt ignores bytes after the 72nd, like Django with py-bcrypt', async () => {
    const encoded = 'bcrypt$$2b$04$abcdefghijklmnopqrstuubzadhGtS2zEF.gu0yd0opP6cVzb.e0i' // 'x' * 72
    assert.equal(await verifyDjangoPassword(encoded, 'x'.repeat(72)), true)
    assert.equal(await verifyDjangoPassword(encoded, 'x'.repeat(72) + 'anything'), true)
    assert.equal(await verifyDjangoPassword(encoded, 'x'.repeat(71)), false)
  })

  test('bcrypt_sha256 does not truncate: the whole password counts', async () => {
    const encoded = 'bcrypt_sha256$$2b$04$abcdefghijklmnopqrstuu8Q9BIapi1AigPkxCtMmTOVkzLYVJ31y' // 'x' * 72
    assert.equal(await verifyDjangoPassword(encoded, 'x'.repeat(72)), true)
    assert.equal(await verifyDjangoPassword(encoded, 'x'.repeat(72) + 'anything'), false)
  })

  test('a password with a NUL byte never matches bcrypt or crypt (Django raises; C would truncate)', async () => {
    assert.equal(
      await verifyDjangoPassword(
        'bcrypt$$2b$04$abcdefghijklmnopqrstuuanVo7Xut1CH8VGIGlz1JovQh9GJbbtG',
        `${PASSWORD}\0tail`,
      ),
      false,
    )
    assert.equal(await verifyDjangoPassword('crypt$$abprj99vCww4M', `${PASSWORD}\0`), false)
  })

  test('an unusable password (set_unusable_password) never matches, not even "!" itself', async () => {
    assert.equal(await verifyDjangoPassword('!', '!'), false)
    assert.equal(
      await verifyDjangoPassword(
        '!Zq8aYHHpK4dYbRyMXStyLrDmzJcqK5QB7Kv1sOa3',
        '!Zq8aYHHpK4dYbRyMXStyLrDmzJcqK5QB7Kv1sOa3',
      ),
      false,
    )
  })

  test('unknown algorithms, empty and garbled values are refused', async () => {
    for (const encoded of [
      '',
      'sha512$salt$' + 'ab'.repeat(64),
      'pbkdf2_sha256$abc$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=',
      'pbkdf2_sha256$0$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=',
      'pbkdf2_sha256$260000$seasalt',
      'argon2$argon2i$m=8,t=1,p=1$c29tZXNhbHQ$gwQOXSNhxiOxPOA0+PY10P9QFO4NAYysnqRt1GSQLE55m+2GYDt9FEjPMHhP2Cuf0nOEXXMocVrsJAtNSsKyfg',
      'bcrypt$$2x$04$abcdefghijklmnopqrstuuanVo7Xut1CH8VGIGlz1JovQh9GJbbtG',
      'scrypt$16383$seasalt$8$1$Qj3+9PPyRjSJIebHnG81TMjsqtaIGxNQG/aEB/NYafTJ7tibgfYz71m0ldQESkXFRkdVCBhhY8mx7rQwite/Pw==',
      'crypt$$$1$abc$def',
      'toString',
    ]) {
      assert.equal(await verifyDjangoPassword(encoded, PASSWORD), false, encoded.slice(0, 20))
    }
  })

  test('a non-canonical iteration count does not match, as Django re-encodes with %d', async () => {
    assert.equal(
      await verifyDjangoPassword(
        'pbkdf2_sha256$0260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=',
        PASSWORD,
      ),
      false,
    )
  })
})

describe('parseDjangoHash(encoded) identifies the hasher like identify_hasher', () => {
  const cases: Array<[string, string | undefined]> = [
    ['pbkdf2_sha256$260000$s$h', 'pbkdf2_sha256'],
    ['88a434c88cca4e900f7874cd98123f43', 'unsalted_md5'],
    ['md5$$88a434c88cca4e900f7874cd98123f43', 'unsalted_md5'],
    ['md5$seasalt$3f86d0d3d465b7b458c231bf3555c0e3', 'md5'],
    ['sha1$$6d138ca3ae545631b3abd71a4f076ce759c5700b', 'unsalted_sha1'],
    ['sha1$seasalt$cff36ea83f5706ce9aa7454e63e431fc726b2dc8', 'sha1'],
    ['!unusable', undefined],
    ['', undefined],
    ['constructor$x', undefined],
  ]
  for (const [encoded, algorithm] of cases) {
    test(`${JSON.stringify(encoded.slice(0, 24))} → ${algorithm ?? 'undefined'}`, () => {
      assert.equal(parseDjangoHash(encoded)?.algorithm, algorithm)
    })
  }

  test('algorithmOf names the algorithm without the rest of the value', () => {
    assert.equal(algorithmOf('sha512$salt$hash'), 'sha512')
  })
})

describe('work done per check (counted, not timed)', () => {
  function counting(): { primitives: HashPrimitives; calls: string[] } {
    const calls: string[] = []
    const primitives: HashPrimitives = {
      ...nodeHashPrimitives,
      pbkdf2: (digest, password, salt, iterations, keyLength) => {
        calls.push(`pbkdf2_${digest}:${iterations}`)
        return nodeHashPrimitives.pbkdf2(digest, password, salt, iterations, keyLength)
      },
    }
    return { primitives, calls }
  }

  test('the dummy check is one pbkdf2_sha256 of the default iteration count', async () => {
    const { primitives, calls } = counting()
    await runDummyCheck('anything', primitives)
    assert.deepEqual(calls, [`pbkdf2_sha256:${DJANGO_DEFAULT_PBKDF2_ITERATIONS}`])
    assert.equal(DUMMY_HASH.algorithm, 'pbkdf2_sha256')
  })

  test('hardenRuntime tops an older pbkdf2_sha256 hash up to the default iteration count', async () => {
    const { primitives, calls } = counting()
    const hash = parseDjangoHash('pbkdf2_sha256$100000$seasalt$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=')
    assert.ok(hash)
    await hardenRuntime(hash, 'wrong', primitives)
    assert.deepEqual(calls, [`pbkdf2_sha256:${DJANGO_DEFAULT_PBKDF2_ITERATIONS - 100000}`])
  })

  test('hardenRuntime does nothing for a hash at the default cost or of another hasher', async () => {
    const { primitives, calls } = counting()
    for (const encoded of [
      'pbkdf2_sha256$260000$seasalt$YlZ2Vggtqdc61YjArZuoApoBh9JNGYoDRBUGu6tcJQo=',
      'pbkdf2_sha1$100000$seasalt$XXHk2gQ7tjWIyrS320RXXsGqkUg=',
    ]) {
      const hash = parseDjangoHash(encoded)
      assert.ok(hash)
      await hardenRuntime(hash, 'wrong', primitives)
    }
    assert.deepEqual(calls, [])
  })
})
