/**
 * A Digest request judged in the front alone, when it needs no provider: its HA1 is in the
 * cache (or a check that needs no user already refuses it). The judgment is the verifier's
 * (the same prelude, the same constant-time compare); what it leaves to the shared store is
 * one step, taken by the throttle gate: admit the attempt (lockout, in-flight budget), count a
 * wrong response as a failure, and for a matching one use the nonce count. So a Digest request
 * whose HA1 is cached costs one round trip to the primary or to Redis, not three.
 */
import { baseAlgorithm, type DigestCredentials } from './digest.js'
import type { NonceUse } from './throttle-store.js'
import {
  challenge,
  digestMatches,
  digestPrelude,
  digestSuccess,
  type AuthOutcome,
  type AuthRequest,
  type VerifierDeps,
} from './verifier.js'
import type { AuthPolicy } from './policy.js'

export type DigestJudgment =
  /** Decided without a nonce count: `failed` when the throttle counts it (a wrong response). */
  | { kind: 'decided'; outcome: AuthOutcome; failed: boolean }
  /** The response matched a fresh nonce: the outcome depends on whether its count is fresh. */
  | { kind: 'matched'; nonce: NonceUse; finish: (fresh: boolean) => Promise<AuthOutcome> }

/**
 * The judgment of a Digest request that needs no provider; undefined when it needs one (the HA1
 * is not cached, or a userhash must be looked up): then the usual path asks the provider.
 */
export async function judgeCachedDigest(
  policy: AuthPolicy,
  req: AuthRequest,
  creds: DigestCredentials | undefined,
  deps: VerifierDeps,
): Promise<DigestJudgment | undefined> {
  if (!creds) return decided({ kind: 'bad-request', reason: 'malformed Digest credentials' }, false)
  const nonceState = digestPrelude(policy, req, creds, deps)
  if (typeof nonceState !== 'string') return decided(nonceState, false)
  const cfg = policy.config
  if (creds.usernameIsHashed) return cfg.userhash ? undefined : decided(challenge('bad-password'), true)
  if (!cfg.cache.enabled) return undefined
  const user = creds.username
  const base = baseAlgorithm(creds.algorithm)
  // The entry verifier.ts's realmHash() stores once a response computed from it matched.
  const entry = deps.realmHashes.peek(deps.realmHashes.plainKey(policy.cacheId, 'ha1', base, user))
  if (entry === undefined) return undefined
  const [name, ha1] = entry.value.split('\0') as [string, string]
  const provider = policy.chain.find((p) => p.name === name)
  if (provider === undefined) return undefined
  const { match, bodyHash } = await digestMatches(req, creds, ha1)
  if (!match) return decided(challenge('bad-password', false, user), true)
  if (nonceState === 'stale') return decided(challenge('stale', true, user), false)
  return {
    kind: 'matched',
    nonce: { nonce: creds.nonce, nc: creds.nc },
    finish: (fresh) =>
      fresh
        ? digestSuccess(policy, req, creds, { user, provider, ha1, bodyHash }, deps)
        : Promise.resolve(challenge('replay', true, user)),
  }
}

function decided(outcome: AuthOutcome, failed: boolean): DigestJudgment {
  return { kind: 'decided', outcome, failed }
}
