/**
 * A provider's own exception never reaches a log or a response as it was thrown: its message
 * may echo the arguments (the password), so the chain keeps only its class name under
 * GH_ERR_PROVIDER_FAILED, whatever `code` it carries. Only gatehouse's own coded errors
 * (GH_ERR_*, such as a timeout) pass through unchanged.
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CredentialCache } from '../../src/auth/credential-cache.js'
import { NonceManager } from '../../src/auth/nonce.js'
import { makePolicy } from '../../src/auth/policy.js'
import { verify, type Identity, type VerifierDeps } from '../../src/auth/verifier.js'
import type { AuthConfig } from '../../src/config/types.js'
import { errors } from '../../src/errors.js'
import type { AuthContext, Provider } from '../../src/providers/contract.js'

const PASSWORD = 'hunter2-secret'
const basic = `Basic ${Buffer.from(`alice:${PASSWORD}`).toString('base64')}`
const config: AuthConfig = {
  scheme: ['basic'],
  realm: 'R',
  provider: ['users'],
  require: {},
  algorithms: ['SHA-256'],
  qop: ['auth'],
  userhash: false,
  proxy: false,
  passAuthorization: false,
  cache: { enabled: false, ttlMs: 60_000 },
  throttle: true,
}
const deps: VerifierDeps = {
  nonces: new NonceManager({ secret: 'x'.repeat(32) }),
  identities: new CredentialCache<Identity>({ maxEntries: 10, ttlMs: 60_000 }),
  realmHashes: new CredentialCache<string>({ maxEntries: 10, ttlMs: 60_000 }),
}
const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'h',
  remoteAddress: '192.0.2.1',
  route: '/',
  realm: 'R',
  headers: {},
}

async function errorOf(thrown: unknown): Promise<{ code: string; text: string }> {
  const provider: Provider = {
    async checkPassword() {
      throw thrown
    },
  }
  const outcome = await verify(
    makePolicy(config, [{ name: 'users', provider }]),
    { method: 'GET', url: '/', credentials: basic, ctx },
    deps,
  )
  assert.equal(outcome.kind, 'error')
  const err = (outcome as { error: Error & { code: string } }).error
  return { code: err.code, text: `${err.message} ${JSON.stringify(err)} ${String(err.stack)}` }
}

describe('provider exceptions in the chain', () => {
  test('an exception with a code of its own (SQLITE_ERROR) becomes GH_ERR_PROVIDER_FAILED without its message', async () => {
    const e = await errorOf(Object.assign(new Error(`no row for password ${PASSWORD}`), { code: 'SQLITE_ERROR' }))
    assert.equal(e.code, 'GH_ERR_PROVIDER_FAILED')
    assert.ok(!e.text.includes(PASSWORD))
  })

  test('a thrown non-Error value (a string holding the password) is wrapped the same way', async () => {
    const e = await errorOf(`failed for ${PASSWORD}`)
    assert.equal(e.code, 'GH_ERR_PROVIDER_FAILED')
    assert.ok(!e.text.includes(PASSWORD))
  })

  test('an object with a non-string code is wrapped too', async () => {
    const e = await errorOf({ code: 42, message: PASSWORD })
    assert.equal(e.code, 'GH_ERR_PROVIDER_FAILED')
    assert.ok(!e.text.includes(PASSWORD))
  })

  test("gatehouse's own coded error passes through unchanged", async () => {
    const e = await errorOf(errors.GH_ERR_PROVIDER_TIMEOUT('users', 100))
    assert.equal(e.code, 'GH_ERR_PROVIDER_TIMEOUT')
  })
})
