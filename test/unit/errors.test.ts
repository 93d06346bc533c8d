import { test } from 'node:test'
import assert from 'node:assert/strict'
import { errors, GatehouseError, isGatehouseError } from '../../src/errors.js'

test('every error key equals its code and follows GH_ERR_<AREA>_<WHAT>', () => {
  for (const [key, factory] of Object.entries(errors)) {
    assert.equal(factory.code, key)
    assert.match(key, /^GH_ERR_[A-Z]+_[A-Z_]+$/)
    const err = factory('x', 'y', 'z', 'w')
    assert.ok(err instanceof GatehouseError)
    assert.equal(err.code, key)
    assert.equal(err.statusCode, factory.statusCode)
  }
})

test('a trailing { cause } argument becomes the error cause, not message text', () => {
  const root = new Error('root')
  const err = errors.GH_ERR_PROVIDER_FAILED('p', 'threw', { cause: root })
  assert.equal(err.message, 'provider p failed: threw')
  assert.equal(err.cause, root)
  assert.ok(isGatehouseError(err, 'GH_ERR_PROVIDER_FAILED'))
  assert.ok(!isGatehouseError(err, 'GH_ERR_PROVIDER_TIMEOUT'))
})
