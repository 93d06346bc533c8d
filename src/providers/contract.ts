/**
 * The provider contract (DESIGN.md). "Denied" is a value; only a technical failure throws.
 *  - checkPassword: true valid, false wrong password, null no such user (next provider is asked),
 *    a non-empty string: valid, and that string is the canonical user name from here on.
 *  - getRealmHash: hex H(user:realm:password) for the algorithm, or null when unknown.
 *  - groupsForUser: the user's groups.
 *  - allowAccess: host-based access before credentials; true go on, false 403, null no opinion.
 */
export type DigestAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256'

/** The contract's methods by name: what a daemon group's CALL may name and a worker reports having. */
export const PROVIDER_METHODS = [
  'checkPassword',
  'getRealmHash',
  'groupsForUser',
  'allowAccess',
  'findUserByHash',
] as const
export type ProviderMethodName = (typeof PROVIDER_METHODS)[number]

export interface AuthContext {
  method: string
  path: string
  host: string
  remoteAddress: string
  route: string
  realm: string
  /** Request headers, lower-cased names, without Authorization / Proxy-Authorization. */
  headers: Record<string, string | string[] | undefined>
}

export interface Provider {
  checkPassword?(ctx: AuthContext, user: string, password: string): Promise<boolean | string | null>
  getRealmHash?(ctx: AuthContext, user: string, realm: string, algorithm: DigestAlgorithm): Promise<string | null>
  groupsForUser?(ctx: AuthContext, user: string): Promise<string[]>
  allowAccess?(ctx: AuthContext, host: string): Promise<boolean | null>
  /**
   * RFC 7616 userhash: the user whose H(user:realm) (hex, in the algorithm) is `userhash`, or
   * null. Optional: without it, hashed user names are unknown users.
   */
  findUserByHash?(ctx: AuthContext, userhash: string, realm: string, algorithm: DigestAlgorithm): Promise<string | null>
  /** Releases files, databases and timers. Optional. */
  close?(): Promise<void> | void
}

/** What a provider module's default export may be: the object, or an async factory given its options. */
export type ProviderFactory<O = Record<string, unknown>> = (
  options: O,
  env: ProviderEnv,
) => Provider | Promise<Provider>
export type ProviderModuleExport<O = Record<string, unknown>> = Provider | ProviderFactory<O>

/** Handed to provider factories: where relative paths resolve from and where to log. */
export interface ProviderEnv {
  /** Directory relative paths in options resolve against (the config file's directory). */
  baseDir: string
  /** Name of the provider in the configuration. */
  name: string
  log: ProviderLog
  /**
   * Tells the front that this provider's answers may have changed (a file it serves from was
   * re-read): the credential cache drops the entries this provider answered, so a removed user
   * or a changed password is refused at once instead of when the cached entry expires. Cheap and
   * idempotent; call it after the new data is in force, never before. Optional in the type
   * because a host may have nothing to empty (call it as `env.changed?.()`); the loader always
   * hands factories a function.
   */
  changed?(): void
}

export interface ProviderLog {
  info(msg: string, fields?: Record<string, unknown>): void
  warn(msg: string, fields?: Record<string, unknown>): void
  error(msg: string, fields?: Record<string, unknown>): void
}

/** Type helper for provider authors: `export default defineProvider(async (opts) => ({ ... }))`. */
export function defineProvider<O = Record<string, unknown>>(factory: ProviderFactory<O>): ProviderFactory<O> {
  return factory
}
