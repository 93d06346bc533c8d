/**
 * The public API of the `gatehouse` package. Exports only: see docs/library.md.
 * Helpers for apps inside daemon groups are the separate entry `gatehouse-auth/app`.
 */

// The gateway: configuration, front server, daemon groups.
export { parseConfig, type ParseOptions } from './config/parse.js'
export { loadConfigFile } from './config/load-file.js'
export { createGatehouse, type Gatehouse, type GatehouseOptions } from './server.js'
export { runGateway, type RunningGateway, type RunOptions } from './gateway.js'
export { Supervisor, type SupervisorOptions, type SupervisorState } from './daemon/supervisor.js'
export type { GroupHandle } from './daemon/group.js'
export type {
  AuthConfig,
  Config,
  GroupConfig,
  ProviderConfig,
  RouteConfig,
  Scheme,
  SidecarConfig,
} from './config/types.js'

// The library: a Fastify plugin, a @fastify/basic-auth validate function.
export { gatehouseAuth, type GatehouseAuthOptions } from './library/fastify-plugin.js'
export {
  createBasicAuthValidate,
  type BasicAuthValidate,
  type BasicAuthValidateOptions,
} from './library/basic-auth-validate.js'
export { identityOf } from './library/identity.js'
export type { BuiltinProviderSpec, ModuleProviderSpec, ProviderSpec } from './library/provider-spec.js'
export type { CacheOptions, RequireOption } from './library/auth-options.js'

// The protocol on its own: parse, challenge, verify.
export { parseBasic, formatBasic, basicChallenge } from './auth/basic.js'
export {
  parseDigest,
  computeHA1,
  computeResponse,
  computeRspauth,
  authenticationInfo,
  digestUriMatches,
  userhash,
  type DigestAlgorithmName,
  type DigestCredentials,
  type DigestQop,
  type DigestResponseParams,
} from './auth/digest.js'
export { digestChallenges, type DigestChallengeParams } from './auth/challenge.js'
export { splitAuthorization } from './auth/auth-header.js'
export { NonceManager, type NonceManagerOptions, type NonceCheck } from './auth/nonce.js'
export { CredentialCache, type CredentialCacheOptions } from './auth/credential-cache.js'
export { makePolicy, isAuthorized, type AuthPolicy } from './auth/policy.js'
export {
  verify,
  type AuthOutcome,
  type AuthRequest,
  type DenyReason,
  type Identity,
  type VerifierDeps,
} from './auth/verifier.js'
export type { NamedProvider } from './auth/provider-chain.js'
export { safeEqual } from './auth/compare.js'

// Providers.
export {
  defineProvider,
  type AuthContext,
  type DigestAlgorithm,
  type Provider,
  type ProviderEnv,
  type ProviderFactory,
  type ProviderLog,
  type ProviderModuleExport,
} from './providers/contract.js'
export { ThreadProvider, type ThreadProviderOptions } from './providers/thread-pool.js'
export { GroupProvider, type GroupProviderOptions } from './providers/group-provider.js'

// Errors.
export { errors, GatehouseError, isGatehouseError, type ErrorCode, type ErrorFactory } from './errors.js'
