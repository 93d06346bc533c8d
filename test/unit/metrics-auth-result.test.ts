import { test } from 'node:test'
import assert from 'node:assert/strict'
import { authResultLabel } from '../../src/metrics/auth-result.js'

test('auth outcomes map to the result labels of gatehouse_auth_total; a lockout (429) counts as throttled', () => {
  assert.equal(authResultLabel('throttled', 'address'), 'throttled')
  assert.equal(authResultLabel('throttled', 'user'), 'throttled')
  assert.equal(authResultLabel('error', 'GH_ERR_PROVIDER_BUSY'), 'throttled')
  assert.equal(authResultLabel('error', 'GH_ERR_PROVIDER_FAILED'), 'error')
  assert.equal(authResultLabel('challenge', 'bad-password'), 'bad_password')
  assert.equal(authResultLabel('challenge', 'unknown-user'), 'unknown_user')
  assert.equal(authResultLabel('challenge', 'missing'), undefined)
  assert.equal(authResultLabel('challenge', 'replay'), 'stale')
  assert.equal(authResultLabel('bad-request', 'malformed Basic credentials'), 'invalid')
  assert.equal(authResultLabel('denied-host'), 'forbidden')
  assert.equal(authResultLabel('ok'), 'ok')
})
