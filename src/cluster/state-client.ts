/**
 * The StateBackend of a front worker whose primary process holds the state (StateHost): the
 * throttle counts, the Digest nonce counts and the form-login sessions are asked of the primary
 * over the worker's Channel, and the events (lockouts, cache flushes, provider changes) come and
 * go as notes the primary passes on to the other workers.
 *
 * Every request has a timeout, so a primary that is gone or stuck costs a request that timeout
 * at most, never a hang. Then, as with Redis: throttling counts in this worker (a warning and
 * a counter), Digest answers 503 GH_ERR_STATE_UNAVAILABLE (a local nonce window would accept
 * here what another worker already accepted), sessions answer 503.
 */
import { EventEmitter } from 'node:events'
import type { Logger } from 'pino'
import type { ThrottleConfig } from '../config/types.js'
import { errors } from '../errors.js'
import type { NonceCounts } from '../auth/nonce-counts.js'
import type { SessionStore } from '../session/session-store.js'
import type { StateBackend, StateBackendEvents, StateCounters, StateEvent } from '../state/state-backend.js'
import type { Channel } from './channel.js'
import { ClusterThrottleStore } from './cluster-throttle-store.js'
import { ClusterSessionStore } from './cluster-session-store.js'
import { TOPIC, event } from './state-protocol.js'

/** Longest wait for one answer of the primary (the throttle then counts here, Digest answers 503). */
export const DEFAULT_STATE_TIMEOUT_MS = 1000
/** Named in GH_ERR_STATE_UNAVAILABLE's message where the Redis store names its address. */
const WHERE = 'in the primary process'

const nonceRE = /^[A-Za-z0-9_-]{48}$/
const ncRE = /^[0-9a-fA-F]{8}$/

export interface ClusterStateOptions {
  /** The channel to the primary (over `process` in the worker). ClusterState does not close it. */
  channel: Channel
  log: Logger
  timeoutMs?: number
}

export class ClusterState extends EventEmitter<StateBackendEvents> implements StateBackend {
  readonly kind = 'primary'
  readonly counters: StateCounters = { throttleFallbacks: 0, nonceUnavailable: 0, resyncs: 0 }
  readonly #channel: Channel
  readonly #log: Logger
  readonly #timeoutMs: number
  #throttle: ClusterThrottleStore | undefined
  #down = false

  constructor(opts: ClusterStateOptions) {
    super()
    this.#channel = opts.channel
    this.#log = opts.log
    this.#timeoutMs = opts.timeoutMs ?? DEFAULT_STATE_TIMEOUT_MS
    this.#channel.on(TOPIC.event, this.#receive)
  }

  /** Asks the primary once; no answer is logged, not fatal: the fallbacks apply until it answers. */
  async start(): Promise<void> {
    try {
      await this.ask(TOPIC.hello, {})
    } catch (err) {
      this.#log.warn(
        { err: (err as Error).message },
        'state in the primary process unreachable at start: throttling counts per front worker and Digest answers 503 until it answers',
      )
    }
  }

  get up(): boolean {
    return !this.#channel.closed && !this.#down
  }

  /** One request to the primary, bounded by the timeout; `up` follows its outcome. */
  ask<T>(topic: string, body: unknown): Promise<T> {
    return this.#channel.request<T>(topic, body, this.#timeoutMs).then(
      (reply) => {
        this.#down = false
        return reply
      },
      (err: unknown) => {
        this.#down = true
        throw err
      },
    )
  }

  /** The throttle store; a reload with other limits gets a store of its own (the counts stay in the primary). */
  throttleStore(t: ThrottleConfig): ClusterThrottleStore {
    if (this.#throttle?.maxEntries === t.maxEntries && this.#throttle.maxLockoutMs === t.maxLockoutMs)
      return this.#throttle
    this.#throttle = new ClusterThrottleStore({
      ask: (topic, body) => this.ask(topic, body),
      maxEntries: t.maxEntries,
      maxLockoutMs: t.maxLockoutMs,
      log: this.#log,
      onFallback: () => this.counters.throttleFallbacks++,
      nonceUnavailable: (why, cause) => {
        this.counters.nonceUnavailable++
        return this.#unavailable(why, cause)
      },
    })
    return this.#throttle
  }

  /** The primary's windows last digest.nonceTtl as configured there: the worker's own ttl is not sent. */
  nonceCounts(_nonceTtlMs: number): NonceCounts {
    return {
      // ClusterThrottleStore.admit asks the primary, which holds these windows.
      withThrottle: true,
      use: async (nonce, nc) => {
        if (typeof nonce !== 'string' || !nonceRE.test(nonce)) return false
        if (nc !== undefined && (typeof nc !== 'string' || !ncRE.test(nc) || parseInt(nc, 16) === 0)) return false
        try {
          return (await this.ask<boolean>(TOPIC.nonce, nc === undefined ? { nonce } : { nonce, nc })) === true
        } catch (err) {
          this.counters.nonceUnavailable++
          throw this.#unavailable((err as Error).message, err)
        }
      },
    }
  }

  sessionStore(): SessionStore {
    return new ClusterSessionStore({
      ask: (topic, body) => this.ask(topic, body),
      unavailable: (why, cause) => this.#unavailable(why, cause),
    })
  }

  /** The primary passes it on to the other workers; dropped when the primary is gone. */
  publish(e: StateEvent): void {
    this.#channel.send(TOPIC.event, e)
  }

  /** Stops following the primary's events; the channel stays open (the worker's other messages use it). */
  async close(): Promise<void> {
    this.#channel.off(TOPIC.event, this.#receive)
  }

  readonly #receive = (body: unknown): void => {
    const e = event(body)
    if (e === undefined) return
    if (e.kind === 'lockout') this.#throttle?.learnLockout(e.scope, e.id, e.until)
    else this.emit('flush', e)
  }

  #unavailable(why: string, cause: unknown): Error {
    const err = errors.GH_ERR_STATE_UNAVAILABLE(WHERE, why, { cause })
    // A primary that was only slow may answer the next request.
    return Object.assign(err, { retryAfter: 2 })
  }
}
