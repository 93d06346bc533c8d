/**
 * Decides one request against one route policy: which scheme the client used, whether the
 * credentials hold, who the user is and whether `require` admits them. Fastify-free; the
 * plugin turns the outcome into a response. Denials are values; provider failures come back
 * as { kind: 'error' } and become 5xx, never 401.
 */
import { isGatehouseError, errors, type GatehouseError } from '../errors.js'
import type { AuthContext, DigestAlgorithm } from '../providers/contract.js'
import { parseBasic } from './basic.js'
import { splitAuthorization } from './auth-header.js'
import {
  parseDigest,
  computeResponse,
  type DigestCredentials,
  authenticationInfo,
  digestUriMatches,
  baseAlgorithm,
} from './digest.js'
import { safeEqualPublicLength } from './compare.js'
import type { NonceManager } from './nonce.js'
import type { NonceCounts } from './nonce-counts.js'
import type { CredentialCache } from './credential-cache.js'
import {
  checkPasswordChain,
  realmHashChain,
  groupsOf,
  findUserByHashChain,
  type NamedProvider,
} from './provider-chain.js'
import { isAuthorized, type AuthPolicy } from './policy.js'
import type { ThrottleGate } from './throttle-gate-deps.js'

export interface Identity {
  user: string
  groups: string[]
  provider: string
}

/** Why a request was refused: logged and counted, never shown to the client beyond the status. */
export type DenyReason =
  'missing' | 'bad-password' | 'unknown-user' | 'realm' | 'algorithm' | 'stale' | 'invalid-nonce' | 'replay' | 'scheme'

export type AuthOutcome =
  | { kind: 'ok'; identity: Identity; authInfo?: string }
  | { kind: 'challenge'; reason: DenyReason; stale: boolean; user?: string }
  | { kind: 'forbidden'; identity: Identity }
  | { kind: 'bad-request'; reason: string }
  | { kind: 'error'; error: GatehouseError }

export interface AuthRequest {
  method: string
  /** The sidecar could not learn the original method: `limitExcept` then applies (fail closed). */
  methodUnknown?: boolean
  /** The request-target exactly as received (path and query). */
  url: string
  /**
   * The authority the request was sent to: its Host, or in the sidecar the original host the
   * proxy reports. A Digest `uri` in absolute form must name it; absent, such a `uri` is refused.
   */
  host?: string
  /** The credentials header value (Authorization or Proxy-Authorization), undefined when absent. */
  credentials: string | undefined
  /** Built on first use by callers that can (fastify-auth.ts): a cache hit never needs it. */
  ctx: AuthContext
  /** The peer address (ctx.remoteAddress), when the caller has it without building ctx. */
  remoteAddress?: string
  /** H(entity-body) for qop=auth-int, computed on demand by the caller (it owns the body). */
  bodyHash?: (algorithm: DigestAlgorithm) => Promise<string>
}

export interface VerifierDeps {
  nonces: NonceManager
  /** Where Digest nonce counts are kept when not in `nonces` (state.redis: shared by every instance). */
  nonceCounts?: NonceCounts
  identities: CredentialCache<Identity>
  realmHashes: CredentialCache<string>
  /** Brute-force throttling (throttle-gate.ts wraps verify with it); absent: off. */
  throttle?: ThrottleGate
}

/**
 * The credentials header read once per request: the throttle gate takes the claimed user from
 * it and the verifier the rest. `creds` is undefined when the scheme's part is malformed;
 * the whole value is undefined when the header itself is.
 */
export type ParsedCredentials =
  | { scheme: 'basic'; creds: { user: string; password: string } | undefined }
  | { scheme: 'digest'; creds: DigestCredentials | undefined }
  | { scheme: 'other' }

export function parseCredentials(value: string): ParsedCredentials | undefined {
  const parts = splitAuthorization(value)
  if (!parts) return undefined
  if (parts.scheme === 'basic') return { scheme: 'basic', creds: parseBasic(parts.rest) }
  if (parts.scheme === 'digest') return { scheme: 'digest', creds: parseDigest(parts.rest) }
  return { scheme: 'other' }
}

/** A Basic header this route already accepted (cache hit): the identity and the user name it claimed. */
export interface CachedBasic {
  identity: Identity
  user: string
}

/**
 * Looks the credentials header up in the identity cache before any parsing: Basic successes
 * are cached under a keyed hash of the whole header value, so a hit costs one hash.
 */
export function cachedBasic(policy: AuthPolicy, credentials: string, deps: VerifierDeps): CachedBasic | undefined {
  const key = cachedBasicKey(policy, credentials, deps)
  const e = key === undefined ? undefined : deps.identities.peek(key)
  return e === undefined ? undefined : { identity: e.value, user: e.subject ?? e.value.user }
}

/** The identity-cache key of a Basic header on a route that caches Basic successes; undefined on one that does not. */
export function cachedBasicKey(policy: AuthPolicy, credentials: string, deps: VerifierDeps): string | undefined {
  if (!policy.config.cache.enabled || !policy.config.scheme.includes('basic')) return undefined
  return basicKey(policy, credentials, deps)
}

/**
 * `parsed`: the header already parsed by the caller, which then also looked the cache up
 * (cachedBasic) and found nothing; when omitted, verify does both itself.
 */
export async function verify(
  policy: AuthPolicy,
  req: AuthRequest,
  deps: VerifierDeps,
  parsed?: ParsedCredentials,
): Promise<AuthOutcome> {
  try {
    if (req.credentials === undefined) return challenge('missing')
    if (parsed === undefined) {
      const hit = cachedBasic(policy, req.credentials, deps)
      if (hit !== undefined) return authorize(policy, hit.identity, methodOf(req))
    }
    const creds = parsed ?? parseCredentials(req.credentials)
    if (!creds) return { kind: 'bad-request', reason: 'malformed credentials header' }
    const offered = policy.config.scheme
    if (creds.scheme === 'basic' && offered.includes('basic')) return await verifyBasic(policy, req, creds.creds, deps)
    if (creds.scheme === 'digest' && offered.includes('digest'))
      return await verifyDigest(policy, req, creds.creds, deps)
    return challenge('scheme')
  } catch (err) {
    return failedOutcome(err)
  }
}

/** What a check that threw answers: a GatehouseError as it is (its status), anything else a provider failure (5xx). */
export function failedOutcome(err: unknown): AuthOutcome {
  return {
    kind: 'error',
    error: isGatehouseError(err)
      ? err
      : errors.GH_ERR_PROVIDER_FAILED('chain', (err as Error)?.name ?? 'error', { cause: err }),
  }
}

export function challenge(reason: DenyReason, stale = false, user?: string): AuthOutcome {
  return user === undefined ? { kind: 'challenge', reason, stale } : { kind: 'challenge', reason, stale, user }
}

/** The cache key of a Basic header: the raw value (never parsed, never stored) under the cache's keyed hash. */
/** The keyed hash of a Basic header, whatever the route's cache setting (the throttle joins identical checks in flight on it). */
export function basicKey(policy: AuthPolicy, credentials: string, deps: VerifierDeps): string {
  return deps.identities.key(policy.cacheId, 'basic-header', credentials)
}

async function verifyBasic(
  policy: AuthPolicy,
  req: AuthRequest,
  creds: { user: string; password: string } | undefined,
  deps: VerifierDeps,
): Promise<AuthOutcome> {
  if (!creds) return { kind: 'bad-request', reason: 'malformed Basic credentials' }
  const { identities } = deps
  let denial: DenyReason = 'bad-password'
  const load = async () => {
    const outcome = await checkPasswordChain(policy.chain, req.ctx, creds.user, creds.password)
    if (outcome.kind !== 'ok') {
      denial = outcome.kind
      return undefined
    }
    const groups = await groupsOf(outcome.provider, req.ctx, outcome.user)
    return {
      value: { user: outcome.user, groups, provider: outcome.provider.name },
      provider: outcome.provider.name,
      subject: creds.user,
    }
  }
  const identity = policy.config.cache.enabled
    ? await identities.through(basicKey(policy, req.credentials as string, deps), load, ttl(policy))
    : (await load())?.value
  if (!identity) return challenge(denial, false, creds.user)
  return authorize(policy, identity, methodOf(req))
}

async function verifyDigest(
  policy: AuthPolicy,
  req: AuthRequest,
  creds: DigestCredentials | undefined,
  deps: VerifierDeps,
): Promise<AuthOutcome> {
  if (!creds) return { kind: 'bad-request', reason: 'malformed Digest credentials' }
  const nonceState = digestPrelude(policy, req, creds, deps)
  if (typeof nonceState !== 'string') return nonceState
  const cfg = policy.config
  if (creds.usernameIsHashed && !cfg.userhash) return challenge('bad-password')

  const base = baseAlgorithm(creds.algorithm)
  const user = creds.usernameIsHashed
    ? await findUserByHashChain(policy.chain, req.ctx, creds.username, cfg.realm, base)
    : creds.username
  if (user === undefined) return challenge('unknown-user')
  const found = await realmHash(policy, req, user, base, deps)
  // Unknown users cost the same as wrong passwords: compute against a throwaway HA1.
  const ha1 = found?.ha1 ?? '0'.repeat(base === 'MD5' ? 32 : 64)
  const { match, bodyHash } = await digestMatches(req, creds, ha1)
  if (!found) return challenge('unknown-user', false, user)
  if (!match) return challenge('bad-password', false, user)
  found.remember?.()
  // The password was right; only the nonce is old or used: stale=true makes the client retry silently.
  if (nonceState === 'stale') return challenge('stale', true, user)
  const fresh = deps.nonceCounts
    ? await deps.nonceCounts.use(creds.nonce, creds.nc)
    : deps.nonces.useCount(creds.nonce, creds.nc)
  if (!fresh) return challenge('replay', true, user)
  return digestSuccess(policy, req, creds, { user, provider: found.provider, ha1, bodyHash }, deps)
}

/**
 * The checks of a Digest request that need no user: realm, algorithm, qop, the uri, opaque and
 * the nonce's MAC. A refusal, or the nonce's state ('valid' or 'stale').
 */
export function digestPrelude(
  policy: AuthPolicy,
  req: AuthRequest,
  creds: DigestCredentials,
  deps: VerifierDeps,
): AuthOutcome | 'valid' | 'stale' {
  const cfg = policy.config
  if (creds.realm !== cfg.realm) return challenge('realm')
  if (!cfg.algorithms.includes(creds.algorithm)) return challenge('algorithm')
  if (creds.qop === undefined || !cfg.qop.includes(creds.qop)) return challenge('algorithm')
  if (!digestUriMatches(creds.uri, req.url, req.host))
    return { kind: 'bad-request', reason: 'Digest uri does not match the request target' }
  // Every challenge carries opaque, which RFC 7616 §3.3 says the client MUST return unchanged
  // (a public value: its length tells nothing).
  if (creds.opaque === undefined || !safeEqualPublicLength(creds.opaque, deps.nonces.opaque(cfg.realm)))
    return challenge('invalid-nonce')
  const nonceState = deps.nonces.check(creds.nonce, cfg.realm)
  return nonceState === 'invalid' ? challenge('invalid-nonce') : nonceState
}

/** Whether the client's response is the one `ha1` gives (in constant time), and H(entity-body) for auth-int. */
export async function digestMatches(
  req: AuthRequest,
  creds: DigestCredentials,
  ha1: string,
): Promise<{ match: boolean; bodyHash: string | undefined }> {
  const bodyHash =
    creds.qop === 'auth-int' && req.bodyHash ? await req.bodyHash(baseAlgorithm(creds.algorithm)) : undefined
  const expected = computeResponse({
    algorithm: creds.algorithm,
    ha1,
    method: req.method,
    uri: creds.uri,
    nonce: creds.nonce,
    cnonce: creds.cnonce,
    nc: creds.nc,
    qop: creds.qop,
    bodyHash,
  })
  // Both are hex of the algorithm's length (parseDigest checked the client's): no length to hide.
  return { match: safeEqualPublicLength(expected, creds.response.toLowerCase()), bodyHash }
}

/** A Digest response that matched with a fresh nonce count: the identity, `require`, and Authentication-Info. */
export async function digestSuccess(
  policy: AuthPolicy,
  req: AuthRequest,
  creds: DigestCredentials,
  matched: { user: string; provider: NamedProvider; ha1: string; bodyHash: string | undefined },
  deps: VerifierDeps,
): Promise<AuthOutcome> {
  const identity = await digestIdentity(policy, req, matched.user, matched.provider, deps)
  const outcome = authorize(policy, identity, methodOf(req))
  if (outcome.kind !== 'ok') return outcome
  return {
    ...outcome,
    authInfo: authenticationInfo({
      algorithm: creds.algorithm,
      ha1: matched.ha1,
      uri: creds.uri,
      nonce: creds.nonce,
      cnonce: creds.cnonce,
      nc: creds.nc,
      qop: creds.qop,
      bodyHash: matched.bodyHash,
    }),
  }
}

/**
 * The user's HA1 from the chain, through the cache. A looked-up HA1 is cached only when
 * `remember()` is called, after a response computed from it matched: the cache holds
 * successes only, so guessing at a user name fills nothing.
 */
async function realmHash(
  policy: AuthPolicy,
  req: AuthRequest,
  user: string,
  algorithm: DigestAlgorithm,
  deps: VerifierDeps,
): Promise<{ ha1: string; provider: NamedProvider; remember?: () => void } | undefined> {
  // req.ctx is built on first use: a cache hit never builds it.
  if (!policy.config.cache.enabled) return realmHashChain(policy.chain, req.ctx, user, policy.config.realm, algorithm)
  let provider: NamedProvider | undefined
  const key = deps.realmHashes.plainKey(policy.cacheId, 'ha1', algorithm, user)
  const got = await deps.realmHashes.shared(key, async () => {
    const r = await realmHashChain(policy.chain, req.ctx, user, policy.config.realm, algorithm)
    if (!r) return undefined
    provider = r.provider
    return { value: `${r.provider.name}\0${r.ha1}`, provider: r.provider.name }
  })
  if (got === undefined) return undefined
  const [name, hash] = got.value.split('\0') as [string, string]
  provider ??= policy.chain.find((p) => p.name === name)
  if (provider === undefined) return undefined
  const remember = got.cached
    ? undefined
    : () => deps.realmHashes.set(key, got.value, got.provider, ttl(policy), user, got.epoch)
  return { ha1: hash, provider, ...(remember ? { remember } : {}) }
}

async function digestIdentity(
  policy: AuthPolicy,
  req: AuthRequest,
  user: string,
  np: NamedProvider,
  deps: VerifierDeps,
): Promise<Identity> {
  const load = async () => ({
    value: { user, groups: await groupsOf(np, req.ctx, user), provider: np.name },
    provider: np.name,
  })
  if (!policy.config.cache.enabled) return (await load()).value
  const key = deps.identities.plainKey(policy.cacheId, 'groups', np.name, user)
  return (await deps.identities.through(key, load, ttl(policy)))!
}

/** `require` (and `limitExcept` for the request's method) applied to an identity: ok, or forbidden. */
export function authorize(policy: AuthPolicy, identity: Identity, method: string | undefined): AuthOutcome {
  return isAuthorized(policy.config, identity.user, identity.groups, method)
    ? { kind: 'ok', identity }
    : { kind: 'forbidden', identity }
}

/** The method `limitExcept` judges: undefined (the stricter rule) when the caller could not learn it. */
export function methodOf(req: AuthRequest): string | undefined {
  return req.methodUnknown === true ? undefined : req.method
}

function ttl(policy: AuthPolicy): number | undefined {
  return policy.config.cache.ttlMs >= 0 ? policy.config.cache.ttlMs : undefined
}
