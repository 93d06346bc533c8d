/**
 * The front's fast path: the common request to an upstream route (HTTP/1.x, no body, a plain
 * path) is served from the HTTP server's 'request' listener, ahead of Fastify: no request and
 * reply objects, no router, no hook chain. It makes the checks of the route's steps
 * (route-steps.ts) with the same code: the path rule (the route table, matched once), duplicate
 * Authorization, the auth policy with the same verifier, throttle and cache, the same header
 * hygiene and identity headers, the same access line and metrics.
 *
 * Whatever it does not serve itself goes to Fastify untouched, and Fastify's steps answer it as
 * they always do: a request with a body (413, streaming limits), an unusual path (`%`, `;`: the
 * router and the path rule must agree), the limits hook's 431/503, HTTP/2, a closing front, and
 * every refusal. A request refused by the auth policy is handed over with the verdict reached
 * here, so it is verified (and counted by the throttle) once, and Fastify's authenticate step
 * sends the refusal page, the challenge and Retry-After as for any request.
 *
 * Hooks added to the Fastify app do not see the requests served here: the access line and the
 * metrics of server.ts's onResponse hook, and the limits of applyServerLimits's onRequest hook,
 * have their counterparts below. A per-request check added there needs one here too.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { AuthConfig, Config, RouteConfig } from './config/types.js'
import { verifyRequest, type AuthVerdict } from './auth/fastify-auth.js'
import type { Identity } from './auth/verifier.js'
import { buildForwardHeaders } from './proxy/forward-headers.js'
import { checkAuthorizationHeaders } from './proxy/request-target.js'
import type { RouteTable } from './proxy/path-rule.js'
import type { UpstreamTarget } from './proxy/upstream-target.js'
import { requestFacts, type FrontRequest, type RequestFacts } from './request-facts.js'
import { forwardHeaderOptions, handOverVerdict, safeUrl, type RouteStepDeps } from './route-steps.js'
import { writeRefusal } from './error-page.js'
import { accessLineWriter } from './log.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

export interface FastPathOptions {
  app: FastifyInstance
  config: Config
  table: RouteTable<RouteConfig>
  /** The upstream routes, with the deps their Fastify steps were built from. */
  routes: ReadonlyArray<{ deps: RouteStepDeps; target: UpstreamTarget }>
  /** The methods the routes answer (routedMethods): any other goes to Fastify's 404. */
  methods: readonly string[]
  /** True for a request the limits hook answers (applyServerLimits). */
  overLimits: (raw: FrontRequest) => boolean
  /** The access logger (accessLogger) and the request ids Fastify's requests get too. */
  access: Logger
  requestId: () => string
  metrics?: GatewayMetrics
  log: Logger
}

/**
 * Request ids in Fastify's own form (`req-` and a base-36 counter), shared by the fast path and
 * Fastify (its genReqId) so that the ids in the access lines stay one sequence.
 */
export function requestIds(): () => string {
  let next = 0
  return () => {
    next = (next + 1) & 0x7fffffff
    return `req-${next.toString(36)}`
  }
}

/**
 * Puts the fast path in front of Fastify's request listener on the app's server. Not over
 * HTTP/2 (its requests go to Fastify); a route the path of another Fastify route (login,
 * logout, the sidecar) falls under, or offering form login, is left to Fastify entirely.
 */
export function installFastPath(o: FastPathOptions): void {
  if (o.config.listen.http2) return
  const server = o.app.server as Server
  const listeners = server.listeners('request') as Handler[]
  if (listeners.length !== 1) return
  const fastify = listeners[0]!
  const routes = new Map<RouteConfig, FastRoute>()
  const others = otherRoutePaths(o.config)
  for (const { deps, target } of o.routes) {
    const route = deps.route
    if (deps.sessions?.forRoute(route) || others.some((p) => under(p, route.path))) continue
    routes.set(route, fastRoute(deps, target, fastify, o))
  }
  if (routes.size === 0) return
  const methods = new Set(o.methods)
  let closing = false
  // Fastify answers 503 to requests that arrive while it closes.
  o.app.addHook('preClose', (done) => {
    closing = true
    done()
  })
  server.removeAllListeners('request')
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (closing || !methods.has(req.method ?? '') || req.httpVersionMajor !== 1 || !plainPath(req.url ?? '')) {
      return fastify(req, res)
    }
    if (o.overLimits(req)) return fastify(req, res)
    const decision = o.table.decide(req.url ?? '/')
    const fast = decision.ok && decision.route !== undefined ? routes.get(decision.route) : undefined
    if (fast === undefined) return fastify(req, res)
    const facts = requestFacts(req)
    if (facts.hasBody || checkAuthorizationHeaders(req.rawHeaders) !== undefined) return fastify(req, res)
    fast(req, res, facts, performance.now())
  })
}

/** `start`: performance.now() when the request came in (the access line's ms, as Fastify's elapsedTime). */
type FastRoute = (req: IncomingMessage, res: ServerResponse, facts: RequestFacts, start: number) => void

function fastRoute(d: RouteStepDeps, target: UpstreamTarget, fastify: Handler, o: FastPathOptions): FastRoute {
  const { route } = d
  const fwd = forwardHeaderOptions(d)
  const accessLine = accessLineWriter(o.access)
  const forward = (
    req: IncomingMessage,
    res: ServerResponse,
    facts: RequestFacts,
    start: number,
    identity?: Identity,
  ): void => {
    const id = o.requestId()
    let logged = false
    const onDone = (): void => {
      if (logged) return
      logged = true
      const ms = performance.now() - start
      const status = res.statusCode
      o.metrics?.request(route.path, status, ms / 1000)
      accessLine({
        reqId: id,
        method: facts.method,
        url: safeUrl(facts.target),
        status,
        user: identity?.user ?? '-',
        remote: facts.remoteAddress,
        ms: Math.round(ms * 10) / 10,
      })
    }
    res.once('finish', onDone)
    res.once('error', onDone)
    const headers = buildForwardHeaders(
      req.headers,
      d.trusted.has(facts.remoteAddress) ? fwd.trusted : fwd.untrusted,
      facts,
      identity,
    )
    try {
      target.forwardTo(
        { method: facts.method, url: facts.target, headers, body: null, remoteAddress: facts.remoteAddress },
        res,
      )
    } catch (err) {
      o.log.error({ err, upstream: target.name }, 'forwarding to the upstream failed')
      if (!res.headersSent) writeRefusal(res, req.headers.accept, 500, 'Internal Server Error\n')
      else res.destroy()
    }
  }

  const auth = route.auth
  if (auth === undefined) return forward
  const withAuth = { ...route, auth } as RouteConfig & { auth: AuthConfig }
  const authenticate = async (
    req: IncomingMessage,
    res: ServerResponse,
    facts: RequestFacts,
    start: number,
  ): Promise<void> => {
    const policy = d.policyOf(withAuth)
    let verdict: AuthVerdict
    try {
      const refreshing = d.providers.refresh(policy.chain)
      if (refreshing) await refreshing
      verdict = await verifyRequest(req, policy, d.deps, route.path)
    } catch {
      // Not verified: Fastify's steps run the request from the start and answer what they meet.
      return fastify(req, res)
    }
    const outcome = verdict.kind === 'verified' ? verdict.outcome : undefined
    // Authentication-Info and an auth-int body need the reply Fastify builds; refusals its pages.
    if (outcome?.kind !== 'ok' || outcome.authInfo !== undefined || verdict.kind !== 'verified' || verdict.body) {
      handOverVerdict(req, verdict)
      return fastify(req, res)
    }
    d.metrics?.auth(outcome.identity.provider ?? auth.provider.join(','), 'ok', undefined)
    forward(req, res, facts, start, outcome.identity)
  }
  return (req, res, facts, start) => {
    void authenticate(req, res, facts, start)
  }
}

/** The paths of the front's other Fastify routes: a request under them must reach the router. */
function otherRoutePaths(config: Config): string[] {
  const paths: string[] = []
  if (config.routes.some((r) => r.auth?.scheme.includes('form')))
    paths.push(config.session.loginPath, config.session.logoutPath)
  if (config.sidecar) paths.push(config.sidecar.path)
  return paths
}

/** `path` is `prefix` or below it. */
function under(path: string, prefix: string): boolean {
  if (prefix === '/') return true
  return path === prefix || path.startsWith(`${prefix}/`)
}

/**
 * A target whose path has no `%` and no `;`: the router (find-my-way) and the path rule read it
 * the same way, so the route the rule picks is the route the router would run. Others go to
 * Fastify, whose checkTarget refuses a disagreement.
 */
function plainPath(url: string): boolean {
  for (let i = 0; i < url.length; i++) {
    const c = url.charCodeAt(i)
    if (c === 0x3f) return true
    if (c === 0x25 || c === 0x3b) return false
  }
  return true
}
