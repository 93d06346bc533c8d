/**
 * The login and logout endpoints of the form routes (session.loginPath, session.logoutPath):
 *  GET  login:  the page, with a CSRF token bound to a fresh pre-session cookie;
 *  POST login:  token checked, credentials checked as Basic ones of the route the return path
 *               names (same throttle, chain, require), then a new session id and a 303 back;
 *  GET  logout: a page asking to confirm (a link or a prefetch never logs anyone out);
 *  POST logout: token bound to the session checked, the session ended server-side, cookie cleared.
 * All answers carry Cache-Control: no-store.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { RouteConfig } from '../config/types.js'
import type { AuthPolicy } from '../auth/policy.js'
import type { Identity, VerifierDeps } from '../auth/verifier.js'
import { verifyThrottled } from '../auth/throttle-gate.js'
import { sendError, sendThrottled, type AuthResult } from '../auth/fastify-auth.js'
import { refusalOf, type Refusal } from '../auth/refusal.js'
import { sendRefusal } from '../error-page.js'
import type { RouteTable } from '../proxy/path-rule.js'
import { cookieValue } from './cookies.js'
import { CsrfTokens } from './csrf.js'
import { readFormBody } from './form-body.js'
import { basicHeader, basicPolicyOf, formAuthRequest, formCredentialsUsable } from './form-credentials.js'
import { LoginPage, logoutPage, PAGE_CSP } from './login-page.js'
import { forceNoStore } from './no-store.js'
import { safeReturnPath } from './return-to.js'
import { isSessionId } from './session-token.js'
import type { Sessions } from './sessions.js'

export interface LoginRoutesOptions {
  sessions: Sessions
  table: RouteTable<RouteConfig>
  /** The routes whose scheme lists form, in configuration order: the first is where a login without a return path goes. */
  formRoutes: readonly RouteConfig[]
  /** The route's policy (its provider chain resolved), made once per route. */
  policyOf: (route: RouteConfig) => AuthPolicy
  /** Lets daemon-group providers notice a reload before they are asked (ProviderRegistry.refresh). */
  refresh: (policy: AuthPolicy) => Promise<void> | undefined
  deps: VerifierDeps
  page: LoginPage
  onAuth?: (provider: string, outcome: string, reason?: string) => void
}

const WRONG = 'The user name or the password is wrong.'

type LoggedRequest = FastifyRequest & { user?: Identity; gatehouseRoute: string; gatehouseRefusal: Refusal | null }

export function registerLoginRoutes(app: FastifyInstance, o: LoginRoutesOptions): void {
  const { sessions, table } = o
  const { loginPath } = sessions.config
  const forms = new Set(o.formRoutes)
  const isForm = (r: RouteConfig): boolean => forms.has(r)
  const fallback = o.formRoutes[0]!.path
  const returnOf = (value: string | null | undefined): string => safeReturnPath(value, table, isForm) ?? fallback

  const showLogin = (request: FastifyRequest, reply: FastifyReply, status: number, returnTo: string, error: string) =>
    showLoginPage(o, { request, reply, status, returnTo, error })

  app.get(loginPath, async (request, reply) => {
    forceNoStore(reply.raw)
    ;(request as LoggedRequest).gatehouseRoute = loginPath
    const query = new URL(request.raw.url ?? '/', 'http://gatehouse.invalid').searchParams
    return showLogin(request, reply, 200, returnOf(query.get('return')), '')
  })

  app.post(loginPath, async (request, reply) => {
    forceNoStore(reply.raw)
    const r = request as LoggedRequest
    r.gatehouseRoute = loginPath
    const raw = request.raw
    const body = await readFormBody(raw)
    if (!body.ok) return sendRefusal(reply, body.status, `${body.reason}\n`)
    const f = body.fields
    if (
      !sessions.csrf.check('login', cookieValue(raw.headers.cookie, sessions.preCookieName), f.get('csrf') ?? undefined)
    ) {
      r.gatehouseRefusal = { reason: 'malformed' }
      return sendRefusal(
        reply,
        403,
        'Forbidden: the sign-in form has expired or was not sent from this site; load it again\n',
      )
    }
    const returnTo = returnOf(f.get('return'))
    const route = (table.decide(returnTo) as { route: RouteConfig }).route
    const policy = o.policyOf(route)
    const user = f.get('username') ?? ''
    const password = f.get('password') ?? ''
    if (!formCredentialsUsable(user, password)) {
      r.gatehouseRefusal = { reason: 'malformed' }
      return showLogin(request, reply, 401, returnTo, WRONG)
    }
    const refreshing = o.refresh(policy)
    if (refreshing) await refreshing
    const credentials = basicHeader(user, password)
    const outcome = await verifyThrottled(
      basicPolicyOf(policy),
      formAuthRequest(raw, route.path, policy, credentials, returnTo),
      o.deps,
    )
    const result = authResultOf(outcome)
    o.onAuth?.(result.identity?.provider ?? route.auth!.provider.join(','), result.outcome, result.reason)
    r.gatehouseRefusal = refusalOf(result, credentials) ?? null
    return answerLogin(outcome, {
      request: r,
      reply,
      sessions,
      user,
      password,
      policy,
      returnTo,
      showLogin: (status) => showLogin(request, reply, status, returnTo, WRONG),
    })
  })

  registerLogoutRoutes(app, sessions)
}

/** The login form (status 200, or 400/401 with the error), with a CSRF token bound to the pre-session cookie. */
function showLoginPage(
  o: LoginRoutesOptions,
  a: { request: FastifyRequest; reply: FastifyReply; status: number; returnTo: string; error: string },
): FastifyReply {
  const { sessions, table } = o
  const { request, reply, status, returnTo, error } = a
  const { loginPath, logoutPath } = sessions.config
  const raw = request.raw
  let pre = cookieValue(raw.headers.cookie, sessions.preCookieName)
  if (pre === undefined || !isSessionId(pre)) {
    pre = CsrfTokens.preSession()
    reply.header('set-cookie', sessions.preCookie(pre, raw))
  }
  const route = table.decide(returnTo).ok ? (table.decide(returnTo) as { route?: RouteConfig }).route : undefined
  const html = o.page.render({
    action: loginPath,
    csrf: sessions.csrf.token('login', pre),
    returnTo,
    realm: route?.auth?.realm ?? '',
    error,
    logoutAction: logoutPath,
  })
  return page(reply, status, html)
}

type LoginOutcome = Awaited<ReturnType<typeof verifyThrottled>>

/** The verifier's outcome as the metrics and the access log count it. */
function authResultOf(outcome: LoginOutcome): AuthResult {
  switch (outcome.kind) {
    case 'ok':
    case 'forbidden':
      return { outcome: outcome.kind, identity: outcome.identity }
    case 'challenge':
      return { outcome: 'challenge', reason: outcome.reason }
    case 'throttled':
      return { outcome: 'throttled', reason: outcome.scope }
    case 'error':
      return { outcome: 'error', reason: outcome.error.code }
    default:
      return { outcome: 'bad-request', reason: outcome.reason }
  }
}

/** A login's answer: a session and a 303 back, a 403, the form again with the error, or a 429/5xx. */
async function answerLogin(
  outcome: LoginOutcome,
  a: {
    request: LoggedRequest
    reply: FastifyReply
    sessions: Sessions
    user: string
    password: string
    policy: AuthPolicy
    returnTo: string
    showLogin: (status: number) => FastifyReply
  },
): Promise<FastifyReply> {
  const { request: r, reply, sessions } = a
  const raw = r.raw
  switch (outcome.kind) {
    case 'ok': {
      r.user = outcome.identity
      let id: string
      try {
        id = await sessions.start(outcome.identity, a.user, a.password, a.policy.cacheId, sessions.idOf(raw.headers))
      } catch (err) {
        // The store (Redis) could not keep the session: no cookie, a 503 with Retry-After.
        sendError(reply, err)
        return reply
      }
      reply.header('set-cookie', [sessions.sessionCookie(id, raw), sessions.clearPreCookie(raw)])
      return reply.code(303).header('location', a.returnTo).type('text/plain; charset=utf-8').send('See Other\n')
    }
    case 'forbidden':
      r.user = outcome.identity
      return sendRefusal(reply, 403, 'Forbidden\n')
    case 'challenge':
      return a.showLogin(401)
    case 'bad-request':
      return a.showLogin(400)
    case 'throttled':
      sendThrottled(reply, outcome.retryAfterS)
      return reply
    case 'error':
      sendError(reply, outcome.error)
      return reply
  }
}

/** GET logout asks to confirm (a link or a prefetch never logs anyone out); POST logout ends the session. */
function registerLogoutRoutes(app: FastifyInstance, sessions: Sessions): void {
  const { loginPath, logoutPath } = sessions.config
  app.get(logoutPath, async (request, reply) => {
    forceNoStore(reply.raw)
    ;(request as LoggedRequest).gatehouseRoute = logoutPath
    const live = await sessions.lookup(request.raw.headers)
    return page(
      reply,
      200,
      logoutPage({
        action: logoutPath,
        csrf: live === undefined ? undefined : sessions.csrf.token('logout', live.record.key),
      }),
    )
  })

  app.post(logoutPath, async (request, reply) => {
    forceNoStore(reply.raw)
    const r = request as LoggedRequest
    r.gatehouseRoute = logoutPath
    const raw = request.raw
    const body = await readFormBody(raw)
    if (!body.ok) return sendRefusal(reply, body.status, `${body.reason}\n`)
    const live = await sessions.lookup(raw.headers)
    if (live !== undefined) {
      if (!sessions.csrf.check('logout', live.record.key, body.fields.get('csrf') ?? undefined)) {
        r.gatehouseRefusal = { reason: 'malformed', user: live.record.user }
        return sendRefusal(
          reply,
          403,
          'Forbidden: the sign-out form has expired or was not sent from this site; load it again\n',
        )
      }
      await sessions.end(live.record)
      r.user = { user: live.record.user, groups: live.record.groups, provider: live.record.provider }
    }
    reply.header('set-cookie', sessions.clearSessionCookie(raw))
    return reply.code(303).header('location', loginPath).type('text/plain; charset=utf-8').send('See Other\n')
  })
}

function page(reply: FastifyReply, status: number, html: string): FastifyReply {
  return reply
    .code(status)
    .type('text/html; charset=utf-8')
    .header('content-security-policy', PAGE_CSP)
    .header('x-content-type-options', 'nosniff')
    .header('x-frame-options', 'DENY')
    .header('referrer-policy', 'same-origin')
    .send(html)
}
