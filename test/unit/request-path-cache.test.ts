/**
 * The cheap request path: a Basic success is cached under a keyed hash of the whole
 * header, so a hit needs no parsing, while the throttle, `require` and the scheme list still
 * apply; the per-request logger is made on first use; access lines keep their shape.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { CredentialCache } from '../../src/auth/credential-cache.js'
import { clientResponse, digestHash } from '../helpers/digest-client.js'
import { NonceManager } from '../../src/auth/nonce.js'
import { makePolicy } from '../../src/auth/policy.js'
import { LoginThrottle } from '../../src/auth/throttle.js'
import { verifyThrottled } from '../../src/auth/throttle-gate.js'
import { verify, type Identity, type VerifierDeps } from '../../src/auth/verifier.js'
import type { AuthConfig } from '../../src/config/types.js'
import type { AuthContext, Provider } from '../../src/providers/contract.js'
import { accessLogger, createLogger, lazyChildLogger } from '../../src/log.js'

const basic = (user: string, password: string): string =>
  `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

function authConfig(over: Partial<AuthConfig> = {}): AuthConfig {
  return {
    scheme: ['basic'],
    realm: 'R',
    provider: ['users'],
    require: {},
    algorithms: ['SHA-256'],
    qop: ['auth'],
    userhash: false,
    proxy: false,
    passAuthorization: false,
    cache: { enabled: true, ttlMs: 60_000 },
    throttle: true,
    ...over,
  }
}

/** A provider that knows alice/right and counts its password checks. */
function counting(): { provider: Provider; calls: () => number } {
  let calls = 0
  const provider: Provider = {
    async checkPassword(_ctx: AuthContext, user: string, password: string) {
      calls++
      if (user !== 'alice') return null
      return password === 'right'
    },
    async groupsForUser() {
      return ['staff']
    },
  }
  return { provider, calls: () => calls }
}

function deps(throttle?: LoginThrottle): VerifierDeps {
  return {
    nonces: new NonceManager({ secret: 'x'.repeat(32), ttlMs: 60_000 }),
    identities: new CredentialCache<Identity>({ maxEntries: 100, ttlMs: 60_000 }),
    realmHashes: new CredentialCache<string>({ maxEntries: 100, ttlMs: 60_000 }),
    ...(throttle ? { throttle: { throttle, trustedProxies: new Set<string>() } } : {}),
  }
}

const ctx: AuthContext = {
  method: 'GET',
  path: '/',
  host: 'h',
  remoteAddress: '192.0.2.7',
  route: '/',
  realm: 'R',
  headers: {},
}
const request = (credentials: string | undefined, remoteAddress = '192.0.2.7') => ({
  method: 'GET',
  url: '/',
  credentials,
  ctx: { ...ctx, remoteAddress },
  remoteAddress,
})

describe('Basic credential cache keyed by the header', () => {
  test('a second request with the same header is answered from the cache: one provider call, one hit', async () => {
    const { provider, calls } = counting()
    const policy = makePolicy(authConfig(), [{ name: 'users', provider }])
    const d = deps()
    const first = await verify(policy, request(basic('alice', 'right')), d)
    const second = await verify(policy, request(basic('alice', 'right')), d)
    assert.deepEqual(first, { kind: 'ok', identity: { user: 'alice', groups: ['staff'], provider: 'users' } })
    assert.deepEqual(second, first)
    assert.equal(calls(), 1)
    assert.equal(d.identities.hits, 1)
    assert.equal(d.identities.misses, 1)
  })

  test('the cache key is a keyed hash of the header: neither the header, its base64 nor the password appear in it', () => {
    const c = new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000 })
    const header = basic('alice', 'right')
    const k = c.key('R\0users', 'basic-header', header)
    assert.match(k, /^[A-Za-z0-9_-]{43}$/)
    assert.ok(!k.includes('right') && !k.includes(header.slice(6)))
    assert.notEqual(
      k,
      new CredentialCache<string>({ maxEntries: 10, ttlMs: 1000 }).key('R\0users', 'basic-header', header),
      'per-instance salt',
    )
  })

  test('a wrong password is never cached: each attempt asks the provider', async () => {
    const { provider, calls } = counting()
    const policy = makePolicy(authConfig(), [{ name: 'users', provider }])
    const d = deps()
    for (let i = 0; i < 3; i++)
      assert.equal((await verify(policy, request(basic('alice', 'wrong')), d)).kind, 'challenge')
    assert.equal(calls(), 3)
    assert.equal(d.identities.size, 0)
  })

  test('a cached header is not accepted by a route of the same realm and provider that offers only Digest', async () => {
    const { provider } = counting()
    const chain = [{ name: 'users', provider }]
    const d = deps()
    assert.equal((await verify(makePolicy(authConfig(), chain), request(basic('alice', 'right')), d)).kind, 'ok')
    const digestOnly = makePolicy(authConfig({ scheme: ['digest'] }), chain)
    assert.deepEqual(await verify(digestOnly, request(basic('alice', 'right')), d), {
      kind: 'challenge',
      reason: 'scheme',
      stale: false,
    })
  })

  test('require is applied to a cache hit too', async () => {
    const { provider } = counting()
    const chain = [{ name: 'users', provider }]
    const d = deps()
    assert.equal((await verify(makePolicy(authConfig(), chain), request(basic('alice', 'right')), d)).kind, 'ok')
    const admins = makePolicy(authConfig({ require: { groups: ['admin'] } }), chain)
    assert.equal((await verify(admins, request(basic('alice', 'right')), d)).kind, 'forbidden')
  })

  test('a user locked out by the throttle is refused even with cached valid credentials, without a provider call', async () => {
    const { provider, calls } = counting()
    const policy = makePolicy(authConfig(), [{ name: 'users', provider }])
    const throttle = new LoginThrottle({
      perAddress: undefined,
      perUser: { maxFailures: 2, windowMs: 60_000, lockoutMs: 30_000 },
      maxLockoutMs: 60_000,
      delayMs: 0,
      maxDelayMs: 0,
      maxEntries: 100,
    })
    const d = deps(throttle)
    assert.equal(
      (await verifyThrottled(policy, request(basic('alice', 'right')), d)).kind,
      'ok',
      'cached from 192.0.2.7',
    )
    for (let i = 0; i < 2; i++)
      assert.equal(
        (await verifyThrottled(policy, request(basic('alice', `wrong${i}`), '198.51.100.1'), d)).kind,
        'challenge',
      )
    const before = calls()
    assert.deepEqual(await verifyThrottled(policy, request(basic('alice', 'right'), '203.0.113.9'), d), {
      kind: 'throttled',
      scope: 'user',
      retryAfterS: 30,
    })
    assert.equal(calls(), before)
    assert.equal(
      (await verifyThrottled(policy, request(basic('alice', 'right')), d)).kind,
      'ok',
      'the known-good address still gets in',
    )
  })

  test('a cache hit counts as a success for the throttle (the address becomes known-good for the user)', async () => {
    const { provider } = counting()
    const policy = makePolicy(authConfig(), [{ name: 'users', provider }])
    const throttle = new LoginThrottle({
      perAddress: { maxFailures: 100, windowMs: 60_000, lockoutMs: 1000 },
      perUser: undefined,
      maxLockoutMs: 60_000,
      delayMs: 0,
      maxDelayMs: 0,
      maxEntries: 100,
    })
    const successes: string[] = []
    const record = throttle.recordSuccess.bind(throttle)
    throttle.recordSuccess = (user, address) => {
      successes.push(`${user}|${address}`)
      return record(user, address)
    }
    const d = deps(throttle)
    await verifyThrottled(policy, request(basic('alice', 'right')), d)
    await verifyThrottled(policy, request(basic('alice', 'right')), d)
    assert.deepEqual(successes, ['users\0alice|192.0.2.7', 'users\0alice|192.0.2.7'])
    assert.equal(d.identities.hits, 1)
  })

  test('malformed Basic credentials are still a 400 outcome, with or without the throttle', async () => {
    const { provider } = counting()
    const policy = makePolicy(authConfig(), [{ name: 'users', provider }])
    assert.deepEqual(await verify(policy, request('Basic !!!'), deps()), {
      kind: 'bad-request',
      reason: 'malformed Basic credentials',
    })
    const throttle = new LoginThrottle({
      perAddress: { maxFailures: 5, windowMs: 60_000, lockoutMs: 1000 },
      perUser: undefined,
      maxLockoutMs: 60_000,
      delayMs: 0,
      maxDelayMs: 0,
      maxEntries: 100,
    })
    assert.deepEqual(await verifyThrottled(policy, request('Basic !!!'), deps(throttle)), {
      kind: 'bad-request',
      reason: 'malformed Basic credentials',
    })
  })
})

describe('Digest realm hashes in the cache', () => {
  /** A provider that knows alice's HA1 (password "right") and counts its lookups. */
  function ha1Provider(): { provider: Provider; lookups: () => number } {
    let lookups = 0
    return {
      provider: {
        async getRealmHash(_ctx: AuthContext, user: string, realm: string) {
          lookups++
          return user === 'alice' ? digestHash('SHA-256', `alice:${realm}:right`) : null
        },
        async groupsForUser() {
          return []
        },
      },
      lookups: () => lookups,
    }
  }

  function digestHeader(d: VerifierDeps, password: string, nc: number): string {
    const nonce = d.nonces.issue('R')
    const p = {
      algorithm: 'SHA-256' as const,
      username: 'alice',
      realm: 'R',
      password,
      method: 'GET',
      uri: '/',
      nonce,
      cnonce: 'c0ffee',
      nc: nc.toString(16).padStart(8, '0'),
      qop: 'auth' as const,
    }
    return `Digest username="alice", realm="R", nonce="${nonce}", uri="/", algorithm=SHA-256, response="${clientResponse(p)}", qop=auth, nc=${p.nc}, cnonce="c0ffee", opaque="${d.nonces.opaque('R')}"`
  }

  test('a wrong response leaves no HA1 in the cache; a right one caches it and the next request is a hit', async () => {
    const { provider, lookups } = ha1Provider()
    const policy = makePolicy(authConfig({ scheme: ['digest'] }), [{ name: 'users', provider }])
    const d = deps()
    for (let i = 1; i <= 2; i++) {
      const outcome = await verify(policy, request(digestHeader(d, 'guess', i)), d)
      assert.equal(outcome.kind, 'challenge')
    }
    assert.equal(d.realmHashes.size, 0, 'guessing at alice cached nothing')
    assert.equal(lookups(), 2)
    assert.equal((await verify(policy, request(digestHeader(d, 'right', 3)), d)).kind, 'ok')
    assert.equal(d.realmHashes.size, 1)
    assert.equal((await verify(policy, request(digestHeader(d, 'right', 4)), d)).kind, 'ok')
    assert.equal(lookups(), 3, 'the last request was answered from the cache')
  })
})

describe('request loggers', () => {
  function sink(): { lines: () => Record<string, unknown>[]; stream: Writable } {
    const out: string[] = []
    return {
      lines: () =>
        out
          .join('')
          .trim()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as Record<string, unknown>),
      stream: new Writable({
        write(c, _e, cb) {
          out.push(String(c))
          cb()
        },
      }),
    }
  }

  test('the lazy per-request logger writes what a pino child would, with its bindings', () => {
    const s = sink()
    const log = createLogger('info', s.stream)
    const child = lazyChildLogger(log, { reqId: 'req-7' }, {})
    child.warn({ code: 'X' }, 'something')
    log.child({ reqId: 'req-7' }).warn({ code: 'X' }, 'something')
    const [a, b] = s.lines()
    assert.equal(a?.reqId, 'req-7')
    assert.deepEqual({ ...a, time: 0 }, { ...b, time: 0 })
  })

  test('the lazy per-request logger still redacts credentials', () => {
    const s = sink()
    const child = lazyChildLogger(createLogger('info', s.stream), { reqId: 'req-1' }, {})
    child.info({ headers: { authorization: 'Basic c2VjcmV0' }, password: 'pw' }, 'x')
    const [line] = s.lines()
    assert.deepEqual(line?.headers, { authorization: '[redacted]' })
    assert.equal(line?.password, '[redacted]')
  })

  test('the lazy per-request logger respects the level and makes no child until it logs', () => {
    const s = sink()
    const log = createLogger('warn', s.stream)
    let made = 0
    const child = log.child.bind(log)
    log.child = ((...args: Parameters<typeof log.child>) => {
      made++
      return child(...args)
    }) as typeof log.child
    const lazy = lazyChildLogger(log, { reqId: 'req-2' }, {})
    assert.equal(lazy.level, 'warn')
    assert.equal(made, 0)
    lazy.info('dropped')
    assert.equal(s.lines().length, 0)
    lazy.error('kept')
    assert.equal(made, 1)
    assert.equal(s.lines()[0]?.msg, 'kept')
  })

  test('access lines keep the shape of the root logger: level, time, pid, then the fields', () => {
    const s = sink()
    accessLogger(createLogger('info', s.stream)).info(
      { reqId: 'req-3', method: 'GET', url: '/a', status: 200, user: 'alice', remote: '127.0.0.1', ms: 0.4 },
      'access',
    )
    const [line] = s.lines()
    assert.deepEqual(Object.keys(line ?? {}), [
      'level',
      'time',
      'pid',
      'reqId',
      'method',
      'url',
      'status',
      'user',
      'remote',
      'ms',
      'msg',
    ])
    assert.equal(line?.pid, process.pid)
  })
})
