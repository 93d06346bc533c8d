/**
 * The Digest nonce-count replay window behind an interface: in process it is NonceManager's own
 * (useCount); with `state.redis` it is one Lua script per use, so an (nonce, nc) accepted by one
 * instance is refused by every other. Only the bookkeeping of counts lives here: nonces, their
 * MAC and opaque stay NonceManager's.
 *
 * Redis down: the check cannot be made, and a local window would accept on this instance what
 * another one already accepted. So it fails closed: use() throws GH_ERR_STATE_UNAVAILABLE (503
 * with Retry-After) until Redis answers again (docs/scaling.md argues the choice).
 */
import { errors } from '../errors.js'
import type { NonceCounts } from '../auth/nonce-counts.js'
import type { RedisConnection } from './redis-connection.js'
import { NONCE_COUNT } from './throttle-scripts.js'

export type { NonceCounts }

const nonceRE = /^[A-Za-z0-9_-]{48}$/
const ncRE = /^[0-9a-fA-F]{8}$/
/** Same window as NonceManager's default. */
export const NONCE_WINDOW = 64
/** Nonces from up to this far in the future are accepted (NonceManager's maxSkewMs): their counts must live as long. */
const SKEW_MS = 5000

type Script = (numKeys: number, ...args: Array<string | number>) => Promise<unknown>

export interface RedisNonceCountsOptions {
  connection: RedisConnection
  prefix: string
  /** digest.nonceTtl: a nonce older than that is stale, so its counts need not outlive it. */
  nonceTtlMs: number
  /** One Digest check refused because Redis could not answer. */
  onUnavailable: () => void
}

/** How long a nonce's counts are kept in Redis: as long as the nonce is fresh, and its skew. */
export function nonceCountTtl(nonceTtlMs: number): number {
  return nonceTtlMs + SKEW_MS
}

/**
 * The Redis key of a nonce's counts and the count to use (0: RFC 2069 mode, one use per nonce);
 * undefined for a malformed nonce or nc, or nc 0 (refused without asking).
 */
export function nonceCountKey(
  prefix: string,
  nonce: string,
  nc: string | undefined,
): { key: string; count: number } | undefined {
  if (typeof nonce !== 'string' || !nonceRE.test(nonce)) return undefined
  if (nc === undefined) return { key: `${prefix}nonce0:${nonce}`, count: 0 }
  if (typeof nc !== 'string' || !ncRE.test(nc)) return undefined
  const count = parseInt(nc, 16)
  return count === 0 ? undefined : { key: `${prefix}nonce:${nonce}`, count }
}

export class RedisNonceCounts implements NonceCounts {
  /** RedisThrottleStore.admit uses the same keys. */
  readonly withThrottle = true
  readonly #o: RedisNonceCountsOptions
  readonly #script: Script

  constructor(opts: RedisNonceCountsOptions) {
    this.#o = opts
    opts.connection.client.defineCommand('ghNonceCount', { lua: NONCE_COUNT })
    this.#script = (opts.connection.client as unknown as { ghNonceCount: Script }).ghNonceCount.bind(
      opts.connection.client,
    )
  }

  async use(nonce: string, nc: string | undefined): Promise<boolean> {
    const use = nonceCountKey(this.#o.prefix, nonce, nc)
    if (use === undefined) return false
    const ttl = nonceCountTtl(this.#o.nonceTtlMs)
    const client = this.#o.connection.client
    if (!this.#o.connection.up) throw this.#unavailable('not connected')
    try {
      // RFC 2069 mode (no nc): one use per nonce.
      if (use.count === 0) return (await client.set(use.key, '1', 'PX', ttl, 'NX')) === 'OK'
      return (await this.#script(1, use.key, use.count, NONCE_WINDOW, ttl)) === 1
    } catch (err) {
      throw this.#unavailable((err as Error).message, err)
    }
  }

  #unavailable(why: string, cause?: unknown): Error {
    this.#o.onUnavailable()
    const err =
      cause === undefined
        ? errors.GH_ERR_STATE_UNAVAILABLE(this.#o.connection.address, why)
        : errors.GH_ERR_STATE_UNAVAILABLE(this.#o.connection.address, why, { cause })
    // Reconnection is retried at most every 2 s: a client may come back that soon.
    return Object.assign(err, { retryAfter: 2 })
  }
}
