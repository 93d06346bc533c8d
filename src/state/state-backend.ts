/**
 * What a gatehouse front needs from the state it shares with other fronts: the throttle counts,
 * the Digest nonce counts, the form-login sessions, and the events that empty the others'
 * caches. Two implement it: SharedState (instances sharing a Redis, `state.redis`) and
 * ClusterState (the front workers of one gatehouse, whose primary process holds the state,
 * src/cluster/state-client.ts). createGatehouse and runGateway see only this interface.
 */
import type { ThrottleConfig } from '../config/types.js'
import type { NonceCounts } from '../auth/nonce-counts.js'
import type { ThrottleScope, ThrottleStore } from '../auth/throttle-store.js'
import type { SessionStore } from '../session/session-store.js'

/** What one front tells the others. */
export type StateEvent =
  | { kind: 'lockout'; scope: ThrottleScope; id: string; until: number }
  /** Cached answers to drop: one provider's, one user's, or (neither) all. */
  | { kind: 'flush'; provider?: string; user?: string }

export type FlushEvent = Extract<StateEvent, { kind: 'flush' }>

export interface StateCounters {
  /** Throttle operations counted in process because the store could not answer. */
  throttleFallbacks: number
  /** Digest checks answered 503 because the store could not answer. */
  nonceUnavailable: number
  /** Times the local caches were emptied because invalidations may have been missed. */
  resyncs: number
}

export interface StateBackendEvents {
  /** Another front says a provider's data changed or an operator flushed: drop those cached answers. */
  flush: [FlushEvent]
  /** Invalidations may have been missed: empty the local caches. */
  resync: []
}

export interface StateBackend {
  /** Where the state lives, for logs and metrics labels. */
  readonly kind: 'redis' | 'primary'
  /** Waits a bounded time for the store; an unreachable store is logged, not fatal (the fallbacks apply). */
  start(): Promise<void>
  close(): Promise<void>
  /** Whether the store answered the last time it was asked. */
  readonly up: boolean
  readonly counters: StateCounters
  /** The throttle's store for these limits (the counts themselves are shared). */
  throttleStore(t: ThrottleConfig): ThrottleStore
  nonceCounts(nonceTtlMs: number): NonceCounts
  /** Form-login sessions every front sharing this state accepts. */
  sessionStore(): SessionStore
  /** Tells the other fronts; never throws (lost when the store is away). */
  publish(event: StateEvent): void
  on<K extends keyof StateBackendEvents>(event: K, listener: (...args: StateBackendEvents[K]) => void): unknown
  off<K extends keyof StateBackendEvents>(event: K, listener: (...args: StateBackendEvents[K]) => void): unknown
}
