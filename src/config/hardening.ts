/**
 * The `throttle:` and `limits:` sections of the configuration: defaults filled in, durations in
 * milliseconds. The schema (schema.ts) has already checked every key and type.
 * Defaults are on the side of a public gateway: throttling on, slowloris timeouts short.
 */
import type { LimitsConfig, ThrottleConfig, ThrottleRuleConfig } from './types.js'
import { durationMs } from './duration.js'
import { DEFAULTS, defaultMs } from './defaults.js'
import { errors } from '../errors.js'
import type { RawLimits, RawThrottle, RawThrottleRule } from './raw-types.js'

export type { RawLimits, RawThrottle, RawThrottleRule }

/** The table's throttle defaults, in milliseconds (src/config/defaults.ts). */
export const THROTTLE_DEFAULTS = {
  windowMs: defaultMs('throttle.window'),
  lockoutMs: defaultMs('throttle.lockout'),
  maxLockoutMs: defaultMs('throttle.maxLockout'),
  delayMs: defaultMs('throttle.delay'),
  maxDelayMs: defaultMs('throttle.maxDelay'),
  maxEntries: DEFAULTS['throttle.maxEntries'],
  perAddressFailures: DEFAULTS['throttle.perAddress.maxFailures'],
  perUserFailures: DEFAULTS['throttle.perUser.maxFailures'],
} as const

/** The table's limits, in milliseconds (src/config/defaults.ts). */
export const LIMITS_DEFAULTS: LimitsConfig = {
  maxHeaderSize: DEFAULTS['limits.maxHeaderSize'],
  maxHeaderFields: DEFAULTS['limits.maxHeaderFields'],
  headersTimeoutMs: defaultMs('limits.headersTimeout'),
  requestTimeoutMs: defaultMs('limits.requestTimeout'),
  keepAliveTimeoutMs: defaultMs('limits.keepAliveTimeout'),
  maxConnections: DEFAULTS['limits.maxConnections'],
  maxConcurrentStreams: DEFAULTS['limits.maxConcurrentStreams'],
  bodyLimit: DEFAULTS['limits.bodyLimit'],
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
    enabled: t.enabled ?? DEFAULTS['throttle.enabled'],
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
