/** routes[].auth.limitExcept (Apache's <LimitExcept>): its configuration, and the rule as isAuthorized applies it. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/parse.js'
import { isAuthorized } from '../../src/auth/policy.js'
import type { AuthConfig } from '../../src/config/types.js'

const providers = { office: { type: 'htpasswd', file: './users' } }

function authOf(extra: Record<string, unknown>): AuthConfig {
  return parseConfig(
    {
      providers,
      routes: [{ path: '/hg', upstream: 'http://127.0.0.1:9', auth: { realm: 'R', provider: 'office', ...extra } }],
    },
    { baseDir: '/etc/gh' },
  ).routes[0]!.auth!
}

function errorOf(extra: Record<string, unknown>): string {
  try {
    authOf(extra)
  } catch (err) {
    assert.equal((err as { code: string }).code, 'GH_ERR_CONFIG_INVALID')
    return (err as Error).message
  }
  throw new Error('expected GH_ERR_CONFIG_INVALID')
}

test('limitExcept: GET brings HEAD with it, as in Apache; other lists are kept as given; absent by default', () => {
  assert.deepEqual(authOf({ limitExcept: { methods: ['GET'], require: { groups: ['committers'] } } }).limitExcept, {
    methods: ['GET', 'HEAD'],
    require: { groups: ['committers'] },
  })
  assert.deepEqual(
    authOf({ limitExcept: { methods: ['GET', 'OPTIONS', 'PROPFIND'], require: 'valid-user' } }).limitExcept,
    { methods: ['GET', 'OPTIONS', 'PROPFIND', 'HEAD'], require: {} },
  )
  assert.deepEqual(authOf({ limitExcept: { methods: ['POST'], require: { users: ['ann'] } } }).limitExcept, {
    methods: ['POST'],
    require: { users: ['ann'] },
  })
  assert.equal(authOf({}).limitExcept, undefined)
})

test('each misuse of limitExcept is refused with its key path named', () => {
  assert.match(
    errorOf({ limitExcept: { methods: ['get'], require: { groups: ['c'] } } }),
    /routes\[0\]\.auth\.limitExcept\.methods\[0\]: expected text matching/,
  )
  assert.match(
    errorOf({ limitExcept: { methods: [], require: { groups: ['c'] } } }),
    /routes\[0\]\.auth\.limitExcept\.methods: expected/,
  )
  assert.match(
    errorOf({ limitExcept: { methods: ['GET', 'GET'], require: { groups: ['c'] } } }),
    /routes\[0\]\.auth\.limitExcept\.methods: expected .*duplicate/,
  )
  assert.match(
    errorOf({ limitExcept: { methods: ['GET'] } }),
    /routes\[0\]\.auth\.limitExcept\.require: required key is missing/,
  )
  assert.match(
    errorOf({ limitExcept: { require: { groups: ['c'] } } }),
    /routes\[0\]\.auth\.limitExcept\.methods: required key is missing/,
  )
  assert.match(
    errorOf({ limitExcept: { methods: ['GET'], require: { group: ['c'] } } }),
    /routes\[0\]\.auth\.limitExcept\.require\.group: unknown key/,
  )
  assert.match(
    errorOf({ limitExcept: { methods: ['GET'], require: { groups: ['c'] }, except: true } }),
    /routes\[0\]\.auth\.limitExcept\.except: unknown key/,
  )
})

test('a method limitExcept lists needs only require; any other, or an unknown one, needs both rules', () => {
  const cfg = authOf({
    require: { groups: ['staff'] },
    limitExcept: { methods: ['GET'], require: { groups: ['committers'] } },
  })
  const both = ['staff', 'committers']
  assert.equal(isAuthorized(cfg, 'ann', ['staff'], 'GET'), true)
  assert.equal(isAuthorized(cfg, 'ann', ['staff'], 'HEAD'), true)
  assert.equal(isAuthorized(cfg, 'ann', ['staff'], 'POST'), false)
  assert.equal(isAuthorized(cfg, 'ann', ['staff'], 'PUT'), false)
  assert.equal(isAuthorized(cfg, 'ann', ['staff'], 'get'), false, 'methods are case-sensitive (RFC 9110 §9.1)')
  assert.equal(
    isAuthorized(cfg, 'ann', ['staff'], undefined),
    false,
    'a method the caller could not learn gets the stricter rule',
  )
  assert.equal(isAuthorized(cfg, 'ann', both, 'POST'), true)
  assert.equal(isAuthorized(cfg, 'ann', both, undefined), true)
  assert.equal(
    isAuthorized(cfg, 'cleo', ['committers'], 'POST'),
    false,
    "the route's own require still applies to writes",
  )
  assert.equal(isAuthorized(cfg, 'cleo', ['committers'], 'GET'), false)
  const plain = authOf({ require: { groups: ['staff'] } })
  assert.equal(isAuthorized(plain, 'ann', ['staff'], 'POST'), true)
  assert.equal(isAuthorized(plain, 'ann', ['staff']), true)
})
