/**
 * The forward-auth endpoint (`sidecar: { path }`): answers the sub-requests of nginx
 * `auth_request`, Traefik ForwardAuth, Caddy `forward_auth` and Envoy ext_authz (HTTP service).
 * It recovers the original request (original-request.ts), picks the route of the original URI
 * with the front's own path rule (proxy/path-rule.ts), and applies that route's policy:
 *  - 200 with the identity in the configured headers (a public route: 200 with them empty);
 *  - on a route offering form login, the session the Cookie header names first (session-check.ts):
 *    none, from a browser, gets the login page's Location (401 for nginx, 303 for the others);
 *  - 401 (407 for a proxy-mode route) with every challenge, Digest checked against the original URI;
 *  - 403 for a user outside `require`, a host refused by allowAccess, an original URI that
 *    matches no route, or a sub-request whose original URI is missing, untrusted or ambiguous;
 *  - 400 (403 with `refusedStatus: 403`) for malformed credentials, ambiguous Authorization
 *    headers or an original URI the front would refuse too (path-rule.ts);
 *  - 429 with Retry-After for a locked-out client or user (login throttling);
 *  - 5xx when a provider fails (Retry-After on 503): never a pass.
 */
import type { AddressMatcher } from '../proxy/trusted-proxies.js'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { AuthConfig, Config, RouteConfig } from '../config/types.js'
import { challengeHeaders, sendError, sendThrottled } from '../auth/fastify-auth.js'
import { makePolicy, type AuthPolicy } from '../auth/policy.js'
import { allowAccessChain } from '../auth/provider-chain.js'
import type { VerifierDeps } from '../auth/verifier.js'
import { verifyThrottled } from '../auth/throttle-gate.js'
import type { AuthContext } from '../providers/contract.js'
import type { ProviderRegistry } from '../providers/registry.js'
import { checkAuthorizationHeaders } from '../proxy/request-target.js'
import { RouteTable } from '../proxy/path-rule.js'
import type { FormSessions } from '../session/index.js'
import { withoutCookies } from '../session/cookies.js'
import { recoverOriginalRequest, type OriginalRequest } from './original-request.js'
import { answerSession } from './session-check.js'
import { allow, forbidden, noteRefusal, refuse, setUser, text } from './answers.js'

export interface SidecarDeps {
  config: Config
  providers: ProviderRegistry
  deps: VerifierDeps
  /** config.trustedProxies, shared with the front (one memo of answers per gateway). */
  trusted: AddressMatcher
  /** Counts the sidecar's auth decisions in gatehouse_auth_total, like the front's. */
  onAuth?: (provider: string, outcome: string, reason?: string) => void
  /** Present when some route offers form login: the front's sessions, so both judge the same cookie. */
  sessions?: FormSessions
}

/** Adds the endpoint's routes (`path` and Envoy's `path/*`) when the configuration has a sidecar. */
export function registerSidecar(
  app: FastifyInstance,
  { config, providers, deps, trusted, onAuth, sessions }: SidecarDeps,
): void {
  const sidecar = config.sidecar
  if (!sidecar) return
  const table = new RouteTable(config.routes)
  const policies = new Map<RouteConfig, AuthPolicy>()
  const policyOf = (route: RouteConfig, auth: AuthConfig): AuthPolicy => {
    let p = policies.get(route)
    if (!p) {
      // The sidecar never sees the body, so auth-int is not offered here (parseConfig made sure auth remains).
      p = makePolicy({ ...auth, qop: auth.qop.filter((q) => q !== 'auth-int') }, providers.chain(auth.provider))
      policies.set(route, p)
    }
    return p
  }

  const handler = async (request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> => {
    reply.header('cache-control', 'no-store')
    const raw = request.raw
    const recovered = recoverOriginalRequest(
      {
        method: raw.method ?? 'GET',
        url: raw.url ?? '/',
        headers: raw.headers,
        rawHeaders: raw.rawHeaders,
        remoteAddress: raw.socket.remoteAddress ?? '',
      },
      { path: sidecar.path, trustedProxies: trusted },
    )
    if (!recovered.ok) {
      request.log.warn(
        { reason: recovered.reason, detail: recovered.detail },
        'sidecar: refused, no trustworthy original request',
      )
      return forbidden(reply)
    }
    const original = recovered.request
    const decision = table.decide(original.uri)
    if (!decision.ok) return refuse(reply, sidecar, decision.reason)
    const problem = checkAuthorizationHeaders(raw.rawHeaders)
    if (problem) return refuse(reply, sidecar, problem)
    const route = decision.route
    if (!route) {
      request.log.info({ path: decision.path }, 'sidecar: the original URI matches no route')
      return forbidden(reply)
    }
    if (!route.auth) {
      // Empty identity headers: proxies that copy them (Envoy, nginx) then override or drop the client's copies.
      for (const name of [...sidecar.userHeaders, ...sidecar.groupsHeaders]) reply.header(name, '')
      return reply.code(200).send()
    }
    const policy = policyOf(route, route.auth)
    const refreshing = providers.refresh(policy.chain)
    if (refreshing) await refreshing
    return decide(request, reply, original, route, policy, deps, sidecar, onAuth, sessions)
  }

  // Envoy's check request keeps the original method (PROPFIND included): every method the app routes.
  for (const url of [sidecar.path, `${sidecar.path}/*`]) app.route({ method: app.supportedMethods, url, handler })
}

async function decide(
  request: FastifyRequest,
  reply: FastifyReply,
  original: OriginalRequest,
  route: RouteConfig,
  policy: AuthPolicy,
  deps: VerifierDeps,
  sidecar: NonNullable<Config['sidecar']>,
  onAuth?: SidecarDeps['onAuth'],
  sessions?: FormSessions,
): Promise<FastifyReply> {
  const ctx = contextOf(request, original, route, policy, sessions?.cookieNames)
  const denied = await checkAllowAccess(request, reply, policy, ctx)
  if (denied !== undefined) return denied
  if (sessions?.forRoute(route)) {
    const answered = await answerSession(request, reply, original, route, policy, sidecar, sessions)
    if (answered !== undefined) return answered
  }
  const credentials = request.raw.headers[policy.requestHeader]
  const outcome = await verifyThrottled(
    policy,
    {
      method: original.method,
      methodUnknown: !original.methodKnown,
      url: original.uri,
      host: original.host,
      credentials,
      ctx,
    },
    deps,
  )
  const identity = outcome.kind === 'ok' || outcome.kind === 'forbidden' ? outcome.identity : undefined
  const reason =
    outcome.kind === 'challenge'
      ? outcome.reason
      : outcome.kind === 'error'
        ? outcome.error.code
        : outcome.kind === 'bad-request'
          ? outcome.reason
          : undefined
  onAuth?.(identity?.provider ?? policy.config.provider.join(','), outcome.kind, reason)
  noteRefusal(
    request,
    { outcome: outcome.kind, ...(identity ? { identity } : {}), ...(reason !== undefined ? { reason } : {}) },
    credentials,
  )
  switch (outcome.kind) {
    case 'ok':
      if (outcome.authInfo) reply.header(policy.infoHeader, outcome.authInfo)
      return allow(request, reply, sidecar, outcome.identity)
    case 'challenge':
      reply.header(policy.challengeHeader, challengeHeaders(policy, deps.nonces, outcome.stale))
      return text(
        reply,
        policy.challengeStatus,
        policy.challengeStatus === 401 ? 'Unauthorized\n' : 'Proxy Authentication Required\n',
      )
    case 'forbidden':
      setUser(request, outcome.identity)
      return forbidden(reply)
    case 'bad-request':
      return refuse(reply, sidecar, outcome.reason)
    case 'error':
      sendError(reply, outcome.error)
      return reply
    case 'throttled':
      if (sidecar.throttledStatus === 403) {
        // nginx's auth_request passes only 401 and 403 on; a 429 would reach the client as 500.
        reply.header('retry-after', String(outcome.retryAfterS)).header('cache-control', 'no-store')
        return text(reply, 403, 'Forbidden: too many failed logins\n')
      }
      sendThrottled(reply, outcome.retryAfterS)
      return reply
  }
}

/** The chain's allowAccess (host-based access, mod_wsgi's): undefined when the host may go on to authenticate. */
async function checkAllowAccess(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: AuthPolicy,
  ctx: AuthContext,
): Promise<FastifyReply | undefined> {
  if (!policy.chain.some((p) => p.provider.allowAccess)) return undefined
  try {
    if (await allowAccessChain(policy.chain, ctx)) return undefined
    noteRefusal(request, { outcome: 'denied-host' }, undefined)
    return forbidden(reply)
  } catch (err) {
    noteRefusal(request, { outcome: 'error', reason: 'allow-access' }, undefined)
    sendError(reply, err)
    return reply
  }
}

function contextOf(
  request: FastifyRequest,
  original: OriginalRequest,
  route: RouteConfig,
  policy: AuthPolicy,
  sessionCookies: ReadonlySet<string> | undefined,
): AuthContext {
  const headers: AuthContext['headers'] = {}
  for (const [k, v] of Object.entries(request.raw.headers)) {
    // HTTP/2 pseudo-header fields are the sub-request's own request line, not the original request's fields.
    if (k === 'authorization' || k === 'proxy-authorization' || k.startsWith(':')) continue
    // The session cookies are credentials too: a provider never sees them.
    if (k === 'cookie' && sessionCookies !== undefined) {
      const rest = withoutCookies(v, sessionCookies)
      if (rest !== undefined) headers[k] = rest
    } else headers[k] = v
  }
  const q = original.uri.indexOf('?')
  return {
    method: original.method,
    path: q === -1 ? original.uri : original.uri.slice(0, q),
    host: original.host,
    remoteAddress: original.remoteAddress,
    route: route.path,
    realm: policy.config.realm,
    headers,
  }
}
