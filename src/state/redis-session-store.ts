/**
 * Form-login sessions in the Redis of `state.redis`, so that every instance with the same
 * `state.prefix` accepts the sessions any of them started, and a logout or a user's sessions
 * ended on one instance are ended on all.
 *
 * A record is JSON under `<prefix>session:<key>` (key: the hash of the session id, never the id)
 * with a TTL of min(idle timeout, lifetime remaining), restarted on each use, so Redis drops
 * idle and ended sessions by itself. `<prefix>session-user:<user>` is the set of a user's keys
 * for deleteByUser; it lives as long as the longest lifetime it covers.
 *
 * Redis down or slower than state.timeout: every operation throws GH_ERR_STATE_UNAVAILABLE
 * (503). A session cannot be checked, so nobody gets in by it; there is no in-process fallback,
 * which would let a session ended elsewhere live on here.
 */
import { errors } from '../errors.js'
import type { SessionRecord, SessionStore } from '../session/session-store.js'
import type { RedisConnection } from './redis-connection.js'

/** KEYS: record, user set, [record to replace]. ARGV: JSON, record TTL ms, user set TTL ms, member. */
const WRITE = `
if KEYS[3] then redis.call('DEL', KEYS[3]) end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
redis.call('SADD', KEYS[2], ARGV[4])
if redis.call('PTTL', KEYS[2]) < tonumber(ARGV[3]) then redis.call('PEXPIRE', KEYS[2], ARGV[3]) end
return 1
`

/** KEYS: user set. ARGV: record key prefix. Atomic, so a session created meanwhile is either ended or kept whole. */
const DELETE_USER = `
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  n = n + redis.call('DEL', ARGV[1] .. m)
end
redis.call('DEL', KEYS[1])
return n
`

type Script = (numKeys: number, ...args: Array<string | number>) => Promise<unknown>

export interface RedisSessionStoreOptions {
  connection: RedisConnection
  prefix: string
}

export class RedisSessionStore implements SessionStore {
  readonly #connection: RedisConnection
  readonly #prefix: string
  readonly #write: Script
  readonly #deleteUser: Script

  constructor(opts: RedisSessionStoreOptions) {
    this.#connection = opts.connection
    this.#prefix = opts.prefix
    const client = opts.connection.client
    client.defineCommand('ghSessionWrite', { lua: WRITE })
    client.defineCommand('ghSessionDeleteUser', { lua: DELETE_USER })
    const c = client as unknown as { ghSessionWrite: Script; ghSessionDeleteUser: Script }
    this.#write = c.ghSessionWrite.bind(client)
    this.#deleteUser = c.ghSessionDeleteUser.bind(client)
  }

  async create(record: SessionRecord): Promise<void> {
    await this.#store(record, undefined)
  }

  async get(key: string, now: number): Promise<SessionRecord | undefined> {
    const json = await this.#run(() => this.#connection.client.get(this.#recordKey(key)))
    if (json === null) return undefined
    const r = parse(json, key)
    if (r === undefined || now >= r.expiresAt || now - r.lastSeenAt >= r.idleMs) {
      await this.#run(() => this.#connection.client.del(this.#recordKey(key)))
      return undefined
    }
    r.lastSeenAt = now
    // XX: a session ended between the read and this write stays ended, and is refused here too.
    const ok = await this.#run(() =>
      this.#connection.client.set(this.#recordKey(key), JSON.stringify(r), 'PX', ttl(r, now), 'XX'),
    )
    return ok === 'OK' ? r : undefined
  }

  async delete(key: string): Promise<boolean> {
    return (await this.#run(() => this.#connection.client.del(this.#recordKey(key)))) > 0
  }

  async deleteByUser(user: string): Promise<number> {
    const n = await this.#run(() => this.#deleteUser(1, this.#userKey(user), `${this.#prefix}session:`))
    return Number(n)
  }

  async rotate(oldKey: string, record: SessionRecord): Promise<void> {
    await this.#store(record, oldKey)
  }

  /** The connection is the shared state's: it closes it. */
  async close(): Promise<void> {}

  async #store(record: SessionRecord, replaces: string | undefined): Promise<void> {
    const now = Date.now()
    const keys = [this.#recordKey(record.key), this.#userKey(record.user)]
    if (replaces !== undefined) keys.push(this.#recordKey(replaces))
    const userTtl = Math.max(1, record.expiresAt - now)
    await this.#run(() =>
      this.#write(keys.length, ...keys, JSON.stringify(record), ttl(record, now), userTtl, record.key),
    )
  }

  async #run<T>(command: () => Promise<T>): Promise<T> {
    if (!this.#connection.up) throw this.#unavailable('not connected')
    try {
      return await command()
    } catch (err) {
      throw this.#unavailable((err as Error).message, err)
    }
  }

  #unavailable(why: string, cause?: unknown): Error {
    const err =
      cause === undefined
        ? errors.GH_ERR_STATE_UNAVAILABLE(this.#connection.address, why)
        : errors.GH_ERR_STATE_UNAVAILABLE(this.#connection.address, why, { cause })
    // Reconnection is retried at most every 2 s: a client may come back that soon.
    return Object.assign(err, { retryAfter: 2 })
  }

  #recordKey(key: string): string {
    return `${this.#prefix}session:${key}`
  }

  #userKey(user: string): string {
    return `${this.#prefix}session-user:${user}`
  }
}

/** min(idle timeout, lifetime remaining), at least 1 ms (PX 0 is an error). */
function ttl(r: SessionRecord, now: number): number {
  return Math.max(1, Math.min(r.idleMs, r.expiresAt - now))
}

/** A stored record, or undefined when it is not one (it is then dropped, never trusted). */
function parse(json: string, key: string): SessionRecord | undefined {
  let v: unknown
  try {
    v = JSON.parse(json)
  } catch {
    return undefined
  }
  if (v === null || typeof v !== 'object') return undefined
  const r = v as Record<string, unknown>
  const strings = ['user', 'provider', 'scope', 'credential'] as const
  const numbers = ['createdAt', 'lastSeenAt', 'expiresAt', 'idleMs', 'checkedAt'] as const
  if (r.key !== key || !strings.every((k) => typeof r[k] === 'string')) return undefined
  if (!numbers.every((k) => typeof r[k] === 'number' && Number.isFinite(r[k]))) return undefined
  if (!Array.isArray(r.groups) || !r.groups.every((g) => typeof g === 'string')) return undefined
  return r as unknown as SessionRecord
}
