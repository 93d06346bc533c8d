/**
 * A front worker's ThrottleStore when the primary holds the counts (StateHost): reserve, settle
 * and fail are one request each, so failures spread over the workers lock out at the configured
 * total. As with Redis (src/state/redis-throttle-store.ts), what a credential-cache hit asks
 * (lockedFor, isKnownGood) is answered here without a message: the lockouts this worker learned
 * from its own answers and from the primary's broadcasts, and its own known-good addresses.
 *
 * When the primary does not answer (channel closed, or slower than the request timeout),
 * counting falls back to this worker's own MemoryThrottleStore with the same rules: N workers
 * then allow at most N times the budget, never more. Each such operation is reported through
 * onFallback (a metric) and the first of an outage is logged.
 */
import { LearnedLockouts } from '../state/learned-lockouts.js'
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
import { TOPIC, type AdmitBody, type AdmitReply, type ReserveReply } from './state-protocol.js'

export interface ClusterThrottleStoreOptions {
  /** A request to the primary; rejects when it cannot be answered in time. */
  ask: <T>(topic: string, body: unknown) => Promise<T>
  maxEntries: number
  maxLockoutMs: number
  log: Logger
  /** One operation counted in process because the primary could not answer. */
  onFallback: () => void
  /** The error (503) of a Digest nonce count the primary could not check; counted by the caller. */
  nonceUnavailable: (why: string, cause: unknown) => Error
}

export class ClusterThrottleStore implements ThrottleStore {
  readonly #o: ClusterThrottleStoreOptions
  /** Counts while the primary is away, known-good addresses. */
  readonly #local: MemoryThrottleStore
  /** Lockouts learned from the primary, by scope and id: until when (insertion order, bounded). */
  readonly #locks: LearnedLockouts
  /** The slot each reservation made in the primary holds; absent: it was reserved in process. */
  readonly #slots = new WeakMap<readonly CountedKey[], string>()
  #degraded = false

  constructor(opts: ClusterThrottleStoreOptions) {
    this.#o = opts
    this.#local = new MemoryThrottleStore({ maxEntries: opts.maxEntries, maxLockoutMs: opts.maxLockoutMs })
    this.#locks = new LearnedLockouts(opts.maxEntries)
  }

  get maxEntries(): number {
    return this.#o.maxEntries
  }

  get maxLockoutMs(): number {
    return this.#o.maxLockoutMs
  }

  async reserve(keys: readonly CountedKey[], now: number): Promise<ReserveResult> {
    if (keys.length === 0) return { ok: true }
    const reply = await this.#call<ReserveReply>(TOPIC.reserve, { keys, now })
    if (reply === undefined) return this.#local.reserve(keys, now)
    if (reply.ok) {
      this.#slots.set(keys, reply.slot)
      return { ok: true }
    }
    if (reply.lockedMs > 0) this.learnLockout(reply.scope, this.#refused(keys, reply.scope), now + reply.lockedMs)
    return { ok: false, scope: reply.scope, lockedMs: reply.lockedMs }
  }

  async settle(keys: readonly CountedKey[], failed: boolean, now: number): Promise<FailureCount[]> {
    const slot = this.#slots.get(keys)
    if (slot === undefined || keys.length === 0) return this.#local.settle(keys, failed, now)
    this.#slots.delete(keys)
    if (!failed) {
      // A success only gives the slot back: nothing to wait for. The pipe delivers in order, so
      // the primary has it before this worker's next reserve (a joined Digest check's, say).
      void this.#call<FailureCount[]>(TOPIC.settle, { slot, keys, failed, now })
      return keys.map(() => ({ failures: 0, lockoutMs: 0 }))
    }
    const reply = await this.#call<FailureCount[]>(TOPIC.settle, { slot, keys, failed, now })
    // The primary went away mid-attempt: its slot goes back there when the worker is detached; the failure is counted here.
    if (reply === undefined)
      return failed ? keys.map((k) => this.#local.fail(k, now)!) : keys.map(() => ({ failures: 0, lockoutMs: 0 }))
    return keys.map((k, i) => this.#counted(k, now, reply[i] ?? { failures: 0, lockoutMs: 0 }))
  }

  async admit(keys: readonly CountedKey[], now: number, judged: JudgedAttempt): Promise<AdmitResult> {
    const body: AdmitBody = { keys: keys as CountedKey[], now, failed: judged.failed }
    if (judged.nonce !== undefined) {
      body.nonce = judged.nonce.nonce
      if (judged.nonce.nc !== undefined) body.nc = judged.nonce.nc
    }
    let why: unknown
    const reply = await this.#call<AdmitReply>(TOPIC.admit, body, (err) => (why = err))
    if (reply === undefined) {
      // Counted here as reserve and settle would be; a nonce count no one can check fails closed.
      const local = this.#local.admitJudged(keys, judged.failed, now)
      if (!local.ok || judged.nonce === undefined) return local
      throw this.#o.nonceUnavailable((why as Error)?.message ?? 'no answer', why)
    }
    if (!reply.ok) {
      if (reply.lockedMs > 0) this.learnLockout(reply.scope, this.#refused(keys, reply.scope), now + reply.lockedMs)
      return { ok: false, scope: reply.scope, lockedMs: reply.lockedMs }
    }
    const counts = keys.map((k, i) => this.#counted(k, now, reply.counts?.[i] ?? { failures: 0, lockoutMs: 0 }))
    return reply.fresh === undefined ? { ok: true, counts } : { ok: true, counts, fresh: reply.fresh === true }
  }

  async fail(key: CountedKey, now: number, credential?: string): Promise<FailureCount | undefined> {
    const body = credential === undefined ? { key, now } : { key, now, credential }
    const reply = await this.#call<FailureCount | null>(TOPIC.fail, body)
    if (reply === undefined) return this.#local.fail(key, now, credential)
    return reply === null ? undefined : this.#counted(key, now, reply)
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

  /** A lockout the primary answered or broadcast. */
  learnLockout(scope: ThrottleScope, id: string, until: number): void {
    this.#locks.learn(scope, id, until)
  }

  #counted(k: CountedKey, now: number, c: FailureCount): FailureCount {
    // The primary tells the other workers itself.
    if (c.lockoutMs > 0) this.learnLockout(k.scope, k.id, now + c.lockoutMs)
    return c
  }

  /** The id of the first key of `scope`: the one the primary's store refused (it checks in order). */
  #refused(keys: readonly CountedKey[], scope: ThrottleScope): string {
    return (keys.find((k) => k.scope === scope) ?? (keys[0] as CountedKey)).id
  }

  /** The primary's answer, or undefined when it could not give one (then the caller counts in process). */
  async #call<T>(topic: string, body: unknown, onError?: (err: unknown) => void): Promise<T | undefined> {
    try {
      const reply = await this.#o.ask<T>(topic, body)
      this.#degraded = false
      return reply
    } catch (err) {
      onError?.(err)
      this.#o.onFallback()
      if (!this.#degraded) {
        this.#degraded = true
        this.#o.log.warn(
          { err: (err as Error).message },
          'state in the primary process unavailable: login throttling counts per front worker until it answers',
        )
      }
      return undefined
    }
  }
}
