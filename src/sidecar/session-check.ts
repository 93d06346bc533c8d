/**
 * The sidecar's session step for a route offering form login, before Basic and Digest. The
 * proxy passes the browser's Cookie header along with the sub-request; the session it names
 * is judged as the front judges it (session-auth.ts), on the original method and URI:
 *  - a live session of the route's realm and chain that `require` admits: 'ok' (200 + identity);
 *  - one that `require` (or `limitExcept`) does not admit: 'forbidden' (403);
 *  - none, from a browser (Accept names text/html, no Authorization): 'login', answered with
 *    `Location: <loginPath>?return=<original URI>`;
 *  - none, and the route offers Basic or Digest: 'pass' (the challenges follow);
 *  - none, form alone, another client: 'unauthorized' (401 without a challenge).
 */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Config, RouteConfig } from '../config/types.js'
import { sendError } from '../auth/fastify-auth.js'
import type { AuthPolicy } from '../auth/policy.js'
import { authorize, type Identity } from '../auth/verifier.js'
import { wantsHtml } from '../error-page.js'
import type { FormSessions } from '../session/index.js'
import type { OriginalRequest } from './original-request.js'
import { allow, forbidden, noteRefusal, setUser, text } from './answers.js'

export type SessionCheck =
  | { kind: 'ok'; identity: Identity }
  | { kind: 'forbidden'; identity: Identity }
  | { kind: 'login'; location: string }
  | { kind: 'unauthorized' }
  | { kind: 'pass' }

/** Throws when a provider fails while a session is confirmed (the caller answers 5xx: fail closed). */
export async function checkSession(
  request: FastifyRequest,
  original: OriginalRequest,
  route: string,
  policy: AuthPolicy,
  sessions: FormSessions,
): Promise<SessionCheck> {
  const identity = await sessions.sessionFor(request, policy, route, original.uri)
  if (identity !== undefined) {
    const outcome = authorize(policy, identity, original.methodKnown ? original.method : undefined)
    return outcome.kind === 'ok' ? { kind: 'ok', identity } : { kind: 'forbidden', identity }
  }
  const headers = request.raw.headers
  const browser = headers[policy.requestHeader] === undefined && wantsHtml(headers.accept)
  if (browser) return { kind: 'login', location: sessions.loginLocation(original.uri) }
  return policy.config.scheme.some((s) => s !== 'form') ? { kind: 'pass' } : { kind: 'unauthorized' }
}

/**
 * How the login page is asked for. nginx's auth_request turns any answer but 2xx, 401 and 403
 * into a 500, so its sub-requests (X-Original-URI, X-Original-URL) get 401 with the Location,
 * which the recipe's `auth_request_set` + `error_page 401` turn into a redirect (Authelia's
 * nginx recipe does the same). Traefik, Caddy and Envoy return the answer as it is: a 303.
 */
export function loginStatus(original: OriginalRequest): 401 | 303 {
  return original.sources.some((s) => s === 'x-original-uri' || s === 'x-original-url') ? 401 : 303
}

/** Answers the sub-request from its session (checkSession); undefined when the Basic/Digest step follows. */
export async function answerSession(
  request: FastifyRequest,
  reply: FastifyReply,
  original: OriginalRequest,
  route: RouteConfig,
  policy: AuthPolicy,
  sidecar: NonNullable<Config['sidecar']>,
  sessions: FormSessions,
): Promise<FastifyReply | undefined> {
  let check
  try {
    check = await checkSession(request, original, route.path, policy, sessions)
  } catch (err) {
    noteRefusal(request, { outcome: 'error', reason: 'session' }, undefined)
    sendError(reply, err)
    return reply
  }
  switch (check.kind) {
    case 'ok':
      return allow(request, reply, sidecar, check.identity)
    case 'forbidden':
      setUser(request, check.identity)
      noteRefusal(request, { outcome: 'forbidden', identity: check.identity }, undefined)
      return forbidden(reply)
    case 'login':
      noteRefusal(request, { outcome: 'challenge', reason: 'missing' }, undefined)
      reply.header('location', check.location)
      return loginStatus(original) === 401
        ? text(reply, 401, 'Unauthorized: sign in first\n')
        : reply.code(303).type('text/plain; charset=utf-8').send('See Other: sign in first\n')
    case 'unauthorized':
      noteRefusal(request, { outcome: 'challenge', reason: 'missing' }, undefined)
      return text(reply, 401, 'Unauthorized\n')
    case 'pass':
      return undefined
  }
}
