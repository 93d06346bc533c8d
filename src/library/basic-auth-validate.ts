/**
 * For apps that already use @fastify/basic-auth: a `validate` function backed by any gatehouse
 * provider, with the credential cache (identical concurrent checks collapse into one provider
 * call) and `require`. It honours that plugin's contract: it resolves to let the request on and
 * throws to deny — an error with statusCode 401 for wrong credentials (the plugin then adds its
 * WWW-Authenticate), 403 outside `require`, 5xx when a provider fails (never a pass).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { formatBasic } from '../auth/basic.js'
import { makePolicy } from '../auth/policy.js'
import { verifyThrottled } from '../auth/throttle-gate.js'
import type { AuthConfig } from '../config/types.js'
import { errors } from '../errors.js'
import { authorityOf } from '../request-facts.js'
import type { AuthContext, ProviderLog } from '../providers/contract.js'
import {
  checkRealm,
  checkRequire,
  dropCachedOnChange,
  makeCaches,
  makeDeps,
  makeNonces,
  makeThrottle,
  type CommonAuthOptions,
} from './auth-options.js'
import { rememberIdentity } from './identity.js'
import { resolveProviders, type ProviderSpec } from './provider-spec.js'

export interface BasicAuthValidateOptions extends Partial<CommonAuthOptions> {
  /** Where provider threads log. Default: nowhere. */
  log?: ProviderLog
}

export type BasicAuthValidate = ((
  username: string,
  password: string,
  req: FastifyRequest,
  reply: FastifyReply,
) => Promise<void>) & {
  /** Stops the provider threads it started (call it from an onClose hook). Idempotent. */
  close(): Promise<void>
}

const silent: ProviderLog = { info() {}, warn() {}, error() {} }

export function createBasicAuthValidate(
  provider: ProviderSpec | ProviderSpec[],
  opts: BasicAuthValidateOptions = {},
): BasicAuthValidate {
  const providers = resolveProviders(provider, {
    baseDir: opts.baseDir ?? process.cwd(),
    log: opts.log ?? silent,
    digest: false,
  })
  const caches = makeCaches(opts.cache)
  dropCachedOnChange(providers, caches)
  const realm = checkRealm(opts.realm ?? 'gatehouse')
  const config: AuthConfig = {
    scheme: ['basic'],
    realm,
    provider: providers.chain.map((p) => p.name),
    require: checkRequire(opts.require),
    algorithms: ['SHA-256'],
    qop: ['auth'],
    userhash: false,
    proxy: false,
    passAuthorization: true,
    cache: { enabled: caches.enabled, ttlMs: -1 },
    throttle: opts.throttle !== false,
  }
  const policy = makePolicy(config, providers.chain)
  const deps = makeDeps(makeNonces(undefined, undefined), caches, makeThrottle(opts))

  const validate = async (
    username: string,
    password: string,
    req: FastifyRequest,
    reply: FastifyReply,
  ): Promise<void> => {
    let credentials: string
    try {
      credentials = formatBasic(username, password)
    } catch {
      throw errors.GH_ERR_AUTH_DENIED()
    }
    await providers.start()
    const outcome = await verifyThrottled(
      policy,
      {
        method: req.raw.method ?? 'GET',
        url: req.raw.url ?? '/',
        credentials,
        remoteAddress: req.raw.socket.remoteAddress ?? '',
        ctx: contextOf(req, realm, req.routeOptions.url ?? ''),
      },
      deps,
    )
    switch (outcome.kind) {
      case 'ok':
        rememberIdentity(req, outcome.identity)
        return
      case 'forbidden':
        throw errors.GH_ERR_AUTH_FORBIDDEN()
      case 'error':
        throw outcome.error
      case 'throttled':
        reply.header('retry-after', String(outcome.retryAfterS))
        throw errors.GH_ERR_AUTH_THROTTLED(outcome.retryAfterS)
      default:
        throw errors.GH_ERR_AUTH_DENIED()
    }
  }
  return Object.assign(validate, { close: () => providers.close() })
}

function contextOf(req: FastifyRequest, realm: string, route: string): AuthContext {
  const headers: AuthContext['headers'] = {}
  for (const [k, v] of Object.entries(req.raw.headers))
    if (k !== 'authorization' && k !== 'proxy-authorization' && !k.startsWith(':')) headers[k] = v
  const url = req.raw.url ?? '/'
  const q = url.indexOf('?')
  return {
    method: req.raw.method ?? 'GET',
    path: q === -1 ? url : url.slice(0, q),
    host: authorityOf(req.raw) ?? '',
    remoteAddress: req.raw.socket.remoteAddress ?? '',
    route,
    realm,
    headers,
  }
}
