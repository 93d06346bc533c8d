/** The tests' own Digest client (test/helpers/digest-client.ts) reproduces the RFCs' published values. */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { clientResponse } from '../helpers/digest-client.js'

describe('the test Digest client', () => {
  const rfc7616 = {
    username: 'Mufasa',
    realm: 'http-auth@example.org',
    password: 'Circle of Life',
    method: 'GET',
    uri: '/dir/index.html',
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    nc: '00000001',
    qop: 'auth',
  } as const

  test('RFC 7616 §3.9.1 MD5 gives 8ca523f5e9506fed4657c9700eebdbec', () => {
    assert.equal(clientResponse({ ...rfc7616, algorithm: 'MD5' }), '8ca523f5e9506fed4657c9700eebdbec')
  })

  test('RFC 7616 §3.9.1 SHA-256 gives 753927fa…6cb6c1', () => {
    assert.equal(
      clientResponse({ ...rfc7616, algorithm: 'SHA-256' }),
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    )
  })

  test('RFC 2617 §3.5 gives 6629fae49393a05397450978507c4ef1', () => {
    assert.equal(
      clientResponse({
        algorithm: 'MD5',
        username: 'Mufasa',
        realm: 'testrealm@host.com',
        password: 'Circle Of Life',
        method: 'GET',
        uri: '/dir/index.html',
        nonce: 'dcd98b7102dd2f0e8b11d0f600bfb0c093',
        nc: '00000001',
        cnonce: '0a4f113b',
        qop: 'auth',
      }),
      '6629fae49393a05397450978507c4ef1',
    )
  })

  test("RFC 7616 §3.9.2 SHA-512-256 gives erratum 4897's 3798d413…ec68a5", () => {
    assert.equal(
      clientResponse({
        algorithm: 'SHA-512-256',
        username: 'J\u00e4s\u00f8n Doe',
        realm: 'api@example.org',
        password: 'Secret, or not?',
        method: 'GET',
        uri: '/doe.json',
        nonce: '5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK',
        nc: '00000001',
        cnonce: 'NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v',
        qop: 'auth',
      }),
      '3798d4131c277846293534c3edc11bd8a5e4cdcbff78b05db9d95eeb1cec68a5',
    )
  })
})
