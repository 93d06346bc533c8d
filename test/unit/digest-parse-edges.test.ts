/**
 * parseDigestDetailed at the edges its checks guard one by one: a hashed user name must be
 * both hex and of the algorithm's length; with qop, nc and a non-empty cnonce are required; each
 * required parameter is required on its own.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { parseDigestDetailed } from '../../src/auth/digest.js'

const good =
  'username="u", realm="r", nonce="n", uri="/", response="0123456789abcdef0123456789abcdef", qop=auth, nc=00000001, cnonce="c"'
const reason = (rest: string): string | undefined => {
  const r = parseDigestDetailed(rest)
  return r.ok ? undefined : r.reason
}

describe('parseDigestDetailed edges', () => {
  test('userhash=true: 32 hex digits pass for MD5; 32 non-hex characters or 2 hex digits are malformed', () => {
    assert.equal(reason(good.replace('username="u"', `username="${'ab'.repeat(16)}"`) + ', userhash=true'), undefined)
    assert.equal(reason(good.replace('username="u"', `username="${'zz'.repeat(16)}"`) + ', userhash=true'), 'malformed')
    assert.equal(reason(good.replace('username="u"', 'username="ab"') + ', userhash=true'), 'malformed')
  })

  test('with qop, an empty cnonce is malformed', () => {
    assert.equal(reason(good.replace('cnonce="c"', 'cnonce=""')), 'malformed')
  })

  test('each of realm, nonce, uri and response missing alone is malformed, never a throw', () => {
    for (const name of ['realm', 'nonce', 'uri', 'response']) {
      const without = good
        .split(', ')
        .filter((part) => !part.startsWith(`${name}=`))
        .join(', ')
      assert.equal(reason(without), 'malformed', name)
    }
  })
})
