/**
 * The `throttle:` and `limits:` sections of the configuration: defaults filled in, durations in
 * milliseconds. The schema (schema.ts) has already checked every key and type.
 * Defaults are on the side of a public gateway: throttling on, slowloris timeouts short.
 */
import type { LimitsConfig, ThrottleConfig, ThrottleRuleConfig } from './types.js'
import { durationMs } from './duration.js'
import { errors } from '../errors.js'

type Duration = number | string

export interface RawThrottleRule {
  maxFailures?: number
  window?: Duration
  lockout?: Duration
}

export interface RawThrottle {
  enabled?: boolean
  window?: Duration
  lockout?: Duration
  maxLockout?: Duration
  delay?: Duration
  maxDelay?: Duration
  maxEntries?: number
  perAddress?: false | RawThrottleRule
  perUser?: false | RawThrottleRule
}

export interface RawLimits {
  maxHeaderSize?: number
  maxHeaderFields?: number
  headersTimeout?: Duration
  requestTimeout?: Duration
  keepAliveTimeout?: Duration
  maxConnections?: number
  maxConcurrentStreams?: number
  bodyLimit?: number
}

export const THROTTLE_DEFAULTS = {
  windowMs: 10 * 60_000,
  lockoutMs: 5 * 60_000,
  maxLockoutMs: 60 * 60_000,
  delayMs: 100,
  maxDelayMs: 2_000,
  maxEntries: 10_000,
  perAddressFailures: 20,
  perUserFailures: 50,
} as const

export const LIMITS_DEFAULTS: LimitsConfig = {
  maxHeaderSize: 16 * 1024,
  maxHeaderFields: 100,
  headersTimeoutMs: 20_000,
  requestTimeoutMs: 300_000,
  keepAliveTimeoutMs: 72_000,
  maxConnections: 10_000,
  // nginx's http2_max_concurrent_streams is 128, Node's own default unbounded: with maxConnections this caps requests in flight.
  maxConcurrentStreams: 100,
  bodyLimit: 0,
}

export function parseThrottle(raw: RawThrottle | undefined): ThrottleConfig {
  const t = raw ?? {}
  const windowMs = durationMs(t.window, THROTTLE_DEFAULTS.windowMs)
  const lockoutMs = durationMs(t.lockout, THROTTLE_DEFAULTS.lockoutMs)
  const rule = (r: false | RawThrottleRule | undefined, maxFailures: number): ThrottleRuleConfig | undefined =>
    r === false
      ? undefined
      : {
          maxFailures: r?.maxFailures ?? maxFailures,
          windowMs: durationMs(r?.window, windowMs),
          lockoutMs: durationMs(r?.lockout, lockoutMs),
        }
  const perAddress = rule(t.perAddress, THROTTLE_DEFAULTS.perAddressFailures)
  const perUser = rule(t.perUser, THROTTLE_DEFAULTS.perUserFailures)
  return {
    enabled: t.enabled !== false,
    ...(perAddress ? { perAddress } : {}),
    ...(perUser ? { perUser } : {}),
    maxLockoutMs: Math.max(lockoutMs, durationMs(t.maxLockout, THROTTLE_DEFAULTS.maxLockoutMs)),
    delayMs: durationMs(t.delay, THROTTLE_DEFAULTS.delayMs),
    maxDelayMs: durationMs(t.maxDelay, THROTTLE_DEFAULTS.maxDelayMs),
    maxEntries: t.maxEntries ?? THROTTLE_DEFAULTS.maxEntries,
  }
}

export function parseLimits(raw: RawLimits | undefined): LimitsConfig {
  const l = raw ?? {}
  const out: LimitsConfig = {
    maxHeaderSize: l.maxHeaderSize ?? LIMITS_DEFAULTS.maxHeaderSize,
    maxHeaderFields: l.maxHeaderFields ?? LIMITS_DEFAULTS.maxHeaderFields,
    headersTimeoutMs: durationMs(l.headersTimeout, LIMITS_DEFAULTS.headersTimeoutMs),
    requestTimeoutMs: durationMs(l.requestTimeout, LIMITS_DEFAULTS.requestTimeoutMs),
    keepAliveTimeoutMs: durationMs(l.keepAliveTimeout, LIMITS_DEFAULTS.keepAliveTimeoutMs),
    maxConnections: l.maxConnections ?? LIMITS_DEFAULTS.maxConnections,
    maxConcurrentStreams: l.maxConcurrentStreams ?? LIMITS_DEFAULTS.maxConcurrentStreams,
    bodyLimit: l.bodyLimit ?? LIMITS_DEFAULTS.bodyLimit,
  }
  // Node refuses a head timeout longer than the whole-request timeout, and 0 would let a slow head hold a connection forever.
  if (out.headersTimeoutMs <= 0)
    throw errors.GH_ERR_CONFIG_INVALID(
      'limits.headersTimeout: expected more than 0 (a slow request head must not hold a connection forever)',
    )
  if (out.requestTimeoutMs > 0 && out.headersTimeoutMs > out.requestTimeoutMs) {
    throw errors.GH_ERR_CONFIG_INVALID(
      `limits.headersTimeout: expected at most limits.requestTimeout (${out.requestTimeoutMs} ms), got ${out.headersTimeoutMs} ms`,
    )
  }
  return out
}
