/**
 * Puts the LoginThrottle around the verifier: a locked-out address or user is refused before any
 * provider is asked (so a refused guess costs no hash), failed logins are counted and answered
 * with a growing delay, and successes make the address known-good for the user.
 * Only a provider's "no" counts as a failure (wrong password, unknown user): a missing, malformed
 * or stale credential guesses nothing.
 */
import type { AddressMatcher } from '../proxy/trusted-proxies.js'
import type { AuthPolicy } from './policy.js'
import type { LoginThrottle, ThrottleScope } from './throttle.js'
import { authorize, cachedBasic, parseCredentials, verify, type AuthOutcome, type AuthRequest, type ParsedCredentials, type VerifierDeps } from './verifier.js'
import type { AuthContext } from '../providers/contract.js'

export interface ThrottleGate {
  throttle: LoginThrottle
  /** Addresses whose X-Forwarded-For names the client (config.trustedProxies). */
  trustedProxies: AddressMatcher
  /** How the growing delay waits; tests may replace it. */
  sleep?: (ms: number) => Promise<void>
}

export type ThrottledOutcome = { kind: 'throttled'; scope: ThrottleScope; retryAfterS: number }

export type GatedOutcome = AuthOutcome | ThrottledOutcome

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

export async function verifyThrottled(policy: AuthPolicy, req: AuthRequest, deps: VerifierDeps & { throttle?: ThrottleGate }): Promise<GatedOutcome> {
  const gate = deps.throttle
  if (gate === undefined || policy.config.throttle === false || req.credentials === undefined) return verify(policy, req, deps)
  // One look at the header: a cache hit needs no parsing (the entry knows the user it claimed),
  // a miss is parsed here once and the verifier reuses the parse.
  const hit = cachedBasic(policy, req.credentials, deps)
  const parsed = hit === undefined ? parseCredentials(req.credentials) : undefined
  const claimed = hit !== undefined ? hit.user : claimedUserOf(parsed)
  const address = requestAddress(req, gate.trustedProxies)
  const user = claimed === undefined ? undefined : `${policy.config.provider.join(',')}\0${claimed}`
  const decision = gate.throttle.check(user, address)
  if (decision.locked) {
    gate.throttle.emit('throttled', { scope: decision.scope, route: req.ctx.route, retryAfterS: decision.retryAfterS })
    return { kind: 'throttled', scope: decision.scope, retryAfterS: decision.retryAfterS }
  }
  const outcome = hit !== undefined ? authorize(policy, hit.identity) : await verify(policy, req, deps, parsed)
  if (outcome.kind === 'ok' || outcome.kind === 'forbidden') {
    if (user !== undefined) gate.throttle.recordSuccess(user, address)
  } else if (outcome.kind === 'challenge' && (outcome.reason === 'bad-password' || outcome.reason === 'unknown-user')) {
    const { delayMs } = gate.throttle.recordFailure(user, address)
    if (delayMs > 0) await (gate.sleep ?? defaultSleep)(delayMs)
  }
  return outcome
}

/** The user name a credentials header claims (Digest: as sent, a userhash stays hashed); undefined when malformed. */
export function claimedUser(credentials: string): string | undefined {
  return claimedUserOf(parseCredentials(credentials))
}

function claimedUserOf(parsed: ParsedCredentials | undefined): string | undefined {
  if (parsed?.scheme === 'basic') return parsed.creds?.user
  if (parsed?.scheme === 'digest') return parsed.creds?.username
  return undefined
}

/** clientAddress without building the request's context when the peer is not a trusted proxy. */
function requestAddress(req: AuthRequest, trusted: AddressMatcher): string {
  const peer = req.remoteAddress
  return peer !== undefined && !trusted.has(peer) ? peer : clientAddress(req.ctx, trusted)
}

/**
 * The client behind the connection: the peer, or when the peer is a trusted proxy, the
 * right-most X-Forwarded-For entry that is not one (entries left of it are client-forgeable).
 */
export function clientAddress(ctx: AuthContext, trusted: AddressMatcher): string {
  let address = ctx.remoteAddress
  if (!trusted.has(address)) return address
  const xff = ctx.headers['x-forwarded-for']
  const hops = (Array.isArray(xff) ? xff.join(',') : xff ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  while (hops.length > 0 && trusted.has(address)) address = hops.pop() as string
  return address
}
