/**
 * What each provider method may answer (DESIGN.md's contract). A group provider's answer is
 * checked twice: in the daemon (so nothing that cannot cross the socket is sent) and in the
 * front (the trust boundary). Anything else is GH_ERR_PROVIDER_BAD_RESULT, a 500.
 */
import type { DigestAlgorithm, ProviderMethodName } from './contract.js'

const HEX_LENGTH: Record<DigestAlgorithm, number> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 }

export interface ResultRule {
  expected: string
  valid(value: unknown, args: readonly unknown[]): boolean
}

export const RESULT_RULES: Record<ProviderMethodName, ResultRule> = {
  checkPassword: {
    expected: 'true, false, null or a non-empty user name',
    valid: (v) => v === null || typeof v === 'boolean' || (typeof v === 'string' && v !== ''),
  },
  getRealmHash: {
    expected: 'null or the hex digest of the algorithm',
    valid: (v, args) =>
      v === null ||
      (typeof v === 'string' && /^[0-9a-fA-F]+$/.test(v) && v.length === HEX_LENGTH[args[3] as DigestAlgorithm]),
  },
  groupsForUser: {
    expected: 'an array of strings',
    valid: (v) => Array.isArray(v) && v.every((g) => typeof g === 'string'),
  },
  allowAccess: { expected: 'true, false or null', valid: (v) => v === null || typeof v === 'boolean' },
  findUserByHash: {
    expected: 'null or a non-empty user name',
    valid: (v) => v === null || (typeof v === 'string' && v !== ''),
  },
}

/** Names the kind of a value without showing it: a provider may return a secret by mistake. */
export function describeValue(v: unknown): string {
  if (v === null) return 'null'
  if (Array.isArray(v)) return 'an array with other values'
  if (typeof v === 'string') return v === '' ? 'an empty string' : `a string of ${v.length} characters`
  return typeof v
}
