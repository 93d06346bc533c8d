/**
 * The login throttle over its in-process store answers at once; its methods are typed to allow
 * a shared store's promises. Unit tests of the in-process throttle see it as it behaves.
 */
import type { BeginDecision, FailureEffect, LoginThrottle } from '../../src/auth/throttle.js'

export type SyncLoginThrottle = Omit<LoginThrottle, 'begin' | 'settle' | 'recordFailure'> & {
  begin(...args: Parameters<LoginThrottle['begin']>): BeginDecision
  settle(...args: Parameters<LoginThrottle['settle']>): FailureEffect
  recordFailure(...args: Parameters<LoginThrottle['recordFailure']>): FailureEffect
}

export function inProcess(t: LoginThrottle): SyncLoginThrottle {
  return t as unknown as SyncLoginThrottle
}
