/**
 * Asks the providers of a route in order. The first provider that knows the user decides
 * (null means "no such user here, ask the next one"); a provider that throws ends the chain
 * with that error, so a broken provider can never be skipped into a pass (fail closed).
 * Return values are checked here too, because in-process providers have no host checking them.
 */
import { errors } from '../errors.js'
import { computeHA1 } from './digest.js'
import { safeEqual } from './compare.js'
import { RESULT_RULES, describeValue } from '../providers/result-rules.js'
import type { AuthContext, DigestAlgorithm, Provider, ProviderMethodName } from '../providers/contract.js'

export interface NamedProvider {
  readonly name: string
  readonly provider: Provider
}

export type PasswordOutcome =
  { kind: 'ok'; user: string; provider: NamedProvider } | { kind: 'bad-password' } | { kind: 'unknown-user' }

export async function checkPasswordChain(
  chain: readonly NamedProvider[],
  ctx: AuthContext,
  user: string,
  password: string,
): Promise<PasswordOutcome> {
  for (const np of chain) {
    const answer = await askPassword(np, ctx, user, password)
    if (answer === null) continue
    if (answer === false) return { kind: 'bad-password' }
    return { kind: 'ok', user: answer === true ? user : answer, provider: np }
  }
  return { kind: 'unknown-user' }
}

async function askPassword(
  np: NamedProvider,
  ctx: AuthContext,
  user: string,
  password: string,
): Promise<boolean | string | null> {
  const p = np.provider
  if (p.checkPassword) {
    return checked(
      np,
      'checkPassword',
      [ctx, user, password],
      await call(np, 'checkPassword', () => p.checkPassword!(ctx, user, password)),
    )
  }
  // A provider with realm hashes only (htdigest-like) still serves Basic: compare H(user:realm:password).
  if (p.getRealmHash) {
    const stored = await realmHashOf(np, ctx, user, ctx.realm, 'MD5')
    if (stored === null) return null
    return safeEqual(stored.toLowerCase(), computeHA1('MD5', user, ctx.realm, password))
  }
  return null
}

export async function realmHashChain(
  chain: readonly NamedProvider[],
  ctx: AuthContext,
  user: string,
  realm: string,
  algorithm: DigestAlgorithm,
): Promise<{ ha1: string; provider: NamedProvider } | undefined> {
  for (const np of chain) {
    const ha1 = await realmHashOf(np, ctx, user, realm, algorithm)
    if (ha1 !== null) return { ha1: ha1.toLowerCase(), provider: np }
  }
  return undefined
}

async function realmHashOf(
  np: NamedProvider,
  ctx: AuthContext,
  user: string,
  realm: string,
  algorithm: DigestAlgorithm,
): Promise<string | null> {
  if (!np.provider.getRealmHash) return null
  const args = [ctx, user, realm, algorithm] as const
  return checked(np, 'getRealmHash', args, await call(np, 'getRealmHash', () => np.provider.getRealmHash!(...args)))
}

export async function groupsOf(np: NamedProvider, ctx: AuthContext, user: string): Promise<string[]> {
  if (!np.provider.groupsForUser) return []
  return checked(
    np,
    'groupsForUser',
    [ctx, user],
    await call(np, 'groupsForUser', () => np.provider.groupsForUser!(ctx, user)),
  )
}

/** RFC 7616 userhash: the first provider that can map H(user:realm) back to a user name. */
export async function findUserByHashChain(
  chain: readonly NamedProvider[],
  ctx: AuthContext,
  userhash: string,
  realm: string,
  algorithm: DigestAlgorithm,
): Promise<string | undefined> {
  for (const np of chain) {
    if (!np.provider.findUserByHash) continue
    const v = checked(
      np,
      'findUserByHash',
      [ctx, userhash, realm, algorithm],
      await call(np, 'findUserByHash', () => np.provider.findUserByHash!(ctx, userhash, realm, algorithm)),
    )
    if (v !== null) return v
  }
  return undefined
}

/** Host-based access (WSGIAccessScript): the first provider with an opinion decides. */
export async function allowAccessChain(chain: readonly NamedProvider[], ctx: AuthContext): Promise<boolean> {
  for (const np of chain) {
    if (!np.provider.allowAccess) continue
    const v = checked(
      np,
      'allowAccess',
      [ctx, ctx.host],
      await call(np, 'allowAccess', () => np.provider.allowAccess!(ctx, ctx.host)),
    )
    if (v !== null) return v
  }
  return true
}

async function call<T>(np: NamedProvider, method: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn()
  } catch (err) {
    if (
      err &&
      typeof err === 'object' &&
      typeof (err as { code?: unknown }).code === 'string' &&
      String((err as { code: string }).code).startsWith('GH_ERR_')
    )
      throw err
    // The message of an arbitrary provider error may echo its arguments; keep only its class name.
    throw errors.GH_ERR_PROVIDER_FAILED(np.name, `${method} threw ${(err as Error)?.name ?? typeof err}`, {
      cause: err,
    })
  }
}

/** The contract's return types, checked here too: in-process providers have no host checking them. */
function checked<T>(np: NamedProvider, method: ProviderMethodName, args: readonly unknown[], value: T): T {
  const rule = RESULT_RULES[method]
  if (rule.valid(value, args)) return value
  throw errors.GH_ERR_PROVIDER_BAD_RESULT(np.name, describeValue(value), method, rule.expected)
}
