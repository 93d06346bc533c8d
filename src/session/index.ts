/**
 * Form login and sessions for the front and the sidecar: what server.ts needs, in one place.
 * createSessions registers the login and logout endpoints when some route offers form login,
 * and gives the route handler its one session step (authenticate), the sidecar its session
 * check (sessionFor), and the hook for provider data changes.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Config, RouteConfig } from '../config/types.js'
import type { AuthPolicy } from '../auth/policy.js'
import type { Identity, VerifierDeps } from '../auth/verifier.js'
import type { AddressMatcher } from '../proxy/trusted-proxies.js'
import type { RouteTable } from '../proxy/path-rule.js'
import { registerLoginRoutes } from './login-routes.js'
import { LoginPage } from './login-page.js'
import { authenticateSession, liveSession, type SessionStep } from './session-auth.js'
import { MemorySessionStore, type SessionStore } from './session-store.js'
import { Sessions } from './sessions.js'

export type { SessionStore, SessionRecord } from './session-store.js'
export { MemorySessionStore } from './session-store.js'
export type { SessionStep } from './session-auth.js'

export interface CreateSessionsOptions {
  config: Config
  secret: string | Buffer
  trusted: AddressMatcher
  table: RouteTable<RouteConfig>
  deps: VerifierDeps
  policyOf: (route: RouteConfig & { auth: NonNullable<RouteConfig['auth']> }) => AuthPolicy
  refresh: (policy: AuthPolicy) => Promise<void> | undefined
  /** The running store (a configuration reload); absent: a fresh in-process one. */
  store: SessionStore | undefined
  onAuth?: (provider: string, outcome: string, reason?: string) => void
}

export interface FormSessions {
  readonly store: SessionStore
  /** The session and pre-session cookies' names: credentials, kept from apps and providers. */
  readonly cookieNames: ReadonlySet<string>
  forRoute(route: RouteConfig): boolean
  authenticate(request: FastifyRequest, reply: FastifyReply, policy: AuthPolicy, route: string): Promise<SessionStep>
  /**
   * The sidecar's session check: the identity of the request's live session of this policy
   * (`path` is the original URI), or undefined. The session cookies are taken out of the
   * request's Cookie header. Throws when a provider fails.
   */
  sessionFor(request: FastifyRequest, policy: AuthPolicy, route: string, path: string): Promise<Identity | undefined>
  /** Where a browser without a session is sent, to come back to `path`. */
  loginLocation(path: string): string
  providerChanged(name: string): void
  /** Changes may have been missed: every session is confirmed with its provider before its next use. */
  allChanged(): void
}

/** Undefined when no route offers form login (nothing is registered then). */
export function createSessions(app: FastifyInstance, o: CreateSessionsOptions): FormSessions | undefined {
  const formRoutes = o.config.routes.filter((r) => r.auth?.scheme.includes('form'))
  if (formRoutes.length === 0) return undefined
  const page = new LoginPage(o.config.session.template)
  const store = o.store ?? new MemorySessionStore()
  const sessions = new Sessions({
    config: o.config.session,
    store,
    secret: o.secret,
    trusted: o.trusted,
    inherited: o.store !== undefined,
  })
  registerLoginRoutes(app, {
    sessions,
    table: o.table,
    formRoutes,
    policyOf: (route) => o.policyOf(route as RouteConfig & { auth: NonNullable<RouteConfig['auth']> }),
    refresh: o.refresh,
    deps: o.deps,
    page,
    ...(o.onAuth ? { onAuth: o.onAuth } : {}),
  })
  const forms = new Set(formRoutes)
  return {
    store,
    cookieNames: sessions.cookieNames,
    forRoute: (route) => forms.has(route),
    authenticate: (request, reply, policy, route) =>
      authenticateSession(request, reply, policy, sessions, o.deps, route),
    async sessionFor(request, policy, route, path) {
      const live = await liveSession(request, policy, sessions, o.deps, route, path)
      if (live === undefined) return undefined
      const { user, groups, provider } = live.record
      return { user, groups, provider }
    },
    loginLocation: (path) => sessions.loginLocation(path),
    providerChanged: (name) => sessions.providerChanged(name),
    allChanged: () => sessions.allChanged(),
  }
}
