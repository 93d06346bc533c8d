/**
 * GroupHandle.call: a provider module hosted in the group's processes answers over the same
 * socket; failures come back coded, with no credential in the error.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { GatehouseError } from '../../src/errors.js'
import { groupConfig, PROVIDER, startSupervisor } from '../fixtures/apps/harness.js'

const ctx = { method: 'GET', path: '/', host: 'h', remoteAddress: '127.0.0.1', route: '/', realm: 'r', headers: {} }

describe('provider calls into a daemon group', { skip: process.platform === 'win32' }, () => {
  test('checkPassword answers true, false and null as the provider decides', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('accounts', { provider: PROVIDER })])
    const h = sup.group('accounts')
    assert.equal(await h.call('checkPassword', [ctx, 'alice', 'wonderland'], 5_000), true)
    assert.equal(await h.call('checkPassword', [ctx, 'alice', 'wrong'], 5_000), false)
    assert.equal(await h.call('checkPassword', [ctx, 'bob', 'x'], 5_000), null)
    const groups = (await h.call('groupsForUser', [ctx, 'alice'], 5_000)) as string[]
    assert.equal(groups[0], 'staff')
  })

  test('a provider that throws yields GH_ERR_PROVIDER_FAILED without the password', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('throwing', { provider: PROVIDER })])
    await assert.rejects(sup.group('throwing').call('checkPassword', [ctx, 'boom', 'hunter2-secret'], 5_000), (err) => {
      assert.ok(err instanceof GatehouseError)
      assert.equal(err.code, 'GH_ERR_PROVIDER_FAILED')
      assert.equal(err.message.includes('hunter2-secret'), false)
      return true
    })
  })

  test('a provider that never answers times out with GH_ERR_GROUP_TIMEOUT', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('hanging', { provider: PROVIDER })])
    await assert.rejects(sup.group('hanging').call('checkPassword', [ctx, 'hang', 'x'], 200), (err) => {
      assert.ok(err instanceof GatehouseError)
      assert.equal(err.code, 'GH_ERR_GROUP_TIMEOUT')
      assert.equal(err.statusCode, 504)
      return true
    })
  })

  test('a group without a provider and an unknown method are coded failures', async (t) => {
    const sup = await startSupervisor(t, [groupConfig('plain'), groupConfig('withp', { provider: PROVIDER })])
    await assert.rejects(sup.group('plain').call('checkPassword', [ctx, 'alice', 'x'], 5_000), {
      code: 'GH_ERR_PROVIDER_FAILED',
    })
    await assert.rejects(
      sup.group('withp').call('getRealmHash', [ctx, 'alice', 'r', 'MD5'], 5_000),
      /has no getRealmHash/,
    )
    await assert.rejects(sup.group('withp').call('__proto__', [], 5_000), /unknown provider method/)
  })
})
