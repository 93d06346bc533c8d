/**
 * The throttle's ThrottleStore on Redis, shared by every instance with the same `state.prefix`:
 * reserve, settle and fail are one Lua script each (throttle-scripts.ts), so failures spread over
 * several instances lock the address or user out at the configured total.
 *
 * What a credential-cache hit asks (lockedFor, isKnownGood) is answered here without a round
 * trip: lockouts this instance learned (from its own scripts' answers and from the lockouts
 * other instances announce on the events channel) and the addresses known-good on this instance.
 *
 * When Redis cannot answer (down, or slower than state.timeout), counting falls back to this
 * instance's own MemoryThrottleStore: every attempt is still counted and limited, per instance,
 * so N instances allow at most N times the configured budget until Redis is back. Each such
 * operation is reported through onFallback (a metric) and the first of an outage is logged.
 */
import { LearnedLockouts } from './learned-lockouts.js'
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import {
  MemoryThrottleStore,
  type AdmitResult,
  type CountedKey,
  type JudgedAttempt,
  type FailureCount,
  type ReserveResult,
  type ThrottleScope,
  type ThrottleStore,
} from '../auth/throttle-store.js'
import type { RedisConnection } from './redis-connection.js'
import { ADMIT, FAIL, RESERVE, SETTLE } from './throttle-scripts.js'
import { NONCE_WINDOW, nonceCountKey } from './nonce-counts.js'

/** How long an in-flight slot holds when its attempt is never settled (its instance died): past any provider timeout. */
export const SLOT_TTL_MS = 120_000

type Script = (numKeys: number, ...args: Array<string | number>) => Promise<unknown>
interface ThrottleCommands {
  ghThrottleReserve: Script
  ghThrottleSettle: Script
  ghThrottleFail: Script
  ghThrottleAdmit: Script
}

export interface RedisThrottleStoreOptions {
  connection: RedisConnection
  prefix: string
  maxEntries: number
  maxLockoutMs: number
  log: Logger
  /** A lockout started here: other instances learn it (SharedState publishes it). */
  announce: (scope: ThrottleScope, id: string, until: number) => void
  /** One operation counted in process because Redis could not answer. */
  onFallback: () => void
  /** How long a Digest nonce's counts are kept (as RedisNonceCounts keeps them). */
  nonceCountTtlMs: () => number
  /** The error (503) of a Digest nonce count Redis could not check; counted by the caller. */
  nonceUnavailable: (why: string, cause?: unknown) => Error
}

export class RedisThrottleStore implements ThrottleStore {
  readonly #o: RedisThrottleStoreOptions
  readonly #redis: ThrottleCommands
  /** Counts while Redis is away, known-good addresses, and lockouts started during an outage. */
  readonly #local: MemoryThrottleStore
  /** Lockouts learned from Redis, by scope and id: until when (insertion order, bounded). */
  readonly #locks: LearnedLockouts
  /** The slot id each reservation made in Redis holds; absent: it was reserved in process. */
  readonly #slots = new WeakMap<readonly CountedKey[], string>()
  #degraded = false

  constructor(opts: RedisThrottleStoreOptions) {
    this.#o = opts
    this.#local = new MemoryThrottleStore({ maxEntries: opts.maxEntries, maxLockoutMs: opts.maxLockoutMs })
    this.#locks = new LearnedLockouts(opts.maxEntries)
    const client = opts.connection.client
    client.defineCommand('ghThrottleReserve', { lua: RESERVE })
    client.defineCommand('ghThrottleSettle', { lua: SETTLE })
    client.defineCommand('ghThrottleFail', { lua: FAIL })
    client.defineCommand('ghThrottleAdmit', { lua: ADMIT })
    this.#redis = client as unknown as ThrottleCommands
  }

  async reserve(keys: readonly CountedKey[], now: number): Promise<ReserveResult> {
    if (keys.length === 0) return { ok: true }
    const slot = randomBytes(9).toString('base64url')
    const args: Array<string | number> = [now, slot, SLOT_TTL_MS]
    for (const k of keys) args.push(k.rule.maxFailures, k.rule.windowMs)
    const reply = await this.#call(() =>
      this.#redis.ghThrottleReserve(keys.length * 2, ...this.#keyPairs(keys), ...args),
    )
    if (reply === undefined) return this.#local.reserve(keys, now)
    const [ok, index, lockedMs] = reply as number[]
    if (ok === 1) {
      this.#slots.set(keys, slot)
      return { ok: true }
    }
    const k = keys[(index as number) - 1] as CountedKey
    if ((lockedMs as number) > 0) this.learnLockout(k.scope, k.id, now + (lockedMs as number))
    return { ok: false, scope: k.scope, lockedMs: lockedMs as number }
  }

  async settle(keys: readonly CountedKey[], failed: boolean, now: number): Promise<FailureCount[]> {
    const slot = this.#slots.get(keys)
    if (slot === undefined || keys.length === 0) return this.#local.settle(keys, failed, now)
    this.#slots.delete(keys)
    const args: Array<string | number> = [now, failed ? 1 : 0, this.#o.maxLockoutMs, slot]
    for (const k of keys) args.push(k.rule.maxFailures, k.rule.windowMs, k.rule.lockoutMs, this.#ttl(k))
    const reply = await this.#call(() =>
      this.#redis.ghThrottleSettle(keys.length * 2, ...this.#keyPairs(keys), ...args),
    )
    // Redis went away mid-attempt: its slot lapses there by itself; the failure is counted here.
    if (reply === undefined)
      return failed ? keys.map((k) => this.#local.fail(k, now)!) : keys.map(() => ({ failures: 0, lockoutMs: 0 }))
    const flat = reply as number[]
    return keys.map((k, i) =>
      this.#counted(k, now, { failures: flat[2 * i] as number, lockoutMs: flat[2 * i + 1] as number }),
    )
  }

  async admit(keys: readonly CountedKey[], now: number, judged: JudgedAttempt): Promise<AdmitResult> {
    const use =
      judged.nonce === undefined ? undefined : nonceCountKey(this.#o.prefix, judged.nonce.nonce, judged.nonce.nc)
    const args: Array<string | number> = [now, judged.failed ? 1 : 0, this.#o.maxLockoutMs, keys.length]
    for (const k of keys) args.push(k.rule.maxFailures, k.rule.windowMs, k.rule.lockoutMs, this.#ttl(k))
    const names = this.#keyPairs(keys)
    if (use !== undefined) {
      names.push(use.key)
      args.push(use.count, NONCE_WINDOW, this.#o.nonceCountTtlMs())
    }
    let why = 'not connected'
    const reply = await this.#call(
      () => this.#redis.ghThrottleAdmit(names.length, ...names, ...args),
      (err) => (why = (err as Error).message),
    )
    if (reply === undefined) {
      // Counted here as reserve and settle would be; a nonce count no one can check fails closed.
      const local = this.#local.admitJudged(keys, judged.failed, now)
      if (!local.ok || judged.nonce === undefined) return local
      throw this.#o.nonceUnavailable(why)
    }
    const flat = reply as number[]
    if (flat[0] !== 1) {
      const k = keys[(flat[1] as number) - 1] as CountedKey
      const lockedMs = flat[2] as number
      if (lockedMs > 0) this.learnLockout(k.scope, k.id, now + lockedMs)
      return { ok: false, scope: k.scope, lockedMs }
    }
    const counts = keys.map((k, i) =>
      judged.failed
        ? this.#counted(k, now, { failures: flat[2 + 2 * i] as number, lockoutMs: flat[3 + 2 * i] as number })
        : { failures: 0, lockoutMs: 0 },
    )
    // A nonce too malformed to name a key is refused as a replay would be.
    if (judged.nonce === undefined) return { ok: true, counts }
    return { ok: true, counts, fresh: flat[1] === 1 }
  }

  async fail(key: CountedKey, now: number, credential?: string): Promise<FailureCount | undefined> {
    const args = [
      now,
      this.#o.maxLockoutMs,
      key.rule.maxFailures,
      key.rule.windowMs,
      key.rule.lockoutMs,
      this.#ttl(key),
      credential ?? '',
    ]
    const reply = await this.#call(() => this.#redis.ghThrottleFail(1, this.#hashKey(key.scope, key.id), ...args))
    if (reply === undefined) return this.#local.fail(key, now, credential)
    const [failures, lockoutMs] = reply as number[]
    if (failures === -1) return undefined
    return this.#counted(key, now, { failures: failures as number, lockoutMs: lockoutMs as number })
  }

  lockedFor(scope: ThrottleScope, id: string, now: number): number {
    return Math.max(this.#locks.lockedFor(scope, id, now), this.#local.lockedFor(scope, id, now))
  }

  addKnownGood(user: string, address: string): void {
    this.#local.addKnownGood(user, address)
  }

  isKnownGood(user: string, address: string): boolean {
    return this.#local.isKnownGood(user, address)
  }

  get size(): { addresses: number; users: number; knownGood: number } {
    return this.#local.size
  }

  get maxEntries(): number {
    return this.#o.maxEntries
  }

  get maxLockoutMs(): number {
    return this.#o.maxLockoutMs
  }

  /** A lockout another instance announced, or this one was told of by Redis. */
  learnLockout(scope: ThrottleScope, id: string, until: number): void {
    this.#locks.learn(scope, id, until)
  }

  #counted(k: CountedKey, now: number, c: FailureCount): FailureCount {
    if (c.lockoutMs > 0) {
      this.learnLockout(k.scope, k.id, now + c.lockoutMs)
      this.#o.announce(k.scope, k.id, now + c.lockoutMs)
    }
    return c
  }

  /** The script's answer, or undefined when Redis could not give one (then the caller counts in process). */
  async #call(run: () => Promise<unknown>, onError?: (err: unknown) => void): Promise<unknown> {
    if (this.#o.connection.up) {
      try {
        const reply = await run()
        this.#degraded = false
        return reply
      } catch (err) {
        onError?.(err)
        return this.#fallback((err as Error).message)
      }
    }
    return this.#fallback('not connected')
  }

  #fallback(why: string): undefined {
    this.#o.onFallback()
    if (!this.#degraded) {
      this.#degraded = true
      this.#o.log.warn(
        { store: this.#o.connection.address, err: why },
        'shared state store unavailable: login throttling counts per instance until it is back',
      )
    }
    return undefined
  }

  #hashKey(scope: ThrottleScope, id: string): string {
    return `${this.#o.prefix}throttle:${scope}:${id}`
  }

  #keyPairs(keys: readonly CountedKey[]): string[] {
    const out: string[] = []
    for (const k of keys) {
      const h = this.#hashKey(k.scope, k.id)
      out.push(h, `${h}:inflight`)
    }
    return out
  }

  /** Long enough for the window, the longest lockout, and the quiet time that resets lockouts in a row. */
  #ttl(k: CountedKey): number {
    return Math.max(k.rule.windowMs, this.#o.maxLockoutMs) + this.#o.maxLockoutMs
  }
}
