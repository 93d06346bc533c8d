/**
 * A coverage run of the front (c8 sets NODE_V8_COVERAGE) reaches the daemon workers through
 * the environment allowlist, so the workers' code is counted; a group that drops privileges
 * does not get it (it could not write into the front's directory and would say so on stderr).
 */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { buildEnv } from '../../src/daemon/spawn-spec.js'
import type { GroupConfig } from '../../src/config/types.js'

function group(extra: Partial<GroupConfig>): GroupConfig {
  return { name: 'g', cwd: '/srv/g', env: {}, execArgv: [], ...extra } as GroupConfig
}

const front = { NODE_V8_COVERAGE: '/tmp/cov', PATH: '/usr/bin', SECRET_TOKEN: 'x', NODE_OPTIONS: '--inspect' }

test('NODE_V8_COVERAGE passes from the front to a group running as the front user', () => {
  const env = buildEnv(group({}), front)
  assert.equal(env.NODE_V8_COVERAGE, '/tmp/cov')
  assert.equal(env.SECRET_TOKEN, undefined)
  assert.equal(env.NODE_OPTIONS, undefined)
})

test('NODE_V8_COVERAGE does not pass to a group that drops to another user or group', () => {
  assert.equal(buildEnv(group({ user: 'www-data' }), front).NODE_V8_COVERAGE, undefined)
  assert.equal(buildEnv(group({ group: 'www-data' }), front).NODE_V8_COVERAGE, undefined)
})

test("a group's own NODE_V8_COVERAGE is kept even when it drops privileges", () => {
  assert.equal(
    buildEnv(group({ user: 'www-data', env: { NODE_V8_COVERAGE: '/srv/g/cov' } }), front).NODE_V8_COVERAGE,
    '/srv/g/cov',
  )
})
