/** The configuration keys of group providers: defaults, and errors that name the key path. */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/parse.js'
import { GroupProvider } from '../../src/providers/group-provider.js'
import type { GroupHandle } from '../../src/daemon/group.js'

const base = { routes: [] }

describe('groups.NAME.provider* keys', () => {
  test('defaults: no options, 10 s per call, 64 calls in flight, 1 s wait for a slot', () => {
    const c = parseConfig(
      { ...base, groups: { accounts: { app: 'app.js', provider: 'provider.js' } } },
      { baseDir: '/srv' },
    )
    const g = c.groups.accounts!
    assert.equal(g.provider, '/srv/provider.js')
    assert.deepEqual(g.providerOptions, {})
    assert.equal(g.providerTimeoutMs, 10_000)
    assert.equal(g.providerConcurrency, 64)
    assert.equal(g.providerQueueTimeoutMs, 1_000)
  })

  test('values are read with their units', () => {
    const c = parseConfig(
      {
        ...base,
        groups: {
          accounts: {
            app: 'app.js',
            provider: 'p.js',
            providerOptions: { db: './a.sqlite' },
            providerTimeout: '250ms',
            providerConcurrency: 3,
            providerQueueTimeout: 2,
          },
        },
      },
      { baseDir: '/srv' },
    )
    const g = c.groups.accounts!
    assert.deepEqual(g.providerOptions, { db: './a.sqlite' })
    assert.equal(g.providerTimeoutMs, 250)
    assert.equal(g.providerConcurrency, 3)
    assert.equal(g.providerQueueTimeoutMs, 2_000)
  })

  test('a zero providerTimeout is refused by name (a call must not wait forever)', () => {
    assert.throws(
      () =>
        parseConfig(
          { ...base, groups: { a: { app: 'app.js', provider: 'p.js', providerTimeout: 0 } } },
          { baseDir: '/srv' },
        ),
      {
        code: 'GH_ERR_CONFIG_INVALID',
        message: 'invalid configuration: groups.a.providerTimeout: expected more than 0 (a call must not wait forever)',
      },
    )
  })

  test('provider options without a provider module are refused by name', () => {
    assert.throws(
      () => parseConfig({ ...base, groups: { a: { app: 'app.js', providerConcurrency: 2 } } }, { baseDir: '/srv' }),
      {
        code: 'GH_ERR_CONFIG_INVALID',
        message: /^invalid configuration: groups\.a\.provider: required when the group has provider options/,
      },
    )
  })

  test('providerConcurrency below 1 is refused by the schema, naming the key', () => {
    assert.throws(
      () =>
        parseConfig(
          { ...base, groups: { a: { app: 'app.js', provider: 'p.js', providerConcurrency: 0 } } },
          { baseDir: '/srv' },
        ),
      { code: 'GH_ERR_CONFIG_INVALID', message: /groups\.a\.providerConcurrency/ },
    )
  })

  test('GroupProvider rejects bad limits at construction, naming the option', () => {
    const handle = {} as GroupHandle
    assert.throws(() => new GroupProvider('a', handle, { callTimeoutMs: 0, concurrency: 1, queueTimeoutMs: 0 }), {
      code: 'GH_ERR_OPT_INVALID',
      message: 'groups.a.providerTimeout must be more than 0 ms, got 0',
    })
    assert.throws(() => new GroupProvider('a', handle, { callTimeoutMs: 1, concurrency: 1.5, queueTimeoutMs: 0 }), {
      code: 'GH_ERR_OPT_INVALID',
      message: 'groups.a.providerConcurrency must be a positive integer, got 1.5',
    })
    assert.throws(() => new GroupProvider('a', handle, { callTimeoutMs: 1, concurrency: 1, queueTimeoutMs: -1 }), {
      code: 'GH_ERR_OPT_INVALID',
      message: 'groups.a.providerQueueTimeout must be 0 or more ms, got -1',
    })
  })
})
