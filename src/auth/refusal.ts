/**
 * Why a login was refused, for the access line: operators tell a mistyped password from a
 * guessed user name, as Apache's error log does. The client never sees this: every one of
 * these is the same 401 (or 400, 429, 5xx) whatever the reason.
 */
import type { AuthResult } from './fastify-auth.js'
import { claimedUser } from './throttle-gate.js'

export type RefusalReason =
  | 'no-credentials'
  | 'unknown-user'
  | 'wrong-password'
  | 'malformed'
  | 'stale-nonce'
  | 'throttled'
  | 'provider-error'
  | 'forbidden'
  | 'address-denied'

export interface Refusal {
  reason: RefusalReason
  /** The user name the credentials claimed (Digest with userhash: the hash as sent); never the password. */
  user?: string
}

/** A claimed name is the client's text: cut so that a huge header cannot make a huge log line. */
export const ATTEMPTED_USER_MAX = 256

const BUSY_CODES = new Set(['GH_ERR_PROVIDER_BUSY', 'GH_ERR_GROUP_BUSY'])

export function refusalOf(result: AuthResult, credentials: string | undefined): Refusal | undefined {
  const reason = reasonOf(result)
  if (reason === undefined) return undefined
  const claimed = result.identity?.user ?? (credentials === undefined ? undefined : claimedUser(credentials))
  return claimed === undefined ? { reason } : { reason, user: claimed.slice(0, ATTEMPTED_USER_MAX) }
}

function reasonOf(result: AuthResult): RefusalReason | undefined {
  switch (result.outcome) {
    case 'ok':
      return undefined
    case 'forbidden':
      return 'forbidden'
    case 'denied-host':
      return 'address-denied'
    case 'bad-request':
      return 'malformed'
    case 'throttled':
      return 'throttled'
    case 'error':
      return result.reason !== undefined && BUSY_CODES.has(result.reason) ? 'throttled' : 'provider-error'
    case 'challenge':
      switch (result.reason) {
        case 'missing':
          return 'no-credentials'
        case 'unknown-user':
          return 'unknown-user'
        case 'bad-password':
          return 'wrong-password'
        case 'stale':
        case 'replay':
        case 'invalid-nonce':
          return 'stale-nonce'
        default:
          return 'malformed'
      }
  }
}
