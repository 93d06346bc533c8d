import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { basicChallenge, formatBasic, parseBasic } from '../../src/auth/basic.js'
import { splitAuthorization } from '../../src/auth/auth-header.js'

const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64')

describe('parseBasic(rest)', () => {
  test('parses the RFC 7617 §2 example Aladdin:open sesame', () => {
    assert.deepEqual(parseBasic('QWxhZGRpbjpvcGVuIHNlc2FtZQ=='), { user: 'Aladdin', password: 'open sesame' })
  })

  test('splits at the first colon so that passwords may contain colons', () => {
    assert.deepEqual(parseBasic(b64('alice:pa:ss:')), { user: 'alice', password: 'pa:ss:' })
  })

  test('accepts an empty password and an empty user-id, as the grammar allows', () => {
    assert.deepEqual(parseBasic(b64('bob:')), { user: 'bob', password: '' })
    assert.deepEqual(parseBasic(b64(':secret')), { user: '', password: 'secret' })
  })

  test('decodes UTF-8 user and password (RFC 7617 §2.1 test vector test:123£)', () => {
    assert.deepEqual(parseBasic('dGVzdDoxMjPCow=='), { user: 'test', password: '123£' })
    assert.deepEqual(parseBasic(b64('Jäsøn Doe:Secret, or not? 🔑')), {
      user: 'Jäsøn Doe',
      password: 'Secret, or not? 🔑',
    })
  })

  test('refuses credentials without a colon', () => {
    assert.equal(parseBasic(b64('aladdin')), undefined)
  })

  test('refuses empty input', () => {
    assert.equal(parseBasic(''), undefined)
  })

  test('refuses characters outside the base64 alphabet, including base64url and whitespace', () => {
    assert.equal(parseBasic('QWxhZGRpbjpvcGVuIHNlc2FtZQ==!'), undefined)
    assert.equal(parseBasic('QWxh ZGRpbjpvcGVuIHNlc2FtZQ=='), undefined)
    assert.equal(parseBasic('YTo-_w=='), undefined)
  })

  test('refuses missing, misplaced or excess padding', () => {
    assert.equal(parseBasic('QWxhZGRpbjpvcGVuIHNlc2FtZQ'), undefined)
    assert.equal(parseBasic('QWxhZGRpbjpvcGVuIHNlc2FtZQ='), undefined)
    assert.equal(parseBasic('QWxhZGRpbjpvcGVuIHNlc2FtZQ==='), undefined)
    assert.equal(parseBasic('QW=xhZGRpbjpvcGVuIHNlc2FtZQ=='), undefined)
    assert.equal(parseBasic('===='), undefined)
  })

  test('refuses non-canonical base64 whose unused bits are not zero', () => {
    assert.equal(b64('a:b'), 'YTpi')
    assert.deepEqual(parseBasic('YTpiYw=='), { user: 'a', password: 'bc' })
    assert.equal(parseBasic('YTpiYx=='), undefined)
  })

  test('refuses octets that are not UTF-8 instead of inventing replacement characters', () => {
    assert.equal(parseBasic(b64(Buffer.from([0x61, 0x3a, 0xff, 0xfe]))), undefined)
    assert.equal(parseBasic(b64(Buffer.from('user:caf\u00e9', 'latin1'))), undefined)
    assert.equal(parseBasic(b64(Buffer.from([0x61, 0x3a, 0xed, 0xa0, 0x80]))), undefined) // encoded surrogate
  })

  test('refuses control characters in the user-id or the password', () => {
    for (const s of ['a\u0000:b', 'a:b\u0000', 'a:b\r\n', 'a\t:b', 'a:\u007f', 'a:\u0085', 'a:b\u001b[31m']) {
      assert.equal(parseBasic(b64(s)), undefined, JSON.stringify(s))
    }
  })

  test('refuses credentials longer than 8 KiB', () => {
    const ok = b64(`u:${'p'.repeat(6000)}`)
    assert.ok(ok.length <= 8192)
    assert.deepEqual(parseBasic(ok)?.user, 'u')
    assert.equal(parseBasic(b64(`u:${'p'.repeat(7000)}`)), undefined)
  })
})

describe('splitAuthorization(value) with Basic', () => {
  test('reads the scheme case-insensitively and tolerates several spaces', () => {
    assert.deepEqual(splitAuthorization('bAsIc   QWxhZGRpbjpvcGVuIHNlc2FtZQ=='), {
      scheme: 'basic',
      rest: 'QWxhZGRpbjpvcGVuIHNlc2FtZQ==',
    })
  })
})

describe('formatBasic(user, password)', () => {
  test('builds the header value that parseBasic reads back', () => {
    assert.equal(formatBasic('Aladdin', 'open sesame'), 'Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==')
    assert.equal(formatBasic('test', '123£'), 'Basic dGVzdDoxMjPCow==')
  })

  test('throws TypeError when the user-id contains a colon', () => {
    assert.throws(() => formatBasic('a:b', 'c'), TypeError)
  })

  test('throws TypeError for control characters and lone surrogates', () => {
    assert.throws(() => formatBasic('a\n', 'c'), TypeError)
    assert.throws(() => formatBasic('a', 'c\u0000'), TypeError)
    assert.throws(() => formatBasic('a', '\ud800'), TypeError)
  })

  test('round-trips any user without ":" and without control characters (property, fixed seed)', () => {
    const noCtl = (s: string): boolean => !/\p{Cc}/u.test(s) && !/[\uD800-\uDFFF]/u.test(s)
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes(':') && noCtl(s)),
        fc.string({ unit: 'grapheme', maxLength: 40 }).filter(noCtl),
        (user, password) => {
          const split = splitAuthorization(formatBasic(user, password))
          assert.equal(split?.scheme, 'basic')
          assert.deepEqual(parseBasic(split?.rest ?? ''), { user, password })
        },
      ),
      { seed: 7617, numRuns: 500 },
    )
  })

  test('parseBasic never throws on arbitrary strings (property, fixed seed)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string({ maxLength: 200 }),
          fc.base64String({ maxLength: 200 }),
          fc.string({ unit: 'binary', maxLength: 200 }),
        ),
        (s) => {
          const r = parseBasic(s)
          assert.ok(r === undefined || (typeof r.user === 'string' && typeof r.password === 'string'))
        },
      ),
      { seed: 7617, numRuns: 500 },
    )
  })
})

describe('basicChallenge(realm, opts)', () => {
  test('announces the realm and charset="UTF-8" by default', () => {
    assert.equal(basicChallenge('Office'), 'Basic realm="Office", charset="UTF-8"')
  })

  test('omits the charset when asked', () => {
    assert.equal(basicChallenge('Office', { charset: false }), 'Basic realm="Office"')
  })

  test('escapes quotes and backslashes in the realm', () => {
    assert.equal(basicChallenge('a "b" \\c'), 'Basic realm="a \\"b\\" \\\\c", charset="UTF-8"')
  })

  test('writes a non-ASCII realm as UTF-8 octets in the header view', () => {
    assert.equal(basicChallenge('Büro', { charset: false }), 'Basic realm="B\u00c3\u00bcro"')
  })

  test('throws TypeError for a realm with CR or LF (header injection)', () => {
    assert.throws(() => basicChallenge('a\r\nSet-Cookie: x=1'), TypeError)
  })
})
