/**
 * The work of one gatehouse route, as Fastify hooks run in order for every request to it:
 *
 *  1. `checkTarget` (preValidation): the path names this route and no other, the head is not
 *     ambiguous, a declared body fits the route's limit;
 *  2. `authenticate` (preHandler): the route's auth policy yields the identity, or a refusal
 *     (401/407 with the challenge, 403, 429, 5xx) is sent;
 *  3. `forward` (the handler): header hygiene, the body (limited as it streams), the target.
 *
 * A step that answers ends the request there: Fastify runs no later hook once a reply is sent.
 * The facts of the request (request-facts.ts) are read once, by the first step, the same way
 * over HTTP/1.x and HTTP/2.
 */
import { Readable } from 'node:stream'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { AuthConfig, RouteConfig } from './config/types.js'
import type { AuthPolicy } from './auth/policy.js'
import { answerVerdict, sendError, verifyRequest, type AuthVerdict } from './auth/fastify-auth.js'
import { refusalOf, type Refusal } from './auth/refusal.js'
import type { Identity, VerifierDeps } from './auth/verifier.js'
import { buildForwardHeaders, type ForwardHeaderOptions } from './proxy/forward-headers.js'
import { checkAuthorizationHeaders } from './proxy/request-target.js'
import type { RouteTable } from './proxy/path-rule.js'
import { gatewayInfo } from './proxy/gateway-info.js'
import { authorityMismatch, requestFacts, type RequestFacts } from './request-facts.js'
import type { TrustedProxies } from './proxy/trusted-proxies.js'
import type { Target } from './proxy/target.js'
import type { ProviderRegistry } from './providers/registry.js'
import { sendRefusal } from './error-page.js'
import { declaredTooLarge, limitBody, sendPayloadTooLarge } from './limits.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'
import type { FormSessions } from './session/index.js'

/** What the front adds to a Fastify request. */
export type GatehouseRequest = FastifyRequest & {
  user?: Identity
  gatehouseRoute: string
  gatehouseRefusal: Refusal | null
  /** Set by checkTarget; the later steps read it. */
  gatehouseFacts: RequestFacts | null
  bufferedBody?: Buffer
}

export interface RouteStepDeps {
  route: RouteConfig
  table: RouteTable<RouteConfig>
  /** Undefined: a route whose group is not running here answers 404 once authenticated. */
  target: Target | undefined
  providers: ProviderRegistry
  deps: VerifierDeps
  trusted: TrustedProxies
  /** Header names never taken from the client (strippedHeaderNames). */
  reserved: ReadonlySet<string>
  identityHeaders: { user: string; groups: string }
  bodyLimit: number
  /** The route's policy, one per route, shared with the form-login routes. */
  policyOf: (route: RouteConfig & { auth: AuthConfig }) => AuthPolicy
  /** Present when some route offers form login. */
  sessions?: FormSessions
  metrics?: GatewayMetrics
}

export interface RouteSteps {
  checkTarget(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>
  authenticate(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined>
  forward(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply>
}

/** The route's header hygiene, for a peer whose X-Forwarded-* are not trusted and for one whose are. */
export function forwardHeaderOptions(d: RouteStepDeps): {
  untrusted: ForwardHeaderOptions
  trusted: ForwardHeaderOptions
} {
  const untrusted: ForwardHeaderOptions = {
    reserved: d.reserved,
    userHeader: d.identityHeaders.user.toLowerCase(),
    groupsHeader: d.identityHeaders.groups.toLowerCase(),
    passAuthorization: d.route.auth ? d.route.auth.passAuthorization : true,
    trustForwarded: false,
  }
  return { untrusted, trusted: { ...untrusted, trustForwarded: true } }
}

/**
 * A verdict the fast path (front-fast-path.ts) reached on a request it then handed to Fastify:
 * the authenticate step answers it instead of verifying the request a second time.
 */
const verdicts = new WeakMap<object, AuthVerdict>()

export function handOverVerdict(raw: object, verdict: AuthVerdict): void {
  verdicts.set(raw, verdict)
}

function takeVerdict(raw: object): AuthVerdict | undefined {
  const verdict = verdicts.get(raw)
  if (verdict !== undefined) verdicts.delete(raw)
  return verdict
}

export function routeSteps(d: RouteStepDeps): RouteSteps {
  const { route } = d
  const { untrusted: fwd, trusted: fwdTrusted } = forwardHeaderOptions(d)

  return {
    async checkTarget(request, reply) {
      const r = request as GatehouseRequest
      const raw = request.raw
      r.gatehouseRoute = route.path
      const facts = requestFacts(raw)
      r.gatehouseFacts = facts
      const decision = d.table.decide(facts.target)
      if (!decision.ok) return badRequest(reply, decision.reason)
      // find-my-way reads the target its own way (it stops at `;` when told, decodes less): a route it picked that the rule did not is refused.
      if (decision.route !== route)
        return badRequest(reply, 'the path names another route than the one it was routed to')
      const problem = checkAuthorizationHeaders(raw.rawHeaders) ?? authorityMismatch(raw)
      if (problem) return badRequest(reply, problem)
      if (declaredTooLarge(raw.headers, d.bodyLimit)) {
        sendPayloadTooLarge(reply)
        return reply
      }
      return undefined
    },

    async authenticate(request, reply) {
      const auth = route.auth
      if (!auth) return undefined
      const r = request as GatehouseRequest
      // Built on the first request: the registry's providers start after the routes are declared.
      const policy = d.policyOf(route as RouteConfig & { auth: AuthConfig })
      const refreshing = d.providers.refresh(policy.chain)
      if (refreshing) await refreshing
      if (d.sessions?.forRoute(route)) {
        const session = await d.sessions.authenticate(request, reply, policy, route.path)
        if (session.kind === 'sent') return reply
        if (session.kind === 'ok') {
          r.user = session.identity
          return undefined
        }
      }
      const verdict = takeVerdict(request.raw) ?? (await verifyRequest(request.raw, policy, d.deps, route.path))
      const result = answerVerdict(request, reply, policy, d.deps, verdict)
      d.metrics?.auth(result.identity?.provider ?? auth.provider.join(','), result.outcome, result.reason)
      if (result.identity) r.user = result.identity
      if (result.outcome === 'ok') return undefined
      r.gatehouseRefusal = refusalOf(result, request.raw.headers[policy.requestHeader]) ?? null
      return reply
    },

    async forward(request, reply) {
      const r = request as GatehouseRequest
      const target = d.target
      if (!target) return sendRefusal(reply, 404, 'Not Found\n')
      const raw = request.raw
      const facts = r.gatehouseFacts ?? requestFacts(raw)
      const identity = r.user
      const headers = buildForwardHeaders(
        raw.headers,
        d.trusted.has(facts.remoteAddress) ? fwdTrusted : fwd,
        facts,
        identity,
      )
      const body = forwardBody(r, reply, headers, facts.hasBody, d.bodyLimit)
      try {
        const gateway = target.kind === 'group' ? gatewayInfo(route.path, raw, headers, identity) : undefined
        await target.forward(
          { method: facts.method, url: facts.target, headers, body, remoteAddress: facts.remoteAddress, gateway },
          reply,
        )
      } catch (err) {
        if (!reply.sent) sendError(reply, err)
      }
      return reply
    },
  }
}

/**
 * The body the target reads: one an earlier step buffered (its length stated, no longer
 * chunked), the client's stream under the route's body limit, or none.
 */
function forwardBody(
  r: GatehouseRequest,
  reply: FastifyReply,
  headers: Record<string, string | string[]>,
  hasBody: boolean,
  bodyLimit: number,
): Readable | null {
  const buffered = r.bufferedBody
  if (buffered) {
    delete headers['transfer-encoding']
    headers['content-length'] = String(buffered.length)
    return Readable.from([buffered])
  }
  if (!hasBody) return null
  return bodyLimit > 0 ? limitBody(r.raw, bodyLimit, () => tooLarge(reply)) : r.raw
}

export function badRequest(reply: FastifyReply, reason: string): FastifyReply {
  return sendRefusal(reply, 400, `Bad Request: ${reason}\n`)
}

/** A streamed body crossed the limit: 413 if nothing was answered yet, else the connection is cut. */
function tooLarge(reply: FastifyReply): void {
  reply.log.warn({ url: safeUrl(reply.request.raw.url) }, "request body over the route's bodyLimit")
  if (!reply.sent) sendPayloadTooLarge(reply)
  else reply.raw.destroy()
}

/** The path only: a query string may carry tokens that do not belong in logs. */
export function safeUrl(url: string | undefined): string {
  if (!url) return '/'
  const q = url.indexOf('?')
  return q === -1 ? url : `${url.slice(0, q)}?…`
}
