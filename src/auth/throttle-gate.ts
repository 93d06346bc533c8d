/**
 * Puts the LoginThrottle around the verifier: a locked-out address or user is refused before any
 * provider is asked (so a refused guess costs no hash), every attempt that will ask a provider
 * holds a slot of the limits while it is in flight (so parallel guesses cannot outrun the count),
 * failed logins are counted and answered with a growing delay, and successes make the address
 * known-good for the user. Only a provider's "no" counts as a failure (wrong password, unknown
 * user): a missing, malformed or stale credential guesses nothing. A credential-cache hit asks
 * no provider and is let through an address lockout (LoginThrottle.checkCached says when).
 */
import type { AddressMatcher } from './address-matcher.js'
import type { AuthPolicy } from './policy.js'
import type {
  AttemptResult,
  BeginDecision,
  JudgedAttempt,
  JudgedDecision,
  NonceUse,
  ThrottleScope,
} from './throttle.js'
import type { CredentialCache } from './credential-cache.js'
import {
  authorize,
  basicKey,
  failedOutcome,
  methodOf,
  cachedBasic,
  cachedBasicKey,
  parseCredentials,
  verify,
  type AuthOutcome,
  type AuthRequest,
  type Identity,
  type ParsedCredentials,
  type VerifierDeps,
} from './verifier.js'
import type { AuthContext } from '../providers/contract.js'
import type { ThrottleGate } from './throttle-gate-deps.js'
import { judgeCachedDigest, type DigestJudgment } from './digest-cached.js'
import type { DigestCredentials } from './digest.js'

export type { ThrottleGate }

export type ThrottledOutcome = { kind: 'throttled'; scope: ThrottleScope; retryAfterS: number }

export type GatedOutcome = AuthOutcome | ThrottledOutcome

const defaultSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * Basic headers being checked right now, per identity cache, by cache key: an identical header
 * arriving meanwhile waits for that answer instead of taking a slot of its own (a browser's
 * parallel requests after a restart are one login, and one provider call, not many).
 */
const checking = new WeakMap<CredentialCache<Identity>, Map<string, Promise<AuthOutcome>>>()

/** A Basic header the cache answers: the lockout still applies, and the success is recorded. */
function cachedBasicOutcome(
  policy: AuthPolicy,
  req: AuthRequest,
  gate: ThrottleGate,
  user: string,
  address: string,
  identity: Identity,
): GatedOutcome {
  const decision = gate.throttle.checkCached(user, address)
  if (decision.locked) return throttled(gate, req, decision.scope, decision.retryAfterS)
  gate.throttle.recordSuccess(user, address)
  return authorize(policy, identity, methodOf(req))
}

/**
 * A Digest request that needs no provider is judged here and admitted in one step: it is not
 * checked one after the other with the user's other requests (see admitJudged). Undefined when
 * it needs the provider.
 */
async function cachedDigestOutcome(
  policy: AuthPolicy,
  req: AuthRequest,
  creds: DigestCredentials | undefined,
  deps: VerifierDeps & { throttle?: ThrottleGate },
  gate: ThrottleGate,
  user: string | undefined,
  address: string,
): Promise<GatedOutcome | undefined> {
  let judged: DigestJudgment | undefined
  try {
    judged = await judgeCachedDigest(policy, req, creds, deps)
  } catch (err) {
    return failedOutcome(err)
  }
  return judged === undefined ? undefined : admitJudged(gate, req, user, address, judged, deps)
}

export async function verifyThrottled(
  policy: AuthPolicy,
  req: AuthRequest,
  deps: VerifierDeps & { throttle?: ThrottleGate },
): Promise<GatedOutcome> {
  const gate = deps.throttle
  const credentials = req.credentials
  if (gate === undefined || policy.config.throttle === false || credentials === undefined)
    return verify(policy, req, deps)
  const address = requestAddress(req, gate.trustedProxies)
  const scope = policy.config.provider.join(',')
  for (;;) {
    // One look at the header: a cache hit needs no parsing (the entry knows the user it claimed),
    // a miss is parsed here once and the verifier reuses the parse.
    const hit = cachedBasic(policy, credentials, deps)
    if (hit !== undefined) return cachedBasicOutcome(policy, req, gate, `${scope}\0${hit.user}`, address, hit.identity)
    const parsed = parseCredentials(credentials)
    const claimed = claimedUserOf(parsed)
    const user = claimed === undefined ? undefined : `${scope}\0${claimed}`
    if (parsed?.scheme === 'digest' && policy.config.scheme.includes('digest')) {
      const admitted = await cachedDigestOutcome(policy, req, parsed.creds, deps, gate, user, address)
      if (admitted !== undefined) return admitted
    }
    const key = parsed?.scheme === 'basic' ? cachedBasicKey(policy, credentials, deps) : undefined
    // Identical headers in flight share one check on a route without the cache too: otherwise a
    // client's parallel requests (32 connections, one password) would fill the in-flight limit
    // and get 429 with nothing guessed. `key` alone (caching routes) also counts a repeated
    // refused password once against its user.
    const joined =
      key ?? (parsed?.scheme === 'basic' ? basicKey(policy, credentials, deps) : digestJoinKey(scope, parsed))
    const pending = joined === undefined ? undefined : pendingOf(deps.identities)
    const same = joined === undefined ? undefined : pending?.get(joined)
    if (same !== undefined) {
      const first = await same
      // Digest: the first check fetched the user's realm hash; each request's own response is
      // then judged in turn (one slot at a time per user, whatever the client's parallelism).
      if (parsed?.scheme === 'digest') continue
      // The same wrong password again is the same guess: its answer, no second count. Anything
      // else (a success now cached, an error) is looked at afresh.
      if (isFailure(first)) return first
      // Without the cache, a success just checked in flight is shared too, but authorized for
      // this request's own method (limitExcept), never copied.
      if (key === undefined && user !== undefined && (first.kind === 'ok' || first.kind === 'forbidden')) {
        gate.throttle.recordSuccess(user, address)
        return authorize(policy, first.identity, methodOf(req))
      }
      continue
    }
    // Joined before begin, which may wait on a shared store: an identical header arriving
    // meanwhile waits for this check instead of taking a slot of its own.
    let settled: (outcome: AuthOutcome) => void = () => {}
    if (joined !== undefined)
      pending?.set(
        joined,
        new Promise<AuthOutcome>((resolve) => {
          settled = resolve
        }),
      )
    let outcome: AuthOutcome = { kind: 'challenge', reason: 'missing', stale: false }
    let begun: BeginDecision
    try {
      const beginning = gate.throttle.begin(user, address, key)
      begun = beginning instanceof Promise ? await beginning : beginning
    } catch (err) {
      if (joined !== undefined) pending?.delete(joined)
      settled(outcome)
      throw err
    }
    if (begun.locked) {
      // The waiters look again (not a failure): they meet the same refusal in begin.
      if (joined !== undefined) pending?.delete(joined)
      settled(outcome)
      return throttled(gate, req, begun.scope, begun.retryAfterS)
    }
    let result: AttemptResult = 'neutral'
    let delayMs = 0
    try {
      outcome = await verify(policy, req, deps, parsed)
      result =
        outcome.kind === 'ok' || outcome.kind === 'forbidden' ? 'success' : isFailure(outcome) ? 'failure' : 'neutral'
    } finally {
      // Settled before the waiters wake, so they see the count this attempt left.
      const settling = gate.throttle.settle(begun.attempt, result)
      delayMs = (settling instanceof Promise ? await settling : settling).delayMs
      if (joined !== undefined) {
        pending?.delete(joined)
        settled(outcome)
      }
    }
    if (delayMs > 0) await (gate.sleep ?? defaultSleep)(delayMs)
    return outcome
  }
}

/**
 * A Digest request judged without a provider (digest-cached.ts): one step of the throttle's store
 * admits it or refuses it (429), counts a wrong response as a failure, and for a matching one
 * uses the nonce count, so that a shared store is asked once. It takes no in-flight slot for any
 * time: the judgment is already made, and admitting and counting it are one atomic step, so
 * parallel wrong responses cannot outrun the count (each is counted, or refused, before its
 * answer leaves). That is why these requests need not be checked one after the other.
 */
async function admitJudged(
  gate: ThrottleGate,
  req: AuthRequest,
  user: string | undefined,
  address: string,
  judged: DigestJudgment,
  deps: VerifierDeps,
): Promise<GatedOutcome> {
  const attempt: JudgedAttempt =
    judged.kind === 'matched' ? { failed: false, nonce: judged.nonce } : { failed: judged.failed }
  const shared = deps.nonceCounts
  const useNonce = shared
    ? (u: NonceUse) => shared.use(u.nonce, u.nc)
    : (u: NonceUse) => deps.nonces.useCount(u.nonce, u.nc)
  let decision: JudgedDecision
  try {
    const deciding = gate.throttle.admit(user, address, attempt, useNonce, shared?.withThrottle === true)
    decision = deciding instanceof Promise ? await deciding : deciding
  } catch (err) {
    return failedOutcome(err)
  }
  if (decision.locked) return throttled(gate, req, decision.scope, decision.retryAfterS)
  let outcome: AuthOutcome
  try {
    outcome = judged.kind === 'matched' ? await judged.finish(decision.fresh === true) : judged.outcome
  } catch (err) {
    outcome = failedOutcome(err)
  }
  if (user !== undefined && (outcome.kind === 'ok' || outcome.kind === 'forbidden'))
    gate.throttle.recordSuccess(user, address)
  if (decision.effect.delayMs > 0) await (gate.sleep ?? defaultSleep)(decision.effect.delayMs)
  return outcome
}

/**
 * Parallel Digest requests of one user whose HA1 is not cached carry different responses but ask
 * the provider the same thing (the realm hash): they are checked one after the other, so a
 * client's many connections after a restart take one slot of the in-flight limit, not one each
 * (which got them 429). Once the first has cached the HA1, the others are judged without it.
 */
function digestJoinKey(scope: string, parsed: ParsedCredentials | undefined): string | undefined {
  if (parsed?.scheme !== 'digest' || parsed.creds === undefined) return undefined
  return `\0digest\0${scope}\0${parsed.creds.realm}\0${parsed.creds.usernameIsHashed ? 'h' : 'u'}\0${parsed.creds.username}`
}

function throttled(gate: ThrottleGate, req: AuthRequest, scope: ThrottleScope, retryAfterS: number): ThrottledOutcome {
  gate.throttle.emit('throttled', { scope, route: req.ctx.route, retryAfterS })
  return { kind: 'throttled', scope, retryAfterS }
}

function isFailure(outcome: AuthOutcome): boolean {
  return outcome.kind === 'challenge' && (outcome.reason === 'bad-password' || outcome.reason === 'unknown-user')
}

function pendingOf(cache: CredentialCache<Identity>): Map<string, Promise<AuthOutcome>> {
  let m = checking.get(cache)
  if (m === undefined) {
    m = new Map()
    checking.set(cache, m)
  }
  return m
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
  const hops = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  while (hops.length > 0 && trusted.has(address)) address = hops.pop() as string
  return address
}
