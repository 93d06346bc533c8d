/**
 * The front's credential cache (mod_authn_socache's job): successes only, keyed by a
 * SHA-256 of the credentials under a per-boot random key, so plaintext never sits in memory as a key,
 * bounded in size (oldest first out) and in time (TTL). Identical concurrent checks collapse
 * into one provider call. Entries are tagged with the provider that answered, so a provider's
 * reload can empty exactly its entries.
 */
import { randomBytes } from 'node:crypto'
import { sha256 } from './one-shot-hash.js'

export interface CacheEntry<V> {
  value: V
  provider: string
  expiresAt: number
  /** The user name the credentials claimed, when it differs from what `value` tells (Basic keyed by header). */
  subject?: string
}

/** What a cache load yields for a success. */
export interface CacheLoad<V> {
  value: V
  provider: string
  subject?: string
}

export interface CredentialCacheOptions {
  maxEntries: number
  ttlMs: number
  now?: () => number
}

export class CredentialCache<V> {
  /** The per-boot key (256 random bits, base64url, then NUL); never leaves the process. */
  readonly #secret = `${randomBytes(32).toString('base64url')}\0`
  readonly #entries = new Map<string, CacheEntry<V>>()
  readonly #inflight = new Map<string, Promise<CacheLoad<V> | undefined>>()
  readonly #max: number
  readonly #ttl: number
  readonly #now: () => number
  /** Bumped by every clear: a load that began before it must not store its (maybe revoked) answer. */
  #epoch = 0
  hits = 0
  misses = 0

  constructor(opts: CredentialCacheOptions) {
    this.#max = opts.maxEntries
    this.#ttl = opts.ttlMs
    this.#now = opts.now ?? Date.now
  }

  /**
   * The key of parts that hold a secret (a Basic header): SHA-256 over the per-boot key and the
   * NUL-separated parts (so ("a:b","c") and ("a","b:c") differ). The hash is never shown to
   * anyone, so a length extension gains nothing and an HMAC's second pass would buy nothing;
   * the random key in front keeps the keys from being matched against a precomputed table of
   * headers.
   */
  key(...parts: string[]): string {
    return sha256(this.#secret + parts.join('\0'), 'base64url')
  }

  /**
   * The key of parts that hold no secret (a route, a user name, an algorithm): the parts as
   * they are, NUL-separated. It starts with a NUL, which no key() result holds, so the two
   * kinds never meet.
   */
  plainKey(...parts: string[]): string {
    return `\0${parts.join('\0')}`
  }

  get(key: string): V | undefined {
    return this.#live(key)?.value
  }

  /** The live entry under `key`, counted as a hit when there is one (a miss is counted by through()). */
  peek(key: string): Readonly<CacheEntry<V>> | undefined {
    const e = this.#live(key)
    if (e !== undefined) this.hits++
    return e
  }

  /** `epoch`: the `epoch` a shared() load reported; the value is dropped if a clear came since. */
  set(key: string, value: V, provider: string, ttlMs = this.#ttl, subject?: string, epoch?: number): void {
    if (this.#max <= 0 || ttlMs <= 0) return
    if (epoch !== undefined && epoch !== this.#epoch) return
    this.#entries.delete(key)
    const entry: CacheEntry<V> = { value, provider, expiresAt: this.#now() + ttlMs }
    if (subject !== undefined) entry.subject = subject
    this.#entries.set(key, entry)
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value
      if (oldest === undefined) break
      this.#entries.delete(oldest)
    }
  }

  /**
   * Cached value, or the result of `load` shared by every concurrent caller with the same key.
   * `load` resolves undefined for a denial (not cached) and rejects for a failure (not cached).
   */
  async through(key: string, load: () => Promise<CacheLoad<V> | undefined>, ttlMs = this.#ttl): Promise<V | undefined> {
    const got = await this.shared(key, load)
    if (got !== undefined && !got.cached) this.set(key, got.value, got.provider, ttlMs, got.subject, got.epoch)
    return got?.value
  }

  /**
   * Like through(), but stores nothing: the caller calls set() once the value has proved right.
   * (A Digest HA1 is kept only after a response computed from it matched: successes only.)
   */
  async shared(
    key: string,
    load: () => Promise<CacheLoad<V> | undefined>,
  ): Promise<(CacheLoad<V> & { cached: boolean; epoch: number }) | undefined> {
    const epoch = this.#epoch
    const e = this.#live(key)
    if (e !== undefined) {
      this.hits++
      return {
        value: e.value,
        provider: e.provider,
        ...(e.subject !== undefined ? { subject: e.subject } : {}),
        cached: true,
        epoch,
      }
    }
    this.misses++
    let pending = this.#inflight.get(key)
    if (!pending) {
      const loading: Promise<CacheLoad<V> | undefined> = load().finally(() => {
        if (this.#inflight.get(key) === loading) this.#inflight.delete(key)
      })
      pending = loading
      this.#inflight.set(key, pending)
    }
    const result = await pending
    return result && { ...result, cached: false, epoch }
  }

  #live(key: string): CacheEntry<V> | undefined {
    const e = this.#entries.get(key)
    if (e === undefined) return undefined
    if (e.expiresAt <= this.#now()) {
      this.#entries.delete(key)
      return undefined
    }
    return e
  }

  /** Empties the entries a provider answered; returns how many went. */
  clearProvider(provider: string): number {
    this.#epoch++
    // Loads in flight began before the change: later callers must not join them.
    this.#inflight.clear()
    let n = 0
    for (const [k, e] of this.#entries) {
      if (e.provider === provider) {
        this.#entries.delete(k)
        n++
      }
    }
    return n
  }

  /**
   * Empties the entries of one user, whichever provider answered: those whose credentials
   * claimed `user` (the subject) or whose value names them (`userOf`). Returns how many went.
   */
  clearUser(user: string, userOf?: (value: V) => string | undefined): number {
    // A load in flight for this user may carry an answer from before the change: as clearProvider.
    this.#epoch++
    this.#inflight.clear()
    let n = 0
    for (const [k, e] of this.#entries) {
      if (e.subject === user || (userOf !== undefined && userOf(e.value) === user)) {
        this.#entries.delete(k)
        n++
      }
    }
    return n
  }

  /** Empties every entry; returns how many went. */
  clear(): number {
    const n = this.#entries.size
    this.#epoch++
    this.#inflight.clear()
    this.#entries.clear()
    return n
  }

  get size(): number {
    return this.#entries.size
  }
}
