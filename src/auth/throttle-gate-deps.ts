/**
 * What the throttle gate needs, as a type of its own: VerifierDeps carries it and throttle-gate.ts
 * calls the verifier, so keeping it in either file would make the two import each other.
 */
import type { AddressMatcher } from './address-matcher.js'
import type { LoginThrottle } from './throttle.js'

export interface ThrottleGate {
  throttle: LoginThrottle
  /** Addresses whose X-Forwarded-For names the client (config.trustedProxies). */
  trustedProxies: AddressMatcher
  /** How the growing delay waits; tests may replace it. */
  sleep?: (ms: number) => Promise<void>
}
