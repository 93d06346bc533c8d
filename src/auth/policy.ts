/**
 * A route's authentication policy, ready for the request path: the provider chain resolved
 * to instances, the header names of its mode (origin or proxy), a stable id for cache keys.
 */
import type { AuthConfig, RequireConfig } from '../config/types.js'
import type { NamedProvider } from './provider-chain.js'

export interface AuthPolicy {
  readonly config: AuthConfig
  readonly chain: readonly NamedProvider[]
  /** Identifies realm + chain in cache keys, so two routes never share an answer they would not both give. */
  readonly cacheId: string
  readonly requestHeader: 'authorization' | 'proxy-authorization'
  readonly challengeHeader: 'WWW-Authenticate' | 'Proxy-Authenticate'
  readonly infoHeader: 'Authentication-Info' | 'Proxy-Authentication-Info'
  readonly challengeStatus: 401 | 407
}

export function makePolicy(config: AuthConfig, chain: readonly NamedProvider[]): AuthPolicy {
  return {
    config,
    chain,
    cacheId: `${config.realm}\0${config.provider.join(',')}`,
    requestHeader: config.proxy ? 'proxy-authorization' : 'authorization',
    challengeHeader: config.proxy ? 'Proxy-Authenticate' : 'WWW-Authenticate',
    infoHeader: config.proxy ? 'Proxy-Authentication-Info' : 'Authentication-Info',
    challengeStatus: config.proxy ? 407 : 401,
  }
}

/**
 * `require`: users listed → the user must be one; groups listed → in at least one. Both → either suffices.
 * With `limitExcept`, a method it does not list must satisfy its `require` as well; an unknown
 * method (undefined) counts as unlisted, so a caller that cannot tell the method gets the stricter rule.
 */
export function isAuthorized(config: AuthConfig, user: string, groups: readonly string[], method?: string): boolean {
  if (!meets(config.require, user, groups)) return false
  const limit = config.limitExcept
  if (limit === undefined || (method !== undefined && limit.methods.includes(method))) return true
  return meets(limit.require, user, groups)
}

function meets(rule: RequireConfig, user: string, groups: readonly string[]): boolean {
  const { users, groups: wanted } = rule
  if (!users?.length && !wanted?.length) return true
  if (users?.includes(user)) return true
  if (wanted?.some((g) => groups.includes(g))) return true
  return false
}
