/**
 * The options the Fastify plugin and the @fastify/basic-auth adapter share, validated at
 * construction (every error names the option) and turned into what the verifier needs:
 * a route-like AuthConfig, a nonce manager and the credential caches.
 */
import { TrustedProxies } from '../proxy/trusted-proxies.js'
import { parseThrottle, type RawThrottle } from '../config/hardening.js'
import { loginThrottleFrom } from '../auth/throttle.js'
import type { ThrottleGate } from '../auth/throttle-gate.js'
import { randomBytes } from 'node:crypto'
import type { AuthConfig, Scheme } from '../config/types.js'
import type { DigestAlgorithmName } from '../auth/digest.js'
import { CredentialCache } from '../auth/credential-cache.js'
import { NonceManager } from '../auth/nonce.js'
import type { Identity, VerifierDeps } from '../auth/verifier.js'
import { errors } from '../errors.js'
import { DEFAULTS, defaultMs } from '../config/defaults.js'

export type RequireOption = 'valid-user' | { users?: string[]; groups?: string[] }

export interface CacheOptions {
  /** Default 300000 (5 minutes). */
  ttlMs?: number
  /** Default 10000. */
  maxEntries?: number
}

export interface CommonAuthOptions {
  /** The realm (protection space); also ctx.realm for providers. */
  realm: string
  /** `valid-user` (default), `{ users }` and/or `{ groups }` (groups: authenticated AND in one of them). */
  require?: RequireOption
  /** false turns the credential cache off. */
  cache?: false | CacheOptions
  /** Relative provider paths (files, databases, modules) resolve against it. Default process.cwd(). */
  baseDir?: string
  /**
   * Brute-force throttling of failed logins, as the gateway's `throttle:` section (same keys and
   * defaults: on). false turns it off.
   */
  throttle?: false | RawThrottle
  /** Addresses whose X-Forwarded-For names the client, for the throttle. Default none. */
  trustedProxies?: string[]
}

const ALGORITHMS: readonly DigestAlgorithmName[] = [
  'MD5',
  'MD5-sess',
  'SHA-256',
  'SHA-256-sess',
  'SHA-512-256',
  'SHA-512-256-sess',
]
const REALM_RE = /^[^"\\\x00-\x1f\x7f]{1,200}$/

export function checkRealm(realm: unknown): string {
  if (typeof realm !== 'string' || !REALM_RE.test(realm))
    throw errors.GH_ERR_OPT_INVALID(
      `realm must be 1 to 200 characters without quotes, backslashes or control characters, got ${typeof realm === 'string' ? JSON.stringify(realm) : typeof realm}`,
    )
  return realm
}

export function checkSchemes(scheme: unknown): Scheme[] {
  const list = scheme === undefined ? ['basic'] : Array.isArray(scheme) ? scheme : [scheme]
  if (list.length === 0 || list.some((s) => s !== 'basic' && s !== 'digest') || new Set(list).size !== list.length) {
    throw errors.GH_ERR_OPT_INVALID(`scheme must be "basic", "digest" or a list of both, got ${JSON.stringify(scheme)}`)
  }
  return list as Scheme[]
}

export function checkRequire(r: unknown): AuthConfig['require'] {
  if (r === undefined || r === 'valid-user') return {}
  const o = r as { users?: unknown; groups?: unknown }
  const names = (v: unknown) =>
    v === undefined || (Array.isArray(v) && v.every((x) => typeof x === 'string' && x !== ''))
  if (
    r === null ||
    typeof r !== 'object' ||
    !names(o.users) ||
    !names(o.groups) ||
    Object.keys(r).some((k) => k !== 'users' && k !== 'groups')
  ) {
    throw errors.GH_ERR_OPT_INVALID('require must be "valid-user" or { users?: string[], groups?: string[] }')
  }
  return {
    ...(o.users ? { users: [...(o.users as string[])] } : {}),
    ...(o.groups ? { groups: [...(o.groups as string[])] } : {}),
  }
}

const METHOD_RE = /^[A-Z][A-Z-]{0,31}$/

/** Apache's `<LimitExcept>`: `{ methods, require }`; GET brings HEAD with it, as in the gateway's routes. */
export function checkLimitExcept(l: unknown): AuthConfig['limitExcept'] {
  if (l === undefined) return undefined
  const o = l as { methods?: unknown; require?: unknown }
  if (
    l === null ||
    typeof l !== 'object' ||
    !Array.isArray(o.methods) ||
    o.methods.length === 0 ||
    o.methods.some((m) => typeof m !== 'string' || !METHOD_RE.test(m)) ||
    o.require === undefined
  ) {
    throw errors.GH_ERR_OPT_INVALID(
      'limitExcept must be { methods: string[] (upper case, e.g. ["GET", "OPTIONS"]), require: "valid-user" | { users?, groups? } }',
    )
  }
  const methods = o.methods as string[]
  return {
    methods: methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : [...methods],
    require: checkRequire(o.require),
  }
}

/** Apache's LimitRequestFields, as the gateway's `limits.maxHeaderFields`: 1 to 1000, default 100; false turns it off. */
export function checkMaxHeaderFields(v: unknown): number | undefined {
  if (v === false) return undefined
  if (v === undefined) return 100
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 1000)
    throw errors.GH_ERR_OPT_INVALID(`maxHeaderFields must be an integer from 1 to 1000 or false, got ${String(v)}`)
  return v
}

export function checkAlgorithms(a: unknown): DigestAlgorithmName[] {
  if (a === undefined) return ['SHA-256', 'MD5']
  if (!Array.isArray(a) || a.length === 0 || a.some((x) => !ALGORITHMS.includes(x)) || new Set(a).size !== a.length) {
    throw errors.GH_ERR_OPT_INVALID(`algorithms must list distinct values among ${ALGORITHMS.join(', ')}`)
  }
  return [...a]
}

function positive(name: string, v: unknown, fallback: number, allowZero = false): number {
  if (v === undefined) return fallback
  if (typeof v !== 'number' || !Number.isInteger(v) || v < (allowZero ? 0 : 1))
    throw errors.GH_ERR_OPT_INVALID(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got ${String(v)}`,
    )
  return v
}

export function makeCaches(cache: unknown): {
  enabled: boolean
  identities: CredentialCache<Identity>
  realmHashes: CredentialCache<string>
} {
  if (cache !== undefined && cache !== false && (cache === null || typeof cache !== 'object'))
    throw errors.GH_ERR_OPT_INVALID('cache must be false or { ttlMs?, maxEntries? }')
  const c = (cache || {}) as CacheOptions
  const ttlMs = positive('cache.ttlMs', c.ttlMs, defaultMs('cache.ttl'))
  const maxEntries = positive('cache.maxEntries', c.maxEntries, DEFAULTS['cache.maxEntries'], true)
  return {
    enabled: cache !== false,
    identities: new CredentialCache<Identity>({ maxEntries, ttlMs }),
    realmHashes: new CredentialCache<string>({ maxEntries, ttlMs }),
  }
}

/** The nonce secret: given (16+ bytes; share it between instances), or random per process. */
export function makeNonces(secret: unknown, nonceTtlMs: unknown): NonceManager {
  if (secret !== undefined && typeof secret !== 'string' && !Buffer.isBuffer(secret))
    throw errors.GH_ERR_OPT_INVALID('digestSecret must be a string or Buffer of at least 16 bytes')
  return new NonceManager({
    secret: (secret as string | Buffer | undefined) ?? randomBytes(32),
    ttlMs: positive('nonceTtlMs', nonceTtlMs, defaultMs('digest.nonceTtl')),
  })
}

/** A provider that re-read its file drops its cached successes: a removed user is out at once. */
export function dropCachedOnChange(
  providers: { onChanged(listener: (name: string) => void): void },
  caches: ReturnType<typeof makeCaches>,
): void {
  providers.onChanged((name) => {
    caches.identities.clearProvider(name)
    caches.realmHashes.clearProvider(name)
  })
}

export function makeDeps(
  nonces: NonceManager,
  caches: ReturnType<typeof makeCaches>,
  throttle?: ThrottleGate,
): VerifierDeps & { throttle?: ThrottleGate } {
  return { nonces, identities: caches.identities, realmHashes: caches.realmHashes, ...(throttle ? { throttle } : {}) }
}

/** The login throttle of the library entry points; undefined when turned off. */
export function makeThrottle(opts: Pick<CommonAuthOptions, 'throttle' | 'trustedProxies'>): ThrottleGate | undefined {
  if (opts.throttle === false) return undefined
  const t = parseThrottle(opts.throttle)
  if (!t.enabled) return undefined
  return { throttle: loginThrottleFrom(t), trustedProxies: trustedProxiesOption(opts.trustedProxies) }
}

/** The library's `trustedProxies` option: addresses and CIDR ranges; a bad entry is GH_ERR_OPT_INVALID naming it. */
function trustedProxiesOption(entries: string[] | undefined): TrustedProxies {
  try {
    return new TrustedProxies(entries ?? [])
  } catch (err) {
    throw errors.GH_ERR_OPT_INVALID((err as Error).message)
  }
}
