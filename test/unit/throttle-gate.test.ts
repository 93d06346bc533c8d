/**
 * The throttle around the verifier (verifyThrottled): what it counts and what it makes the
 * client wait. A provider's "no such user" counts as a failure exactly like a wrong password (a
 * guesser cycling through names is still guessing), and the growing delay of LoginThrottle is
 * really waited for (through the gate's injectable sleep, so no timing is measured).
 */
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { CredentialCache } from '../../src/auth/credential-cache.js'
import { NonceManager } from '../../src/auth/nonce.js'
import { makePolicy } from '../../src/auth/policy.js'
import { LoginThrottle, type LoginThrottleOptions } from '../../src/auth/throttle.js'
import { verifyThrottled, type ThrottleGate } from '../../src/auth/throttle-gate.js'
import type { Identity, VerifierDeps } from '../../src/auth/verifier.js'
import type { AuthConfig } from '../../src/config/types.js'
import type { AuthContext, Provider } from '../../src/providers/contract.js'

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

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

/** Knows alice/right only; counts the password checks it was asked for. */
function aliceOnly(): { provider: Provider; asked: () => number } {
  let asked = 0
  return {
    provider: {
      async checkPassword(_ctx: AuthContext, user: string, password: string) {
        asked++
        return user === 'alice' ? password === 'right' : null
      },
    },
    asked: () => asked,
  }
}

function setup(opts: Partial<LoginThrottleOptions>): {
  run: (credentials: string | undefined) => Promise<string>
  slept: number[]
  asked: () => number
} {
  const { provider, asked } = aliceOnly()
  const policy = makePolicy(config, [{ name: 'users', provider }])
  const throttle = new LoginThrottle({ maxLockoutMs: 60_000, delayMs: 0, maxDelayMs: 0, maxEntries: 100, ...opts })
  const slept: number[] = []
  const gate: ThrottleGate = {
    throttle,
    trustedProxies: new Set<string>(),
    sleep: async (ms) => {
      slept.push(ms)
    },
  }
  const deps: VerifierDeps & { throttle: ThrottleGate } = {
    nonces: new NonceManager({ secret: 'x'.repeat(32) }),
    identities: new CredentialCache<Identity>({ maxEntries: 100, ttlMs: 60_000 }),
    realmHashes: new CredentialCache<string>({ maxEntries: 100, ttlMs: 60_000 }),
    throttle: gate,
  }
  const ctx: AuthContext = {
    method: 'GET',
    path: '/',
    host: 'h',
    remoteAddress: '192.0.2.9',
    route: '/',
    realm: 'R',
    headers: {},
  }
  const run = async (credentials: string | undefined): Promise<string> => {
    const outcome = await verifyThrottled(
      policy,
      { method: 'GET', url: '/', credentials, ctx, remoteAddress: '192.0.2.9' },
      deps,
    )
    return outcome.kind === 'challenge' ? `challenge:${outcome.reason}` : outcome.kind
  }
  return { run, slept, asked }
}

describe('verifyThrottled', () => {
  test('unknown users count as failures: after maxFailures of them the address is locked, even for the right password, and the provider is not asked', async () => {
    const { run, asked } = setup({ perAddress: { maxFailures: 3, windowMs: 60_000, lockoutMs: 30_000 } })
    for (const name of ['ghost1', 'ghost2', 'ghost3'])
      assert.equal(await run(basic(name, 'pw')), 'challenge:unknown-user')
    assert.equal(asked(), 3)
    assert.equal(await run(basic('alice', 'right')), 'throttled')
    assert.equal(asked(), 3)
  })

  test('unknown users count against the claimed name too (per-user rule)', async () => {
    const { run } = setup({ perUser: { maxFailures: 2, windowMs: 60_000, lockoutMs: 30_000 } })
    assert.equal(await run(basic('ghost', 'a')), 'challenge:unknown-user')
    assert.equal(await run(basic('ghost', 'b')), 'challenge:unknown-user')
    assert.equal(await run(basic('ghost', 'c')), 'throttled')
  })

  test('failed answers wait the growing delay from the 4th failure on, unknown users and wrong passwords alike', async () => {
    const { run, slept } = setup({
      perAddress: { maxFailures: 100, windowMs: 60_000, lockoutMs: 30_000 },
      delayMs: 100,
      maxDelayMs: 400,
    })
    const attempts = [
      basic('alice', 'a'),
      basic('ghost', 'b'),
      basic('alice', 'c'),
      basic('ghost', 'd'),
      basic('alice', 'e'),
      basic('ghost', 'f'),
      basic('alice', 'g'),
    ]
    for (const a of attempts) assert.match(await run(a), /^challenge:(bad-password|unknown-user)$/)
    assert.deepEqual(slept, [100, 200, 400, 400])
  })

  test('a success, a missing, a malformed or a refused-scheme credential waits nothing and counts nothing', async () => {
    const { run, slept } = setup({
      perAddress: { maxFailures: 1, windowMs: 60_000, lockoutMs: 30_000 },
      delayMs: 100,
      maxDelayMs: 400,
    })
    assert.equal(await run(basic('alice', 'right')), 'ok')
    assert.equal(await run(undefined), 'challenge:missing')
    assert.equal(await run('Basic !!!'), 'bad-request')
    // A Digest answer on a Basic-only route is a challenge too, but it guessed no password.
    assert.equal(
      await run('Digest username="alice", realm="R", nonce="n", uri="/", response="0123456789abcdef0123456789abcdef"'),
      'challenge:scheme',
    )
    assert.equal(await run(basic('alice', 'right')), 'ok', 'nothing above counted (maxFailures is 1)')
    assert.deepEqual(slept, [])
  })
})
