/**
 * The connections to the Redis that holds the state shared between gatehouse instances: one for
 * commands, one for pub/sub (a subscribed connection can run nothing else). Neither queues a
 * command while disconnected (enableOfflineQueue false) and every command has a timeout, so a
 * dead Redis costs a request one commandTimeout at most, never a hang; both reconnect by
 * themselves with a growing delay. `up` says whether the command connection is ready now.
 */
import { EventEmitter } from 'node:events'
import { Redis, type RedisOptions } from 'ioredis'
import type { Logger } from 'pino'
import type { StateConfig } from '../config/types.js'

export interface RedisConnectionEvents {
  /** The command connection became ready again after having been lost. */
  reconnected: []
  /** The subscriber connection is subscribed again after having been lost (messages may have been missed). */
  resubscribed: []
  message: [channel: string, message: string]
}

/** Longest wait between two reconnection attempts. */
const MAX_RECONNECT_DELAY_MS = 2000

/** ioredis options for a `state.redis` address: redis://[user:password@]host[:port][/db] or unix:///path. */
export function redisOptions(address: string, timeoutMs: number): RedisOptions {
  const common: RedisOptions = {
    enableOfflineQueue: false,
    commandTimeout: timeoutMs,
    connectTimeout: Math.max(timeoutMs, 500),
    maxRetriesPerRequest: 0,
    // 50, 100, 200 … ms, at most MAX_RECONNECT_DELAY_MS: a restarted Redis is found within about 2 s.
    retryStrategy: (times) => Math.min(MAX_RECONNECT_DELAY_MS, 50 * 2 ** Math.min(times, 6)),
  }
  const url = new URL(address)
  if (url.protocol === 'unix:') return { ...common, path: decodeURIComponent(url.pathname) }
  const db = url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0
  return {
    ...common,
    host: url.hostname.replace(/^\[|\]$/g, ''),
    port: url.port === '' ? 6379 : Number(url.port),
    db,
    ...(url.username !== '' ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password !== '' ? { password: decodeURIComponent(url.password) } : {}),
    ...(url.protocol === 'rediss:' ? { tls: {} } : {}),
  }
}

/** The address as it may be logged: without its password. */
export function safeAddress(address: string): string {
  const url = new URL(address)
  if (url.password !== '') url.password = '***'
  return url.toString()
}

export class RedisConnection extends EventEmitter<RedisConnectionEvents> {
  readonly client: Redis
  readonly subscriber: Redis
  readonly address: string
  #everReady = false
  #wasLost = false
  #subscribed = false
  #channels: string[] = []
  #subLost = false
  #closed = false

  constructor(config: StateConfig, log: Logger) {
    super()
    this.address = safeAddress(config.redis)
    const opts = redisOptions(config.redis, config.timeoutMs)
    this.client = new Redis(opts)
    // The subscriber is off the request path: its SUBSCRIBE may wait for a connection, without a timeout.
    this.subscriber = new Redis({
      ...opts,
      commandTimeout: undefined,
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      autoResubscribe: false,
    })
    const warn = (what: string) => (err: Error) => {
      if (!this.#closed) log.warn({ store: this.address, err: err.message }, `shared state store: ${what}`)
    }
    // One line per outage and connection, not one per reconnection attempt.
    const quiet = { client: false, subscriber: false }
    const once = (which: keyof typeof quiet, what: string) => (err: Error) => {
      if (quiet[which]) return
      quiet[which] = true
      warn(what)(err)
    }
    this.client.on('error', once('client', 'connection error'))
    this.subscriber.on('error', once('subscriber', 'subscriber connection error'))
    this.client.on('ready', () => {
      quiet.client = false
    })
    this.subscriber.on('ready', () => {
      quiet.subscriber = false
    })
    this.client.on('ready', () => {
      if (this.#wasLost) {
        log.info({ store: this.address }, 'shared state store reachable again: shared counting resumes')
        this.emit('reconnected')
      }
      this.#everReady = true
      this.#wasLost = false
    })
    this.client.on('close', () => {
      if (this.#everReady && !this.#wasLost && !this.#closed) {
        this.#wasLost = true
        log.warn(
          { store: this.address },
          'shared state store connection lost: throttling counts per instance, Digest answers 503 until it is back',
        )
      }
    })
    this.subscriber.on('close', () => {
      if (this.#subscribed) this.#subLost = true
    })
    this.subscriber.on('ready', () => {
      if (!this.#subLost) return
      this.#subLost = false
      // Subscribed first, then announced: whatever was published before the SUBSCRIBE took is
      // covered by what the listeners do (empty their caches), whatever after it arrives.
      this.subscriber.subscribe(...this.#channels).then(() => this.emit('resubscribed'), warn('subscribing again'))
    })
    this.subscriber.on('message', (channel: string, message: string) => this.emit('message', channel, message))
  }

  /**
   * Subscribes, and waits up to `waitMs` for the command connection. False when Redis was not
   * reachable by then: the instance starts anyway, on its fallbacks, and joins when Redis comes.
   */
  async start(channels: string[], waitMs: number): Promise<boolean> {
    this.#channels = channels
    void this.subscriber.subscribe(...channels).then(
      () => {
        this.#subscribed = true
      },
      () => {},
    )
    if (this.up) return true
    return new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        this.client.off('ready', onReady)
        resolve(ok)
      }
      const onReady = (): void => done(true)
      const timer = setTimeout(() => done(false), waitMs)
      this.client.on('ready', onReady)
    })
  }

  get up(): boolean {
    return this.client.status === 'ready'
  }

  async close(): Promise<void> {
    this.#closed = true
    this.client.disconnect()
    this.subscriber.disconnect()
  }
}
