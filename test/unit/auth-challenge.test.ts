import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { digestChallenges } from '../../src/auth/challenge.js'
import { parseAuthParams, splitAuthorization } from '../../src/auth/auth-header.js'
import { NonceManager } from '../../src/auth/nonce.js'

const nonce = '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v'
const opaque = 'FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS'

describe('digestChallenges(p)', () => {
  test('builds one challenge per algorithm in the given order, as in RFC 7616 §3.9.1', () => {
    assert.deepEqual(
      digestChallenges({
        realm: 'http-auth@example.org',
        algorithms: ['SHA-256', 'MD5'],
        nonce,
        opaque,
        qop: ['auth', 'auth-int'],
      }),
      [
        `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="${nonce}", opaque="${opaque}"`,
        `Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=MD5, nonce="${nonce}", opaque="${opaque}"`,
      ],
    )
  })

  test('adds charset, userhash and stale when asked, as in RFC 7616 §3.9.2', () => {
    assert.deepEqual(
      digestChallenges({
        realm: 'api@example.org',
        algorithms: ['SHA-512-256'],
        nonce,
        opaque,
        qop: ['auth'],
        charset: true,
        userhash: true,
        stale: true,
      }),
      [
        `Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, nonce="${nonce}", opaque="${opaque}", charset=UTF-8, userhash=true, stale=true`,
      ],
    )
  })

  test('leaves out false flags and an empty qop list', () => {
    assert.deepEqual(
      digestChallenges({
        realm: 'r',
        algorithms: ['MD5-sess'],
        nonce,
        opaque,
        qop: [],
        charset: false,
        userhash: false,
        stale: false,
      }),
      [`Digest realm="r", algorithm=MD5-sess, nonce="${nonce}", opaque="${opaque}"`],
    )
  })

  test('escapes the realm and writes non-ASCII as UTF-8 octets', () => {
    const [c] = digestChallenges({ realm: 'Büro "3"', algorithms: ['SHA-256'], nonce, opaque, qop: ['auth'] })
    assert.equal(
      c,
      `Digest realm="B\u00c3\u00bcro \\"3\\"", qop="auth", algorithm=SHA-256, nonce="${nonce}", opaque="${opaque}"`,
    )
  })

  test('is read back by the shared auth-param parser', () => {
    const m = new NonceManager({ secret: 'an example secret of 32 bytes!!!' })
    const [c] = digestChallenges({
      realm: 'a, b="c"',
      algorithms: ['SHA-256'],
      nonce: m.issue('x'),
      opaque: m.opaque('x'),
      qop: ['auth', 'auth-int'],
      stale: true,
    })
    const split = splitAuthorization(c ?? '')
    assert.equal(split?.scheme, 'digest')
    const p = parseAuthParams(split?.rest ?? '')
    assert.equal(p?.get('realm'), 'a, b="c"')
    assert.equal(p?.get('qop'), 'auth, auth-int')
    assert.equal(p?.get('stale'), 'true')
  })

  test('throws TypeError on misuse', () => {
    const ok = { realm: 'r', algorithms: ['SHA-256' as const], nonce, opaque, qop: ['auth' as const] }
    assert.throws(() => digestChallenges({ ...ok, algorithms: [] }), TypeError)
    assert.throws(() => digestChallenges({ ...ok, algorithms: ['SHA-1' as never] }), TypeError)
    assert.throws(() => digestChallenges({ ...ok, qop: ['auth-conf' as never] }), TypeError)
    assert.throws(() => digestChallenges({ ...ok, qop: ['auth', 'auth'] }), TypeError)
    assert.throws(() => digestChallenges({ ...ok, realm: 'a\r\nb' }), TypeError)
    assert.throws(() => digestChallenges({ ...ok, nonce: 'a"b' }), TypeError)
    assert.throws(() => digestChallenges({ ...ok, opaque: '' }), TypeError)
  })
})
