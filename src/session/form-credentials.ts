/**
 * A user name and password from the login form, checked exactly as a Basic header would be:
 * they are put into one, and the route's policy is used as a Basic-only policy with the same
 * realm, chain and cache id. So a form login shares the throttle counters, the credential cache,
 * the provider chain, the `require` rules and the equal work for unknown users of Basic.
 */
import type { IncomingMessage } from 'node:http'
import { makePolicy, type AuthPolicy } from '../auth/policy.js'
import type { AuthRequest } from '../auth/verifier.js'
import type { AuthContext } from '../providers/contract.js'

const basicPolicies = new WeakMap<AuthPolicy, AuthPolicy>()

/** The route's policy offering Basic only (its cacheId unchanged). */
export function basicPolicyOf(policy: AuthPolicy): AuthPolicy {
  let p = basicPolicies.get(policy)
  if (p === undefined) {
    p = makePolicy({ ...policy.config, scheme: ['basic'] }, policy.chain)
    basicPolicies.set(policy, p)
  }
  return p
}

/** A user name Basic can carry: no colon (its separator), no control characters; non-empty. */
export function formCredentialsUsable(user: string, password: string): boolean {
  return user !== '' && password !== '' && !user.includes(':') && !/[\x00-\x1f\x7f]/.test(user + password)
}

export function basicHeader(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
}

/**
 * The check as the verifier sees it: a GET of `path` (the page the user asked for) on `route`.
 * The providers' context carries the request headers without credentials: no Authorization,
 * no Cookie (the session and pre-session cookies are credentials too).
 */
export function formAuthRequest(
  raw: IncomingMessage,
  route: string,
  policy: AuthPolicy,
  credentials: string,
  path: string,
): AuthRequest {
  let ctx: AuthContext | undefined
  return {
    method: 'GET',
    url: path,
    host: raw.headers.host,
    credentials,
    remoteAddress: raw.socket.remoteAddress ?? '',
    get ctx(): AuthContext {
      ctx ??= contextOf(raw, route, policy, path)
      return ctx
    },
  }
}

function contextOf(raw: IncomingMessage, route: string, policy: AuthPolicy, path: string): AuthContext {
  const headers: AuthContext['headers'] = {}
  for (const [k, v] of Object.entries(raw.headers)) {
    if (k === 'authorization' || k === 'proxy-authorization' || k === 'cookie') continue
    headers[k] = v
  }
  const q = path.indexOf('?')
  return {
    method: 'GET',
    path: q === -1 ? path : path.slice(0, q),
    host: raw.headers.host ?? '',
    remoteAddress: raw.socket.remoteAddress ?? '',
    route,
    realm: policy.config.realm,
    headers,
  }
}
