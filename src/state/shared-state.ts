/**
 * The state one gatehouse instance shares with the others through `state.redis`: the throttle
 * counts (RedisThrottleStore), the Digest nonce counts (RedisNonceCounts), and the events channel
 * `<prefix>events` on which instances announce lockouts and "provider data changed" / cache
 * flushes. An instance ignores its own messages. After the subscriber connection was lost, the
 * instance may have missed invalidations: `onResync` listeners then empty the local caches.
 */
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { StateConfig, ThrottleConfig } from '../config/types.js'
import type { FlushEvent, StateBackend, StateBackendEvents, StateCounters, StateEvent } from './state-backend.js'
import { RedisConnection } from './redis-connection.js'
import { RedisThrottleStore } from './redis-throttle-store.js'
import { RedisNonceCounts, nonceCountTtl } from './nonce-counts.js'
import { errors } from '../errors.js'
import { defaultMs } from '../config/defaults.js'
import { RedisSessionStore } from './redis-session-store.js'

export type { StateCounters, StateEvent }

export type SharedStateEvents = StateBackendEvents

/** How long start waits for Redis before the instance starts on its fallbacks. */
const START_WAIT_MS = 2000

export class SharedState extends EventEmitter<SharedStateEvents> implements StateBackend {
  readonly kind = 'redis'
  readonly connection: RedisConnection
  readonly counters: StateCounters = { throttleFallbacks: 0, nonceUnavailable: 0, resyncs: 0 }
  readonly #config: StateConfig
  readonly #log: Logger
  readonly #instance = randomUUID()
  readonly #channel: string
  #throttle: RedisThrottleStore | undefined
  /** digest.nonceTtl as nonceCounts() was given it (the default until then). */
  #nonceTtlMs = defaultMs('digest.nonceTtl')

  constructor(config: StateConfig, log: Logger) {
    super()
    this.#config = config
    this.#log = log
    this.#channel = `${config.prefix}events`
    this.connection = new RedisConnection(config, log)
    this.connection.on('message', (channel, message) => {
      if (channel === this.#channel) this.#receive(message)
    })
    this.connection.on('resubscribed', () => {
      this.counters.resyncs++
      log.warn(
        { store: this.connection.address },
        'shared state store: reconnected after a disconnect; credential caches emptied (invalidations may have been missed)',
      )
      this.emit('resync')
    })
  }

  /** Connects (waiting a bounded time); Redis unreachable is logged, not fatal: the fallbacks apply until it comes. */
  async start(): Promise<void> {
    const up = await this.connection.start([this.#channel], Math.max(START_WAIT_MS, this.#config.timeoutMs))
    if (up)
      this.#log.info({ store: this.connection.address, prefix: this.#config.prefix }, 'shared state store connected')
    else
      this.#log.warn(
        { store: this.connection.address },
        'shared state store unreachable at start: throttling counts per instance and Digest answers 503 until it is reachable',
      )
  }

  get up(): boolean {
    return this.connection.up
  }

  /** The throttle store; a reload with other throttle limits gets a store of its own (the counts stay in Redis). */
  throttleStore(t: ThrottleConfig): RedisThrottleStore {
    if (this.#throttle?.maxEntries === t.maxEntries && this.#throttle.maxLockoutMs === t.maxLockoutMs)
      return this.#throttle
    this.#throttle = new RedisThrottleStore({
      connection: this.connection,
      prefix: this.#config.prefix,
      maxEntries: t.maxEntries,
      maxLockoutMs: t.maxLockoutMs,
      log: this.#log,
      announce: (scope, id, until) => this.publish({ kind: 'lockout', scope, id, until }),
      onFallback: () => this.counters.throttleFallbacks++,
      nonceCountTtlMs: () => nonceCountTtl(this.#nonceTtlMs),
      nonceUnavailable: (why, cause) => {
        this.counters.nonceUnavailable++
        const err =
          cause === undefined
            ? errors.GH_ERR_STATE_UNAVAILABLE(this.connection.address, why)
            : errors.GH_ERR_STATE_UNAVAILABLE(this.connection.address, why, { cause })
        // Reconnection is retried at most every 2 s: a client may come back that soon.
        return Object.assign(err, { retryAfter: 2 })
      },
    })
    return this.#throttle
  }

  nonceCounts(nonceTtlMs: number): RedisNonceCounts {
    this.#nonceTtlMs = nonceTtlMs
    return new RedisNonceCounts({
      connection: this.connection,
      prefix: this.#config.prefix,
      nonceTtlMs,
      onUnavailable: () => this.counters.nonceUnavailable++,
    })
  }

  /** Form-login sessions every instance with this prefix shares. */
  sessionStore(): RedisSessionStore {
    return new RedisSessionStore({ connection: this.connection, prefix: this.#config.prefix })
  }

  /** Tells the other instances; lost when Redis is down (they empty their caches when they reconnect). */
  publish(event: StateEvent): void {
    if (!this.connection.up) return
    this.connection.client
      .publish(this.#channel, JSON.stringify({ ...event, from: this.#instance }))
      .catch((err: Error) => {
        this.#log.warn(
          { store: this.connection.address, err: err.message },
          'shared state store: could not announce to the other instances',
        )
      })
  }

  async close(): Promise<void> {
    await this.connection.close()
  }

  #receive(message: string): void {
    let e: (StateEvent & { from?: unknown }) | undefined
    try {
      e = JSON.parse(message) as StateEvent & { from?: unknown }
    } catch {
      return
    }
    if (e === null || typeof e !== 'object' || e.from === this.#instance) return
    if (
      e.kind === 'lockout' &&
      (e.scope === 'address' || e.scope === 'user') &&
      typeof e.id === 'string' &&
      typeof e.until === 'number'
    ) {
      this.#throttle?.learnLockout(e.scope, e.id, e.until)
    } else if (e.kind === 'flush') {
      const flush: FlushEvent = { kind: 'flush' }
      if (typeof e.provider === 'string') flush.provider = e.provider
      if (typeof e.user === 'string') flush.user = e.user
      this.emit('flush', flush)
    }
  }
}
