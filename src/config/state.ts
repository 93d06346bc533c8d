/**
 * The `state:` section: where the state several gatehouse instances share lives (throttle
 * counts, Digest nonce counts, cache invalidations). Absent: each instance keeps its own, in
 * process. The schema (schema.ts) has already checked the keys and types.
 */
import type { StateConfig } from './types.js'
import type { RawState } from './raw-types.js'
import { DEFAULTS, defaultMs } from './defaults.js'

export const DEFAULT_STATE_TIMEOUT_MS = defaultMs('state.timeout')
export const DEFAULT_STATE_PREFIX = DEFAULTS['state.prefix']

/** `timeoutMs`: state.timeout already in milliseconds (parse.ts owns duration parsing). */
export function parseState(raw: RawState, timeoutMs: number, problems: string[]): StateConfig {
  const redis = raw.redis
  let url: URL | undefined
  try {
    url = new URL(redis)
  } catch {
    problems.push(`state.redis: expected redis://host:port/db or unix:///path/redis.sock, got ${JSON.stringify(redis)}`)
  }
  if (url !== undefined) {
    if (url.protocol === 'unix:') {
      if (url.host !== '' || !url.pathname.startsWith('/') || url.pathname === '/')
        problems.push(
          `state.redis: a unix socket is written unix:///absolute/path/redis.sock, got ${JSON.stringify(redis)}`,
        )
    } else if (url.protocol === 'redis:' || url.protocol === 'rediss:') {
      if (url.hostname === '') problems.push(`state.redis: no host in ${JSON.stringify(redis)}`)
      if (url.pathname.length > 1 && !/^\/[0-9]{1,2}$/.test(url.pathname))
        problems.push(
          `state.redis: the path names the database, a number (redis://host:6379/0), got ${JSON.stringify(url.pathname)}`,
        )
    } else {
      problems.push(
        `state.redis: expected a redis://, rediss:// or unix:// address, got ${JSON.stringify(url.protocol)}`,
      )
    }
  }
  if (!(timeoutMs > 0)) problems.push('state.timeout: expected more than 0 (a command must not wait forever)')
  return { redis, prefix: raw.prefix ?? DEFAULT_STATE_PREFIX, timeoutMs }
}
