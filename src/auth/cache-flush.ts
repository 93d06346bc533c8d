/**
 * Empties the front's credential caches on an operator's command (`gatehouse cache flush`):
 * everything, or one user's entries of every route, scheme and provider (a Basic success, a
 * Digest HA1, the groups looked up for them).
 */
import type { VerifierDeps } from './verifier.js'

export interface CacheFlushResult {
  /** Entries dropped, all caches together. */
  flushed: number
  identities: number
  realmHashes: number
  /** Sessions ended (a flush for one user, when a route offers form login). */
  sessions?: number
}

export function flushCredentialCaches(
  deps: Pick<VerifierDeps, 'identities' | 'realmHashes'>,
  user?: string,
): CacheFlushResult {
  const identities =
    user === undefined ? deps.identities.clear() : deps.identities.clearUser(user, (identity) => identity.user)
  const realmHashes = user === undefined ? deps.realmHashes.clear() : deps.realmHashes.clearUser(user)
  return { flushed: identities + realmHashes, identities, realmHashes }
}
