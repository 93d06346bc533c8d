import { test, describe } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/parse.js'
import { ThreadProvider } from '../../src/providers/thread-pool.js'
import { isGatehouseError } from '../../src/errors.js'

const withProvider = (provider: Record<string, unknown>) => ({
  providers: { office: { type: 'htpasswd', file: './users.htpasswd', ...provider } },
  routes: [{ path: '/', upstream: 'http://127.0.0.1:9000', auth: { scheme: 'basic', realm: 'R', provider: 'office' } }],
})

function errorOf(raw: unknown): string {
  try {
    parseConfig(raw, { baseDir: '/etc/gh' })
  } catch (err) {
    assert.equal((err as { code: string }).code, 'GH_ERR_CONFIG_INVALID')
    return (err as Error).message
  }
  throw new Error('expected a configuration error')
}

describe('providers.NAME.threadsAtStart', () => {
  test('defaults to 1 thread at start, of the 2 threads at most', () => {
    const p = parseConfig(withProvider({}), { baseDir: '/etc/gh' }).providers.office
    assert.equal(p?.threads, 2)
    assert.equal(p?.threadsAtStart, 1)
  })

  test('takes any count from 1 to threads', () => {
    const p = parseConfig(withProvider({ threads: 4, threadsAtStart: 4 }), { baseDir: '/etc/gh' }).providers.office
    assert.equal(p?.threadsAtStart, 4)
  })

  test('more than threads is an error naming the key and the limit', () => {
    assert.match(
      errorOf(withProvider({ threadsAtStart: 3 })),
      /providers\.office\.threadsAtStart: at most threads \(2\), got 3/,
    )
    assert.match(errorOf(withProvider({ threads: 4, threadsAtStart: 0 })), /providers\.office\.threadsAtStart/)
    assert.match(errorOf(withProvider({ threadsAtStart: 'all' })), /providers\.office\.threadsAtStart/)
  })

  test('the pool refuses a count above threads, naming the option', () => {
    const log = { info() {}, warn() {}, error() {} }
    assert.throws(
      () =>
        new ThreadProvider({
          name: 'x',
          specifier: 'htpasswd',
          options: {},
          baseDir: '/',
          threads: 2,
          threadsAtStart: 3,
          log,
        }),
      (err: unknown) => isGatehouseError(err, 'GH_ERR_OPT_INVALID') && /threadsAtStart/.test(err.message),
    )
  })
})
