/** The `state:` section: defaults, the address forms it takes, and errors naming the key. */
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseConfig } from '../../src/config/parse.js'
import { redisOptions, safeAddress } from '../../src/state/redis-connection.js'

const routes = [{ path: '/', upstream: 'http://127.0.0.1:9000' }]

function errorOf(state: unknown): string {
  try {
    parseConfig({ routes, state }, { baseDir: '/etc/gh' })
  } catch (err) {
    assert.equal((err as { code: string }).code, 'GH_ERR_CONFIG_INVALID')
    return (err as Error).message
  }
  throw new Error('expected a configuration error')
}

test('without state: no shared store (everything in process)', () => {
  assert.equal(parseConfig({ routes }, { baseDir: '/etc/gh' }).state, undefined)
})

test('state.redis alone: prefix "gatehouse:" and a 250 ms timeout; timeout takes a duration', () => {
  assert.deepEqual(parseConfig({ routes, state: { redis: 'redis://10.0.0.5:6380/2' } }, { baseDir: '/' }).state, {
    redis: 'redis://10.0.0.5:6380/2',
    prefix: 'gatehouse:',
    timeoutMs: 250,
  })
  assert.deepEqual(
    parseConfig(
      { routes, state: { redis: 'unix:///run/redis/redis.sock', prefix: 'gatehouse:shop:', timeout: '1s' } },
      { baseDir: '/' },
    ).state,
    { redis: 'unix:///run/redis/redis.sock', prefix: 'gatehouse:shop:', timeoutMs: 1000 },
  )
})

test('a bad state.redis, a missing one, a zero timeout and an unknown key are refused naming the key', () => {
  assert.match(
    errorOf({ redis: 'http://10.0.0.5:6379' }),
    /state\.redis: expected a redis:\/\/, rediss:\/\/ or unix:\/\/ address, got "http:"/,
  )
  assert.match(
    errorOf({ redis: 'not a url' }),
    /state\.redis: expected redis:\/\/host:port\/db or unix:\/\/\/path\/redis\.sock/,
  )
  assert.match(
    errorOf({ redis: 'unix://run/redis.sock' }),
    /state\.redis: a unix socket is written unix:\/\/\/absolute\/path/,
  )
  assert.match(errorOf({ redis: 'redis://10.0.0.5:6379/cache' }), /state\.redis: the path names the database, a number/)
  assert.match(errorOf({ prefix: 'x:' }), /state\.redis: required key is missing/)
  assert.match(errorOf({ redis: 'redis://h', timeout: 0 }), /state\.timeout: expected more than 0/)
  assert.match(errorOf({ redis: 'redis://h', ttl: 5 }), /state\.ttl: unknown key/)
})

test('the address becomes ioredis options that never queue nor wait past the timeout; a password never reaches a log', () => {
  const tcp = redisOptions('redis://app:s3cret@10.0.0.5:6380/3', 200)
  assert.deepEqual(
    { host: tcp.host, port: tcp.port, db: tcp.db, username: tcp.username, password: tcp.password },
    { host: '10.0.0.5', port: 6380, db: 3, username: 'app', password: 's3cret' },
  )
  assert.equal(tcp.enableOfflineQueue, false)
  assert.equal(tcp.commandTimeout, 200)
  assert.equal(tcp.maxRetriesPerRequest, 0)
  assert.equal(redisOptions('unix:///run/redis/redis.sock', 200).path, '/run/redis/redis.sock')
  assert.equal(safeAddress('redis://app:s3cret@10.0.0.5:6380/3'), 'redis://app:***@10.0.0.5:6380/3')
})
