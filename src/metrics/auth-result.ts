/**
 * Turns an authentication result (fastify-auth.ts AuthResult: outcome plus the verifier's
 * DenyReason or an error code) into the `result` label of gatehouse_auth_total:
 *
 *   ok            credentials valid and `require` admitted the user
 *   forbidden     credentials valid, `require` refused (403), or allowAccess said no
 *   bad_password  a provider knew the user and the password (or Digest response) was wrong
 *   unknown_user  no provider in the chain knew the user
 *   error         a provider failed (5xx, fail closed)
 *   throttled     a login lockout (429), or a provider or its group over its concurrency or queue limit (503)
 *   stale         Digest: right password, old or replayed nonce (the client retries silently)
 *   invalid       malformed or unusable credentials (400, wrong realm/algorithm/nonce/scheme)
 *
 * A request without credentials is the normal first leg of the challenge; it is not counted.
 */
export type AuthResultLabel =
  'ok' | 'forbidden' | 'bad_password' | 'unknown_user' | 'error' | 'throttled' | 'stale' | 'invalid'

const THROTTLED_CODES = new Set(['GH_ERR_PROVIDER_BUSY', 'GH_ERR_GROUP_BUSY'])

export function authResultLabel(outcome: string, reason?: string): AuthResultLabel | undefined {
  switch (outcome) {
    case 'ok':
      return 'ok'
    case 'forbidden':
    case 'denied-host':
      return 'forbidden'
    case 'bad-request':
      return 'invalid'
    case 'throttled':
      return 'throttled'
    case 'error':
      return reason !== undefined && THROTTLED_CODES.has(reason) ? 'throttled' : 'error'
    case 'challenge':
      switch (reason) {
        case 'missing':
          return undefined
        case 'bad-password':
          return 'bad_password'
        case 'unknown-user':
          return 'unknown_user'
        case 'stale':
        case 'replay':
          return 'stale'
        default:
          return 'invalid'
      }
    default:
      return 'invalid'
  }
}
