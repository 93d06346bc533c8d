/**
 * Brute-force throttling of failed logins, Fastify-free and with an injectable clock; the state
 * lives behind a ThrottleStore (throttle-store.ts).
 *
 * Failures are counted in a sliding window per client address and per claimed user name. Past
 * `maxFailures` the key is locked out (429 with Retry-After); each lockout of the same key while
 * it keeps failing doubles the previous one, up to `maxLockoutMs`. Before the lockout, failed
 * answers are delayed more and more (`delayMs`, doubling, up to `maxDelayMs`).
 *
 * Attempts in flight count against the limits: begin() reserves a slot on each key before the
 * provider is asked and settle() turns it into a failure or gives it back, so however many guesses
 * arrive at once, no more than `maxFailures` of them reach a provider before the lockout.
 *
 * So that a stranger cannot lock a real user out: the per-user count only takes failures from
 * addresses that never logged in as that user, and a per-user lockout does not apply to those
 * known-good addresses (a correct password from the user's usual address still passes). A
 * credential-cache hit guesses nothing, so an address lockout lets it through (checkCached) as long
 * as its user is not locked out; every refused attempt at a user then counts against that user,
 * because next to cache hits that pass, a refusal tells the client "not the cached password".
 * The trade-offs are written down in docs/security.md.
 */
import type { ThrottleConfig } from '../config/types.js'
import { EventEmitter } from 'node:events'
import { isIP } from 'node:net'
import {
  KNOWN_ADDRESSES,
  MemoryThrottleStore,
  type AdmitResult,
  type Awaitable,
  type CountedKey,
  type FailureCount,
  type JudgedAttempt,
  type NonceUse,
  type ThrottleRule,
  type ThrottleScope,
  type ThrottleStore,
} from './throttle-store.js'

export { KNOWN_ADDRESSES }
export type { Awaitable, JudgedAttempt, NonceUse, ThrottleRule, ThrottleScope, ThrottleStore }

export interface LoginThrottleOptions {
  perAddress?: ThrottleRule
  perUser?: ThrottleRule
  /** Longest lockout (the doubling stops here). */
  maxLockoutMs: number
  /** Base of the growing delay of failed answers; 0: none. */
  delayMs: number
  maxDelayMs: number
  /** Most addresses, users and known-good lists kept (each an LRU) by the default store. */
  maxEntries: number
  /** Where the counts live; default an in-process MemoryThrottleStore. */
  store?: ThrottleStore
  now?: () => number
}

export type ThrottleDecision = { locked: false } | { locked: true; scope: ThrottleScope; retryAfterS: number }

/** One login attempt that holds in-flight slots until it is settled. */
export interface Attempt {
  readonly user: string | undefined
  /** The address key (addressKey) of the client. */
  readonly address: string
  readonly keys: readonly CountedKey[]
}

export type BeginDecision =
  { locked: false; attempt: Attempt } | { locked: true; scope: ThrottleScope; retryAfterS: number }

/** admit's decision: refused (429), or admitted and settled, with whether the nonce count was fresh when one was asked. */
export type JudgedDecision =
  | { locked: true; scope: ThrottleScope; retryAfterS: number }
  | { locked: false; effect: FailureEffect; fresh?: boolean }

/** How an attempt ended, as the throttle counts it: only a provider's "no" is a failure. */
export type AttemptResult = 'success' | 'failure' | 'neutral'

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
/**
 * Retry-After of an attempt refused because the key's budget is held by attempts in flight
 * (no lockout yet): they settle within a provider call.
 */
export const IN_FLIGHT_RETRY_S = 1

export class LoginThrottle extends EventEmitter<LoginThrottleEvents> {
  readonly #opts: Omit<LoginThrottleOptions, 'store' | 'now'> & { now: () => number }
  readonly #store: ThrottleStore

  constructor(opts: LoginThrottleOptions) {
    super()
    for (const [name, rule] of [
      ['perAddress', opts.perAddress],
      ['perUser', opts.perUser],
    ] as const) {
      if (
        rule &&
        (!Number.isInteger(rule.maxFailures) || rule.maxFailures < 1 || !(rule.windowMs > 0) || !(rule.lockoutMs >= 0))
      ) {
        throw new TypeError(`throttle.${name}: maxFailures must be a positive integer and window more than 0`)
      }
    }
    if (!Number.isInteger(opts.maxEntries) || opts.maxEntries < 1)
      throw new TypeError('throttle.maxEntries must be a positive integer')
    const { store, now, ...rest } = opts
    this.#opts = { ...rest, now: now ?? Date.now }
    this.#store = store ?? new MemoryThrottleStore({ maxEntries: opts.maxEntries, maxLockoutMs: opts.maxLockoutMs })
  }

  /** Is a login attempt for `user` from `address` refused by a lockout? Cheap: no hashing, no provider. */
  check(user: string | undefined, address: string): ThrottleDecision {
    const now = this.#opts.now()
    const addr = addressKey(address)
    const a = this.#store.lockedFor('address', addr, now)
    if (a > 0) return locked('address', a)
    if (user !== undefined && this.#opts.perUser) {
      const u = this.#store.lockedFor('user', user, now)
      if (u > 0 && !this.#store.isKnownGood(user, addr)) return locked('user', u)
    }
    return { locked: false }
  }

  /**
   * A request answered from the credential cache: it asks no provider and guesses nothing, so an
   * address lockout spares it unless its user is locked out too (then a refused guess at that
   * user could no longer be told from a hit). Without a per-user rule nothing bounds those
   * refusals, and an address lockout refuses cache hits as well.
   */
  checkCached(user: string, address: string): ThrottleDecision {
    const now = this.#opts.now()
    const addr = addressKey(address)
    const a = this.#store.lockedFor('address', addr, now)
    const u = this.#opts.perUser ? this.#store.lockedFor('user', user, now) : 0
    if (a > 0 && (u > 0 || !this.#opts.perUser)) return locked('address', a)
    if (u > 0 && !this.#store.isKnownGood(user, addr)) return locked('user', u)
    return { locked: false }
  }

  /**
   * A login that will ask a provider: refused (locked out, or the limit is held by attempts in
   * flight), or admitted with one slot on each key that counts it, to be settled exactly once.
   * `credential`: an opaque id of the credentials when this route answers cache hits; a refusal
   * then counts against the claimed user (once per distinct credentials).
   */
  begin(user: string | undefined, address: string, credential?: string): Awaitable<BeginDecision> {
    const now = this.#opts.now()
    const addr = addressKey(address)
    const keys = this.#keys(user, addr)
    return after(this.#store.reserve(keys, now), (r): Awaitable<BeginDecision> => {
      if (r.ok) return { locked: false, attempt: { user, address: addr, keys } }
      const refusal: BeginDecision =
        r.lockedMs > 0 ? locked(r.scope, r.lockedMs) : { locked: true, scope: r.scope, retryAfterS: IN_FLIGHT_RETRY_S }
      if (credential === undefined || user === undefined || !this.#opts.perUser) return refusal
      return after(
        this.#store.fail({ scope: 'user', id: user, rule: this.#opts.perUser }, now, credential),
        (counted) => {
          if (counted !== undefined && counted.lockoutMs > 0)
            this.emit('lockout', { scope: 'user', address: addr, user, lockoutMs: counted.lockoutMs })
          return refusal
        },
      )
    })
  }

  /** Ends an attempt begin() admitted: a success makes the address known-good, a failure is counted. */
  settle(attempt: Attempt, result: AttemptResult): Awaitable<FailureEffect> {
    const now = this.#opts.now()
    return after(this.#store.settle(attempt.keys, result === 'failure', now), (counts) => {
      if (result === 'success' && attempt.user !== undefined) this.recordSuccess(attempt.user, attempt.address)
      if (result !== 'failure') return { delayMs: 0 }
      return this.#effect(attempt.user, attempt.address, attempt.keys, counts)
    })
  }

  /**
   * A login judged before the store is asked (a Digest response checked against a cached HA1):
   * admitted or refused exactly as begin() would, and settled in the same step, so that a judged
   * guess is counted before its answer leaves, whatever runs in parallel. A store that shares a
   * backend with the nonce counts (`sharedNonces`) does it all in one round trip, the nonce count
   * included; otherwise `useNonce` counts the nonce between the admission and the settling.
   */
  admit(
    user: string | undefined,
    address: string,
    judged: JudgedAttempt,
    useNonce: (use: NonceUse) => Awaitable<boolean>,
    sharedNonces: boolean,
  ): Awaitable<JudgedDecision> {
    const now = this.#opts.now()
    const addr = addressKey(address)
    const keys = this.#keys(user, addr)
    const store = this.#store
    const decide = (r: AdmitResult): JudgedDecision => {
      if (!r.ok)
        return r.lockedMs > 0
          ? locked(r.scope, r.lockedMs)
          : { locked: true, scope: r.scope, retryAfterS: IN_FLIGHT_RETRY_S }
      const effect = judged.failed ? this.#effect(user, addr, keys, r.counts) : { delayMs: 0 }
      return r.fresh === undefined ? { locked: false, effect } : { locked: false, effect, fresh: r.fresh }
    }
    if (store.admit !== undefined && (sharedNonces || judged.nonce === undefined))
      return store.admit(keys, now, judged).then(decide)
    return after(store.reserve(keys, now), (r): Awaitable<JudgedDecision> => {
      if (!r.ok) return decide(r)
      const settled = (fresh?: boolean) =>
        after(store.settle(keys, judged.failed, now), (counts) =>
          decide(fresh === undefined ? { ok: true, counts } : { ok: true, counts, fresh }),
        )
      if (judged.nonce === undefined) return settled()
      // The slot goes back whatever the nonce count does (a shared one may throw: 503).
      const giveBack = (err: unknown) =>
        after(store.settle(keys, false, now), (): JudgedDecision => {
          throw err
        })
      let fresh: Awaitable<boolean>
      try {
        fresh = useNonce(judged.nonce)
      } catch (err) {
        return giveBack(err)
      }
      return fresh instanceof Promise ? fresh.then(settled, giveBack) : settled(fresh)
    })
  }

  /** Counts a failed login that held no slot (a provider said wrong password or no such user). */
  recordFailure(user: string | undefined, address: string): Awaitable<FailureEffect> {
    const now = this.#opts.now()
    const addr = addressKey(address)
    const keys = this.#keys(user, addr)
    return after(all(keys.map((k) => this.#store.fail(k, now))), (counts) =>
      this.#effect(user, addr, keys, counts as FailureCount[]),
    )
  }

  /** A login succeeded: the address becomes known-good for the user. Address counts are kept (no reset by a valid account). */
  recordSuccess(user: string, address: string): void {
    this.#store.addKnownGood(user, addressKey(address))
  }

  isKnownGood(user: string, address: string): boolean {
    return this.#store.isKnownGood(user, addressKey(address))
  }

  /** Keys tracked, for tests and status: { addresses, users, knownGood }. */
  get size(): { addresses: number; users: number; knownGood: number } {
    return this.#store.size
  }

  /** The keys an attempt counts on: the address, and the user unless the address is known-good for it. */
  #keys(user: string | undefined, addr: string): CountedKey[] {
    const keys: CountedKey[] = []
    if (this.#opts.perAddress) keys.push({ scope: 'address', id: addr, rule: this.#opts.perAddress })
    if (user !== undefined && this.#opts.perUser && !this.#store.isKnownGood(user, addr))
      keys.push({ scope: 'user', id: user, rule: this.#opts.perUser })
    return keys
  }

  #effect(
    user: string | undefined,
    addr: string,
    keys: readonly CountedKey[],
    counts: readonly FailureCount[],
  ): FailureEffect {
    let delayMs = 0
    let lockout: FailureEffect['lockout']
    keys.forEach((k, i) => {
      const c = counts[i] as FailureCount
      if (k.scope === 'address') delayMs = this.#delay(c.failures)
      if (c.lockoutMs > 0) lockout ??= { scope: k.scope, lockoutMs: c.lockoutMs }
    })
    if (lockout)
      this.emit('lockout', {
        scope: lockout.scope,
        address: addr,
        ...(lockout.scope === 'user' ? { user } : {}),
        lockoutMs: lockout.lockoutMs,
      })
    return lockout ? { delayMs: 0, lockout } : { delayMs }
  }

  #delay(failures: number): number {
    if (this.#opts.delayMs <= 0 || failures <= FREE_FAILURES) return 0
    return Math.min(this.#opts.maxDelayMs, this.#opts.delayMs * 2 ** (failures - FREE_FAILURES - 1))
  }
}

/**
 * `f` applied to a value of the store: at once when the store answered at once (the in-process
 * store: no promise, no extra turn of the event loop), else when it answers.
 */
function after<T, R>(v: Awaitable<T>, f: (value: T) => Awaitable<R>): Awaitable<R> {
  return v instanceof Promise ? v.then(f) : f(v)
}

function all<T>(vs: Awaitable<T>[]): Awaitable<T[]> {
  return vs.some((v) => v instanceof Promise) ? Promise.all(vs) : (vs as T[])
}

function locked(scope: ThrottleScope, ms: number): { locked: true; scope: ThrottleScope; retryAfterS: number } {
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
  const groups = address.includes('::')
    ? [...left, ...Array(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
    : left
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`
}

/** A LoginThrottle with the settings of a parsed `throttle:` section; `store`: where the counts live (default in process). */
export function loginThrottleFrom(t: ThrottleConfig, store?: ThrottleStore): LoginThrottle {
  return new LoginThrottle({
    perAddress: t.perAddress,
    perUser: t.perUser,
    maxLockoutMs: t.maxLockoutMs,
    delayMs: t.delayMs,
    maxDelayMs: t.maxDelayMs,
    maxEntries: t.maxEntries,
    ...(store ? { store } : {}),
  })
}
