/**
 * The session step of a form route, one call from the route handler before Basic/Digest:
 *  - a live session of this route's realm and chain: its identity, if `require` admits it (else 403);
 *  - none, and the client is a browser without credentials (Accept names text/html): 303 to the
 *    login page with the page it asked for;
 *  - none, and the route offers Basic or Digest: 'pass' (the challenges follow, as on any route);
 *  - none on a form-only route for a non-browser: 401.
 * Every response of a form route carries Cache-Control: no-store.
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import { authorize, verify, type Identity, type VerifierDeps } from '../auth/verifier.js'
import type { AuthPolicy } from '../auth/policy.js'
import { sendError } from '../auth/fastify-auth.js'
import { sendRefusal, wantsHtml } from '../error-page.js'
import type { Refusal } from '../auth/refusal.js'
import { errors, isGatehouseError } from '../errors.js'
import { forceNoStore } from './no-store.js'
import { withoutCookies } from './cookies.js'
import { basicHeader, basicPolicyOf, formAuthRequest } from './form-credentials.js'
import { openCredential } from './session-token.js'
import type { LiveSession, Sessions } from './sessions.js'

export type SessionStep =
  | { kind: 'ok'; identity: Identity }
  | { kind: 'pass' }
  /** A response was sent (redirect, 401, 403, 5xx); the request's access line says why. */
  | { kind: 'sent' }

/** Confirmations in flight, by record key: a page's parallel requests after a change share one. */
const confirming = new Map<string, Promise<'ok' | 'ended'>>()

export async function authenticateSession(
  request: FastifyRequest,
  reply: FastifyReply,
  policy: AuthPolicy,
  sessions: Sessions,
  deps: VerifierDeps,
  route: string,
): Promise<SessionStep> {
  const raw = request.raw
  forceNoStore(reply.raw)
  const cookies = { cookie: raw.headers.cookie }
  let live: LiveSession | undefined
  try {
    live = await liveSession(request, policy, sessions, deps, route, raw.url ?? '/')
  } catch (err) {
    sendError(
      reply,
      isGatehouseError(err)
        ? err
        : errors.GH_ERR_PROVIDER_FAILED('session', (err as Error)?.name ?? 'error', { cause: err }),
    )
    return refused(request, 'provider-error')
  }
  if (live !== undefined) {
    const { user, groups, provider } = live.record
    const outcome = authorize(policy, { user, groups, provider }, raw.method ?? 'GET')
    if (outcome.kind === 'ok') return { kind: 'ok', identity: outcome.identity }
    sendRefusal(reply, 403, 'Forbidden\n')
    return refused(request, 'forbidden', { user, groups, provider })
  }
  const offersHeaders = policy.config.scheme.some((s) => s !== 'form')
  const browser = raw.headers[policy.requestHeader] === undefined && wantsHtml(raw.headers.accept)
  if (offersHeaders && !browser) return { kind: 'pass' }
  // A cookie that named no live session is dropped, so the browser stops sending it.
  if (sessions.idOf(cookies) !== undefined) reply.header('set-cookie', sessions.clearSessionCookie(raw))
  if (browser) {
    reply
      .code(303)
      .header('location', sessions.loginLocation(raw.url ?? '/'))
      .type('text/plain; charset=utf-8')
      .send('See Other: sign in first\n')
  } else {
    sendRefusal(reply, 401, 'Unauthorized\n')
  }
  return refused(request, 'no-credentials')
}

/**
 * The request's live session for this policy: of its realm and chain, confirmed with its
 * provider when that provider's data changed since. The session cookies are gatehouse's
 * credentials, as Authorization is: they are taken out of the request's Cookie header here, so
 * neither the app nor a provider's context sees them. Throws when a provider fails (fail closed).
 * `path` is the page the session is used for (the original URI, for the sidecar).
 */
export async function liveSession(
  request: FastifyRequest,
  policy: AuthPolicy,
  sessions: Sessions,
  deps: VerifierDeps,
  route: string,
  path: string,
): Promise<LiveSession | undefined> {
  const raw = request.raw
  const cookies = { cookie: raw.headers.cookie }
  const rest = withoutCookies(cookies.cookie, sessions.cookieNames)
  if (rest === undefined) delete raw.headers.cookie
  else raw.headers.cookie = rest
  const live = await sessions.lookup(cookies)
  if (live === undefined || live.record.scope !== policy.cacheId) return undefined
  if (
    sessions.needsCheck(live.record) &&
    (await confirm(live, request, policy, sessions, deps, route, path)) === 'ended'
  )
    return undefined
  return live
}

/** Tells the access line why (server.ts's onResponse hook reads these request fields). */
function refused(
  request: FastifyRequest,
  reason: 'forbidden' | 'no-credentials' | 'provider-error',
  identity?: Identity,
): SessionStep {
  const r = request as FastifyRequest & { user?: Identity; gatehouseRefusal: Refusal | null }
  r.gatehouseRefusal = identity === undefined ? { reason } : { reason, user: identity.user }
  if (identity !== undefined) r.user = identity
  return { kind: 'sent' }
}

/**
 * The provider's data changed since the session's credentials were last confirmed: the check
 * runs again (no throttle: it is not a guess) and the session ends unless the same user is
 * still accepted; their groups are refreshed. A provider failure is an error (fail closed).
 */
function confirm(
  live: LiveSession,
  request: FastifyRequest,
  policy: AuthPolicy,
  sessions: Sessions,
  deps: VerifierDeps,
  route: string,
  path: string,
): Promise<'ok' | 'ended'> {
  const key = live.record.key
  let p = confirming.get(key)
  if (p === undefined) {
    p = (async () => {
      const creds = openCredential(live.id, live.record.credential)
      if (creds === undefined) {
        await sessions.end(live.record)
        return 'ended'
      }
      const req = formAuthRequest(request.raw, route, policy, basicHeader(creds.user, creds.password), path)
      const outcome = await verify(basicPolicyOf(policy), req, deps)
      if (outcome.kind === 'error') throw outcome.error
      if (
        (outcome.kind === 'ok' || outcome.kind === 'forbidden') &&
        outcome.identity.user === live.record.user &&
        outcome.identity.provider === live.record.provider
      ) {
        await sessions.confirmed(live.record, outcome.identity.groups)
        return 'ok'
      }
      await sessions.end(live.record)
      request.log.info(
        { user: live.record.user, provider: live.record.provider },
        'session ended: the provider no longer accepts its credentials',
      )
      return 'ended'
    })().finally(() => confirming.delete(key))
    confirming.set(key, p)
  }
  return p
}
