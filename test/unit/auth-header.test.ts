import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import {
  decodeHeaderOctets,
  encodeHeaderOctets,
  parseAuthParams,
  quote,
  quoteOctets,
  splitAuthorization,
} from '../../src/auth/auth-header.js'
import { safeEqual } from '../../src/auth/compare.js'

describe('splitAuthorization(value)', () => {
  test('lower-cases the scheme and returns the rest after the spaces', () => {
    assert.deepEqual(splitAuthorization('DIGEST username="a", realm="b"'), {
      scheme: 'digest',
      rest: 'username="a", realm="b"',
    })
    assert.deepEqual(splitAuthorization('Bearer abc.def-ghi~'), { scheme: 'bearer', rest: 'abc.def-ghi~' })
  })

  test('accepts a scheme alone and trims surrounding whitespace of the field', () => {
    assert.deepEqual(splitAuthorization('Negotiate'), { scheme: 'negotiate', rest: '' })
    assert.deepEqual(splitAuthorization(' \tBasic abc= \t'), { scheme: 'basic', rest: 'abc=' })
  })

  test('refuses an empty value, a non-token scheme and a separator other than SP', () => {
    assert.equal(splitAuthorization(''), undefined)
    assert.equal(splitAuthorization('   '), undefined)
    assert.equal(splitAuthorization('Ba(sic abc'), undefined)
    assert.equal(splitAuthorization('Basic\tabc'), undefined)
    assert.equal(splitAuthorization('Basic,abc'), undefined)
  })

  test('refuses values longer than 16 KiB', () => {
    assert.equal(splitAuthorization(`Basic ${'A'.repeat(16 * 1024)}`), undefined)
  })

  test('stays linear on long runs of spaces (no catastrophic backtracking)', () => {
    const evil = `Basic a${' '.repeat(16000)}b`
    assert.deepEqual(splitAuthorization(evil), { scheme: 'basic', rest: evil.slice(6) })
  })
})

describe('parseAuthParams(input)', () => {
  test('reads tokens and quoted-strings, lower-casing names', () => {
    const p = parseAuthParams('Realm="x y", NC=00000001 ,qop=auth')
    assert.deepEqual(
      [...(p ?? [])],
      [
        ['realm', 'x y'],
        ['nc', '00000001'],
        ['qop', 'auth'],
      ],
    )
  })

  test('keeps commas and equals signs inside quoted-strings', () => {
    assert.deepEqual(
      [...(parseAuthParams('a="1, b=2", c=3') ?? [])],
      [
        ['a', '1, b=2'],
        ['c', '3'],
      ],
    )
  })

  test('unescapes quoted-pairs', () => {
    assert.deepEqual([...(parseAuthParams('a="say \\"hi\\" \\\\ \\x"') ?? [])], [['a', 'say "hi" \\ x']])
  })

  test('accepts BWS around "=" and empty list elements', () => {
    assert.deepEqual(
      [...(parseAuthParams(' , a = "1" ,, b=2 ,') ?? [])],
      [
        ['a', '1'],
        ['b', '2'],
      ],
    )
  })

  test('refuses duplicated parameters, case-insensitively', () => {
    assert.equal(parseAuthParams('realm="a", REALM="a"'), undefined)
  })

  test('refuses token68, missing "=", empty token value, unclosed quotes and junk between params', () => {
    for (const bad of ['abc==', 'a', 'a=', 'a="x', 'a="x\\', 'a=1 b=2', 'a="1"x', '=1', 'a=1;b=2']) {
      assert.equal(parseAuthParams(bad), undefined, bad)
    }
  })

  test('refuses control characters inside quoted-strings', () => {
    assert.equal(parseAuthParams('a="x\r\ny"'), undefined)
    assert.equal(parseAuthParams('a="x\u0000"'), undefined)
  })

  test('returns an empty map for an empty list', () => {
    assert.equal(parseAuthParams('')?.size, 0)
  })
})

describe('quote(value), quoteOctets(octets) and the octet view', () => {
  test('escapes quote and backslash', () => {
    assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"')
    assert.equal(quoteOctets('a"b'), '"a\\"b"')
  })

  test('throws TypeError for CR, LF, NUL and lone surrogates', () => {
    for (const bad of ['a\rb', 'a\nb', '\u0000', '\u007f', '\ud800'])
      assert.throws(() => quote(bad), TypeError, JSON.stringify(bad))
    assert.throws(() => quoteOctets('\u0100'), TypeError)
  })

  test('round-trips UTF-8 through the latin1 octet view', () => {
    const octets = encodeHeaderOctets('Jäsøn')
    assert.equal(octets, 'J\u00c3\u00a4s\u00c3\u00b8n')
    assert.deepEqual(decodeHeaderOctets(octets), { value: 'Jäsøn', utf8: true })
  })

  test('keeps ISO-8859-1 octets that are not UTF-8 as they are', () => {
    assert.deepEqual(decodeHeaderOctets('caf\u00e9'), { value: 'caf\u00e9', utf8: false })
    assert.deepEqual(decodeHeaderOctets('plain'), { value: 'plain', utf8: false })
  })
})

describe('safeEqual(a, b)', () => {
  test('is true for equal strings and equal buffers, and across the two forms', () => {
    assert.equal(safeEqual('8ca523f5e9506fed4657c9700eebdbec', '8ca523f5e9506fed4657c9700eebdbec'), true)
    assert.equal(safeEqual(Buffer.from('abc'), Buffer.from('abc')), true)
    assert.equal(safeEqual('é', Buffer.from('é', 'utf8')), true)
    assert.equal(safeEqual('', ''), true)
  })

  test('is false for different values, including different lengths and prefixes', () => {
    assert.equal(safeEqual('abc', 'abd'), false)
    assert.equal(safeEqual('abc', 'abcd'), false)
    assert.equal(safeEqual('', 'a'), false)
    assert.equal(safeEqual(Buffer.from([0]), Buffer.alloc(0)), false)
  })

  test('throws TypeError on misuse', () => {
    assert.throws(() => safeEqual(undefined as unknown as string, 'a'), TypeError)
  })
})
