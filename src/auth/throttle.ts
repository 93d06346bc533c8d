/**
 * Brute-force throttling of failed logins (issue 7 §1), Fastify-free and with an injectable clock.
 *
 * Failures are counted in a sliding window per client address and per claimed user name. Past
 * `maxFailures` the key is locked out (429 with Retry-After); each lockout of the same key while
 * it keeps failing doubles the previous one, up to `maxLockoutMs`. Before the lockout, failed
 * answers are delayed more and more (`delayMs`, doubling, up to `maxDelayMs`).
 *
 * So that a stranger cannot lock a real user out: the per-user count only takes failures from
 * addresses that never logged in as that user, and a per-user lockout does not apply to those
 * known-good addresses (a correct password from the user's usual address still passes). The
 * trade-off is written down in docs/security.md.
 *
 * Memory is bounded: every map is an LRU of at most `maxEntries` keys, each holding at most
 * `maxFailures` timestamps (and at most KNOWN_ADDRESSES known-good addresses per user).
 */
import type { ThrottleConfig } from '../config-types.js'
import { EventEmitter } from 'node:events'
import { isIP } from 'node:net'

export interface ThrottleRule {
  maxFailures: number
  windowMs: number
  lockoutMs: number
}

export interface LoginThrottleOptions {
  perAddress?: ThrottleRule
  perUser?: ThrottleRule
  /** Longest lockout (the doubling stops here). */
  maxLockoutMs: number
  /** Base of the growing delay of failed answers; 0: none. */
  delayMs: number
  maxDelayMs: number
  /** Most addresses, users and known-good lists kept (each an LRU). */
  maxEntries: number
  now?: () => number
}

export type ThrottleScope = 'address' | 'user'

export type ThrottleDecision =
  | { locked: false }
  | { locked: true; scope: ThrottleScope; retryAfterS: number }

/** What a failure changed: how long to hold the 401, and whether it started a lockout. */
export interface FailureEffect {
  delayMs: number
  lockout?: { scope: ThrottleScope; lockoutMs: number }
}

/** Emitted for every request refused with 429 (the metrics' `throttled` outcome). */
export interface ThrottledEvent {
  scope: ThrottleScope
  route: string
  retryAfterS: number
}

/** Emitted when a key becomes locked. `user` only for per-user lockouts (a name under attack). */
export interface LockoutEvent {
  scope: ThrottleScope
  address: string
  user?: string
  lockoutMs: number
}

export interface LoginThrottleEvents {
  throttled: [ThrottledEvent]
  lockout: [LockoutEvent]
}

/** Failures before the growing delay starts: a user who mistypes twice waits for nothing. */
export const FREE_FAILURES = 3
/** Known-good addresses remembered per user. */
export const KNOWN_ADDRESSES = 16

interface Counter {
  /** Failure times within the window, oldest first; never longer than maxFailures. */
  failures: number[]
  lockedUntil: number
  /** Lockouts in a row; reset once the key stays quiet for maxLockoutMs after its last lockout. */
  lockouts: number
  lastFailure: number
}

/** A Map used as an LRU: get() refreshes, set() evicts the least recently used past max. */
class Lru<V> {
  readonly #map = new Map<string, V>()
  readonly #max: number
  constructor(max: number) {
    this.#max = max
  }
  get(key: string): V | undefined {
    const v = this.#map.get(key)
    if (v !== undefined) {
      this.#map.delete(key)
      this.#map.set(key, v)
    }
    return v
  }
  peek(key: string): V | undefined {
    return this.#map.get(key)
  }
  set(key: string, v: V): void {
    this.#map.delete(key)
    this.#map.set(key, v)
    while (this.#map.size > this.#max) {
      const oldest = this.#map.keys().next().value as string
      this.#map.delete(oldest)
    }
  }
  get size(): number {
    return this.#map.size
  }
}

export class LoginThrottle extends EventEmitter<LoginThrottleEvents> {
  readonly #opts: Required<Omit<LoginThrottleOptions, 'perAddress' | 'perUser'>> & Pick<LoginThrottleOptions, 'perAddress' | 'perUser'>
  readonly #addresses: Lru<Counter>
  readonly #users: Lru<Counter>
  readonly #knownGood: Lru<string[]>

  constructor(opts: LoginThrottleOptions) {
    super()
    for (const [name, rule] of [['perAddress', opts.perAddress], ['perUser', opts.perUser]] as const) {
      if (rule && (!Number.isInteger(rule.maxFailures) || rule.maxFailures < 1 || !(rule.windowMs > 0) || !(rule.lockoutMs >= 0))) {
        throw new TypeError(`throttle.${name}: maxFailures must be a positive integer and window more than 0`)
      }
    }
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1) throw new TypeError('throttle.maxEntries must be a positive integer')
    this.#opts = { ...opts, now: opts.now ?? Date.now }
    this.#addresses = new Lru(opts.maxEntries)
    this.#users = new Lru(opts.maxEntries)
    this.#knownGood = new Lru(opts.maxEntries)
  }

  /** Is a login attempt for `user` from `address` refused outright? Cheap: no hashing, no provider. */
  check(user: string | undefined, address: string): ThrottleDecision {
    const now = this.#opts.now()
    const addr = addressKey(address)
    const a = this.#addresses.peek(addr)
    if (a && a.lockedUntil > now) return locked('address', a.lockedUntil - now)
    if (user !== undefined && this.#opts.perUser) {
      const u = this.#users.peek(user)
      if (u && u.lockedUntil > now && !this.isKnownGood(user, address)) return locked('user', u.lockedUntil - now)
    }
    return { locked: false }
  }

  /** Counts a failed login (a provider said wrong password or no such user). */
  recordFailure(user: string | undefined, address: string): FailureEffect {
    const now = this.#opts.now()
    const addr = addressKey(address)
    let delayMs = 0
    let lockout: FailureEffect['lockout']
    if (this.#opts.perAddress) {
      const { failures, lockedMs } = this.#count(this.#addresses, addr, this.#opts.perAddress, now)
      delayMs = this.#delay(failures)
      if (lockedMs > 0) lockout = { scope: 'address', lockoutMs: lockedMs }
    }
    if (user !== undefined && this.#opts.perUser && !this.isKnownGood(user, address)) {
      const { lockedMs } = this.#count(this.#users, user, this.#opts.perUser, now)
      if (lockedMs > 0) lockout ??= { scope: 'user', lockoutMs: lockedMs }
    }
    if (lockout) this.emit('lockout', { scope: lockout.scope, address: addr, ...(lockout.scope === 'user' ? { user } : {}), lockoutMs: lockout.lockoutMs })
    return lockout ? { delayMs: 0, lockout } : { delayMs }
  }

  /** A login succeeded: the address becomes known-good for the user. Address counts are kept (no reset by a valid account). */
  recordSuccess(user: string, address: string): void {
    const addr = addressKey(address)
    const list = this.#knownGood.get(user)
    if (list === undefined) {
      this.#knownGood.set(user, [addr])
      return
    }
    if (list.includes(addr)) return
    list.push(addr)
    if (list.length > KNOWN_ADDRESSES) list.shift()
  }

  isKnownGood(user: string, address: string): boolean {
    return this.#knownGood.peek(user)?.includes(addressKey(address)) === true
  }

  /** Keys tracked, for tests and status: { addresses, users, knownGood }. */
  get size(): { addresses: number; users: number; knownGood: number } {
    return { addresses: this.#addresses.size, users: this.#users.size, knownGood: this.#knownGood.size }
  }

  /**
   * Adds one failure to a key's window. Returns the failures now in the window and, when this
   * failure started a lockout, its length. Failures of requests that passed check() just before
   * a concurrent one locked the key do not extend the lockout.
   */
  #count(map: Lru<Counter>, key: string, rule: ThrottleRule, now: number): { failures: number; lockedMs: number } {
    let c = map.get(key)
    if (c === undefined) {
      c = { failures: [], lockedUntil: 0, lockouts: 0, lastFailure: 0 }
      map.set(key, c)
    }
    if (c.lockedUntil > now) return { failures: rule.maxFailures, lockedMs: 0 }
    if (c.lockouts > 0 && now - Math.max(c.lastFailure, c.lockedUntil) > this.#opts.maxLockoutMs) c.lockouts = 0
    c.lastFailure = now
    const since = now - rule.windowMs
    while (c.failures.length > 0 && (c.failures[0] as number) <= since) c.failures.shift()
    c.failures.push(now)
    if (c.failures.length < rule.maxFailures) return { failures: c.failures.length, lockedMs: 0 }
    const ms = Math.min(this.#opts.maxLockoutMs, rule.lockoutMs * 2 ** c.lockouts)
    c.lockouts++
    c.lockedUntil = now + ms
    c.failures.length = 0
    return { failures: rule.maxFailures, lockedMs: ms }
  }

  #delay(failures: number): number {
    if (this.#opts.delayMs <= 0 || failures <= FREE_FAILURES) return 0
    return Math.min(this.#opts.maxDelayMs, this.#opts.delayMs * 2 ** (failures - FREE_FAILURES - 1))
  }
}

function locked(scope: ThrottleScope, ms: number): ThrottleDecision {
  return { locked: true, scope, retryAfterS: Math.max(1, Math.ceil(ms / 1000)) }
}

/**
 * The unit an address is counted as: IPv4 as is (IPv4-mapped IPv6 too), IPv6 by its /64, the
 * block one subscriber usually gets, so rotating through the host bits does not reset counts.
 */
export function addressKey(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1] as string
  if (isIP(address) !== 6) return address
  const [head = '', tail = ''] = address.toLowerCase().split('::', 2)
  const left = head === '' ? [] : head.split(':')
  const right = tail === '' ? [] : tail.split(':')
  const groups = address.includes('::') ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right] : left
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`
}

/** A LoginThrottle with the settings of a parsed `throttle:` section. */
export function loginThrottleFrom(t: ThrottleConfig): LoginThrottle {
  return new LoginThrottle({ perAddress: t.perAddress, perUser: t.perUser, maxLockoutMs: t.maxLockoutMs, delayMs: t.delayMs, maxDelayMs: t.maxDelayMs, maxEntries: t.maxEntries })
}
