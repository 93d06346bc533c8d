/**
 * gatehouseAuth: a Fastify plugin (fastify-plugin wrapped, so it protects the context it is
 * registered in and every route there, the 404 handler included) that answers Basic and/or
 * Digest against any provider, the way gatehouse's front does: 401 with one challenge per
 * scheme and algorithm, 403 outside `require`, 5xx (never a pass) when a provider fails.
 * A route opts out with `config: { auth: false }`. Authenticated requests carry
 * `request.user` and `request.groups` (types: `import type {} from 'gatehouse-auth/fastify-request'`,
 * or identityOf(request)).
 */
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import fp from 'fastify-plugin'
import type { DigestAlgorithmName } from '../auth/digest.js'
import { authenticateRequest } from '../auth/fastify-auth.js'
import { makePolicy } from '../auth/policy.js'
import type { Identity } from '../auth/verifier.js'
import type { AuthConfig, Scheme } from '../config/types.js'
import { sendRefusal } from '../error-page.js'
import { errors } from '../errors.js'
import { providerLog } from '../providers/registry.js'
import {
  checkAlgorithms,
  checkLimitExcept,
  checkMaxHeaderFields,
  checkRealm,
  checkRequire,
  checkSchemes,
  dropCachedOnChange,
  makeCaches,
  makeDeps,
  makeNonces,
  makeThrottle,
  type CommonAuthOptions,
  type RequireOption,
} from './auth-options.js'
import { rememberIdentity } from './identity.js'
import { resolveProviders, type ProviderSpec } from './provider-spec.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** gatehouseAuth: false leaves this route public. */
    auth?: boolean
  }
}

export interface GatehouseAuthOptions extends CommonAuthOptions {
  /** `basic` (default), `digest`, or both: the challenges are sent in that order. */
  scheme?: Scheme | Scheme[]
  /** One provider or a chain asked in order (null from one asks the next). */
  provider: ProviderSpec | ProviderSpec[]
  /** HMAC secret of the stateless Digest nonces (16+ bytes). Default: random per process. */
  digestSecret?: string | Buffer
  /** Digest algorithms offered, strongest first (default SHA-256, MD5). */
  algorithms?: DigestAlgorithmName[]
  /** Accept RFC 7616 hashed user names (default false). */
  userhash?: boolean
  /** Proxy authentication: Proxy-Authorization, Proxy-Authenticate, 407 (default false). */
  proxy?: boolean
  /** Digest nonce lifetime in ms (default 300000). */
  nonceTtlMs?: number
  /**
   * Apache's `<LimitExcept>`: a method not in `methods` must satisfy this `require` as well as the
   * plugin's own (403 otherwise). GET brings HEAD with it.
   */
  limitExcept?: { methods: string[]; require: RequireOption }
  /** Most header fields in a request (Apache's LimitRequestFields); more get 431 before any check. Default 100; false: no limit. */
  maxHeaderFields?: number | false
}

const plugin: FastifyPluginAsync<GatehouseAuthOptions> = async (
  fastify: FastifyInstance,
  opts: GatehouseAuthOptions,
) => {
  if (opts === null || typeof opts !== 'object')
    throw errors.GH_ERR_OPT_INVALID('gatehouseAuth needs options { realm, provider }')
  const scheme = checkSchemes(opts.scheme)
  const digest = scheme.includes('digest')
  const providers = resolveProviders(opts.provider, {
    baseDir: opts.baseDir ?? process.cwd(),
    log: providerLog(fastify.log as never),
    digest,
  })
  const limitExcept = checkLimitExcept(opts.limitExcept)
  const maxRawHeaders = (checkMaxHeaderFields(opts.maxHeaderFields) ?? Infinity) * 2
  const caches = makeCaches(opts.cache)
  dropCachedOnChange(providers, caches)
  const config: AuthConfig = {
    scheme,
    realm: checkRealm(opts.realm),
    provider: providers.chain.map((p) => p.name),
    require: checkRequire(opts.require),
    ...(limitExcept ? { limitExcept } : {}),
    algorithms: checkAlgorithms(opts.algorithms),
    // auth-int would need the body before the route's own parser reads it: not offered here.
    qop: ['auth'],
    userhash: opts.userhash === true,
    proxy: opts.proxy === true,
    passAuthorization: true,
    cache: { enabled: caches.enabled, ttlMs: -1 },
    throttle: opts.throttle !== false,
  }
  if (digest && opts.digestSecret === undefined)
    fastify.log.warn('gatehouseAuth: digestSecret is not set: nonces are signed with a per-process key')
  const deps = makeDeps(makeNonces(opts.digestSecret, opts.nonceTtlMs), caches, makeThrottle(opts))
  const policy = makePolicy(config, providers.chain)

  fastify.addHook('onClose', async () => providers.close())
  await providers.start().catch(async (err: unknown) => {
    await providers.close()
    throw err
  })

  // `as never`: with the opt-in types (gatehouse-auth/fastify-request) in the program, null is not their type.
  if (!fastify.hasRequestDecorator('user')) fastify.decorateRequest('user', null as never)
  if (!fastify.hasRequestDecorator('groups')) fastify.decorateRequest('groups', null as never)

  fastify.addHook('onRequest', async (request, reply) => {
    // Before any check: Node keeps only its first maxHeadersCount fields, so a longer head is refused, not trimmed.
    if (request.raw.rawHeaders.length > maxRawHeaders)
      return sendRefusal(reply.header('connection', 'close'), 431, 'Request Header Fields Too Large\n')
    const fields = request as FastifyRequest & { user: string | null; groups: string[] | null }
    if (request.routeOptions.config?.auth === false) {
      fields.user = null
      fields.groups = []
      return
    }
    const result = await authenticateRequest(request, reply, policy, deps, request.routeOptions.url ?? '')
    if (result.outcome !== 'ok' || !result.identity) return reply
    setIdentity(fields, result.identity)
    return undefined
  })
}

function setIdentity(
  request: FastifyRequest & { user: string | null; groups: string[] | null },
  identity: Identity,
): void {
  request.user = identity.user
  request.groups = identity.groups
  rememberIdentity(request, identity)
}

export const gatehouseAuth = fp(plugin, { fastify: '5.x', name: 'gatehouse-auth' })
export default gatehouseAuth
