/**
 * The state behind the login throttle: per key, the failures in a sliding window, the attempts in
 * flight, the lockout, and per user the known-good addresses. Every operation is one atomic step
 * on the keys it names, with the time passed in, so a store shared between processes (Redis with
 * a Lua script per operation) can implement the same interface; MemoryThrottleStore is the
 * in-process one.
 */

export type ThrottleScope = 'address' | 'user'

export interface ThrottleRule {
  maxFailures: number
  windowMs: number
  lockoutMs: number
}

/** One counted key: an address key or a user key, and the rule it is counted by. */
export interface CountedKey {
  scope: ThrottleScope
  id: string
  rule: ThrottleRule
}

/**
 * reserve's answer. A refusal names the key that refused; `lockedMs` is what is left of its
 * lockout, 0 when the key is not locked but its budget is held by attempts in flight.
 */
export type ReserveResult = { ok: true } | { ok: false; scope: ThrottleScope; lockedMs: number }

/** What one failure did to one key: failures now in the window, and the lockout it started (0: none). */
export interface FailureCount {
  failures: number
  lockoutMs: number
}

/** A value now, or later from a shared store. */
export type Awaitable<T> = T | Promise<T>

/** The Digest nonce count a matching response uses, in the same step as its admission. */
export interface NonceUse {
  nonce: string
  nc: string | undefined
}

/**
 * An attempt judged before the store is asked (a Digest response checked against a cached HA1):
 * `failed` for a wrong response; `nonce` for a matching one, whose nonce count is used only
 * when the attempt is admitted.
 */
export type JudgedAttempt = { failed: boolean; nonce?: undefined } | { failed: false; nonce: NonceUse }

/**
 * admit's answer: refused as reserve refuses, or admitted with what the failure counted per key
 * (zeros when nothing was counted) and, when a nonce count was asked, whether it was fresh.
 */
export type AdmitResult = Exclude<ReserveResult, { ok: true }> | { ok: true; counts: FailureCount[]; fresh?: boolean }

export interface ThrottleStore {
  /**
   * All or nothing: refuses when a key is locked out, or when its failures in the window plus
   * its attempts in flight have reached maxFailures; otherwise takes one in-flight slot on every key.
   */
  reserve(keys: readonly CountedKey[], now: number): Awaitable<ReserveResult>
  /** Gives back the slots reserve took on `keys`; `failed` turns each into a failure (which may lock the key). */
  settle(keys: readonly CountedKey[], failed: boolean, now: number): Awaitable<FailureCount[]>
  /**
   * Counts a failure that held no slot. With `credential` (an opaque id of the credentials, never
   * the credentials) it is counted only when that id is not among the key's recent ones: the same
   * credentials refused again test nothing new. Undefined when not counted for that reason.
   */
  fail(key: CountedKey, now: number, credential?: string): Awaitable<FailureCount | undefined>
  /**
   * reserve, then settle at once with the attempt's result, and for a matching Digest response
   * the nonce count: one atomic step, so one round trip to a shared store. Implemented by the
   * stores that share a backend with the Digest nonce counts (the primary's, Redis); throws a
   * 503 GatehouseError when the nonce count cannot be checked (after counting in process what
   * the throttle needs, as reserve and settle do when the store is away).
   */
  admit?(keys: readonly CountedKey[], now: number, judged: JudgedAttempt): Promise<AdmitResult>
  /** Milliseconds left of a key's lockout; 0 when it is not locked out. */
  lockedFor(scope: ThrottleScope, id: string, now: number): number
  addKnownGood(user: string, address: string): void
  isKnownGood(user: string, address: string): boolean
  readonly size: { addresses: number; users: number; knownGood: number }
}

/** Known-good addresses remembered per user. */
export const KNOWN_ADDRESSES = 16
/** Credential ids remembered per key by fail(key, now, credential). */
export const RECENT_CREDENTIALS = 16

interface Counter {
  /** Failure times within the window, oldest first; never longer than maxFailures. */
  failures: number[]
  /** Attempts reserved and not yet settled. */
  inFlight: number
  lockedUntil: number
  /** Lockouts in a row; reset once the key stays quiet for maxLockoutMs after its last lockout. */
  lockouts: number
  lastFailure: number
  /** Ids of the credentials fail() counted with one, most recent last. */
  credentials?: string[]
}

export interface MemoryThrottleStoreOptions {
  /** Most addresses, users and known-good lists kept (each an LRU). */
  maxEntries: number
  /** Longest lockout (the doubling stops here). */
  maxLockoutMs: number
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

/**
 * The in-process store. Memory is bounded: every map is an LRU of at most `maxEntries` keys, each
 * holding at most `maxFailures` timestamps, RECENT_CREDENTIALS ids and KNOWN_ADDRESSES addresses.
 */
export class MemoryThrottleStore implements ThrottleStore {
  readonly #addresses: Lru<Counter>
  readonly #users: Lru<Counter>
  readonly #knownGood: Lru<string[]>
  readonly #maxLockoutMs: number

  constructor(opts: MemoryThrottleStoreOptions) {
    this.#addresses = new Lru(opts.maxEntries)
    this.#users = new Lru(opts.maxEntries)
    this.#knownGood = new Lru(opts.maxEntries)
    this.#maxLockoutMs = opts.maxLockoutMs
  }

  reserve(keys: readonly CountedKey[], now: number): ReserveResult {
    // Locks first: a locked key's Retry-After says more than a busy one's.
    for (const k of keys) {
      const ms = this.lockedFor(k.scope, k.id, now)
      if (ms > 0) return { ok: false, scope: k.scope, lockedMs: ms }
    }
    for (const k of keys) {
      const c = this.#map(k.scope).peek(k.id)
      if (c === undefined) continue
      slide(c, k.rule, now)
      if (c.failures.length + c.inFlight >= k.rule.maxFailures) return { ok: false, scope: k.scope, lockedMs: 0 }
    }
    for (const k of keys) this.#counter(k).inFlight++
    return { ok: true }
  }

  settle(keys: readonly CountedKey[], failed: boolean, now: number): FailureCount[] {
    return keys.map((k) => {
      const c = this.#map(k.scope).peek(k.id)
      // An entry pushed out of the LRU meanwhile took its slots with it.
      if (c !== undefined && c.inFlight > 0) c.inFlight--
      if (failed) return this.#count(k, now)
      return { failures: c?.failures.length ?? 0, lockoutMs: 0 }
    })
  }

  /**
   * An attempt judged before it was admitted: reserve and settle in one step (the slot is held
   * for no time), so a judged failure is refused by a lockout or a budget held by attempts in
   * flight exactly as one that asked a provider would be. The nonce count is the caller's.
   */
  admitJudged(keys: readonly CountedKey[], failed: boolean, now: number): AdmitResult {
    const r = this.reserve(keys, now)
    return r.ok ? { ok: true, counts: this.settle(keys, failed, now) } : r
  }

  fail(key: CountedKey, now: number, credential?: string): FailureCount | undefined {
    if (credential !== undefined) {
      const c = this.#counter(key)
      const seen = (c.credentials ??= [])
      if (seen.includes(credential)) return undefined
      seen.push(credential)
      if (seen.length > RECENT_CREDENTIALS) seen.shift()
    }
    return this.#count(key, now)
  }

  lockedFor(scope: ThrottleScope, id: string, now: number): number {
    const c = this.#map(scope).peek(id)
    return c !== undefined && c.lockedUntil > now ? c.lockedUntil - now : 0
  }

  addKnownGood(user: string, address: string): void {
    const list = this.#knownGood.get(user)
    if (list === undefined) {
      this.#knownGood.set(user, [address])
      return
    }
    if (list.includes(address)) return
    list.push(address)
    if (list.length > KNOWN_ADDRESSES) list.shift()
  }

  isKnownGood(user: string, address: string): boolean {
    return this.#knownGood.peek(user)?.includes(address) === true
  }

  get size(): { addresses: number; users: number; knownGood: number } {
    return { addresses: this.#addresses.size, users: this.#users.size, knownGood: this.#knownGood.size }
  }

  #map(scope: ThrottleScope): Lru<Counter> {
    return scope === 'address' ? this.#addresses : this.#users
  }

  #counter(k: CountedKey): Counter {
    const map = this.#map(k.scope)
    let c = map.get(k.id)
    if (c === undefined) {
      c = { failures: [], inFlight: 0, lockedUntil: 0, lockouts: 0, lastFailure: 0 }
      map.set(k.id, c)
    }
    return c
  }

  /**
   * Adds one failure to a key's window; the maxFailures-th starts a lockout. Failures of attempts
   * that were already under way when the key locked do not extend the lockout.
   */
  #count(k: CountedKey, now: number): FailureCount {
    const c = this.#counter(k)
    const rule = k.rule
    if (c.lockedUntil > now) return { failures: rule.maxFailures, lockoutMs: 0 }
    if (c.lockouts > 0 && now - Math.max(c.lastFailure, c.lockedUntil) > this.#maxLockoutMs) c.lockouts = 0
    c.lastFailure = now
    slide(c, rule, now)
    c.failures.push(now)
    if (c.failures.length < rule.maxFailures) return { failures: c.failures.length, lockoutMs: 0 }
    const ms = Math.min(this.#maxLockoutMs, rule.lockoutMs * 2 ** c.lockouts)
    c.lockouts++
    c.lockedUntil = now + ms
    c.failures.length = 0
    return { failures: rule.maxFailures, lockoutMs: ms }
  }
}

/** Drops the failures that left the window. */
function slide(c: Counter, rule: ThrottleRule, now: number): void {
  const since = now - rule.windowMs
  while (c.failures.length > 0 && (c.failures[0] as number) <= since) c.failures.shift()
}
