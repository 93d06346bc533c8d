/**
 * `gatehouse check-config`'s look at `state.redis`: connects as `start` would and sends PING,
 * within state.timeout (at least a second: a check may wait a little longer than a request).
 */
import { Redis } from 'ioredis'
import type { Config } from '../config/types.js'
import type { ConfigProblem } from '../config/check-files.js'
import { redisOptions, safeAddress } from './redis-connection.js'

export async function checkStateStore(config: Config): Promise<ConfigProblem[]> {
  const state = config.state
  if (state === undefined) return []
  const waitMs = Math.max(1000, state.timeoutMs)
  const client = new Redis({ ...redisOptions(state.redis, waitMs), lazyConnect: true, retryStrategy: () => null })
  client.on('error', () => {})
  try {
    await client.connect()
    const pong = await client.ping()
    if (pong !== 'PONG') return [problem(state.redis, `answered PING with ${JSON.stringify(pong)}`)]
    return []
  } catch (err) {
    return [problem(state.redis, (err as Error).message)]
  } finally {
    client.disconnect()
  }
}

function problem(address: string, what: string): ConfigProblem {
  return {
    key: 'state.redis',
    problem: `cannot reach ${safeAddress(address)}: ${what}`,
    fix: 'start that Redis or correct state.redis (redis://host:port/db or unix:///path/redis.sock; a unix socket must be writable by the user running gatehouse)',
  }
}
