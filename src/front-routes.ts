/**
 * The front's routes: a Fastify route per configured path prefix, each with its target (an
 * upstream URL or a daemon group) and the route steps that check, authenticate and forward.
 */
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { Config, RouteConfig } from './config/types.js'
import { UpstreamTarget } from './proxy/upstream-target.js'
import type { Target } from './proxy/target.js'
import type { RouteTable } from './proxy/path-rule.js'
import { sendRefusal } from './error-page.js'
import { badRequest, routeSteps, type RouteStepDeps } from './route-steps.js'

/**
 * Methods beyond Fastify's defaults that the front routes like any other: WebDAV (RFC 4918),
 * DeltaV (RFC 3253), ACL (RFC 3744), SEARCH (RFC 5323), bindings (RFC 5842), CalDAV (RFC 4791).
 * All may carry a body, which streams to the target untouched. CONNECT is absent: Node hands it
 * to the 'connect' event, never to the router.
 */
export const EXTENSION_METHODS = [
  'PROPFIND',
  'PROPPATCH',
  'MKCOL',
  'COPY',
  'MOVE',
  'LOCK',
  'UNLOCK',
  'REPORT',
  'CHECKOUT',
  'MERGE',
  'MKACTIVITY',
  'ACL',
  'SEARCH',
  'BIND',
  'UNBIND',
  'REBIND',
  'MKCALENDAR',
] as const

/** Apache and nginx proxy any method; without these, WebDAV/CalDAV clients got 404 from Fastify's router. */
export function addExtensionMethods(app: FastifyInstance): void {
  for (const method of EXTENSION_METHODS) {
    if (!app.supportedMethods.includes(method)) app.addHttpMethod(method, { hasBody: true })
  }
}

/**
 * Every method the router knows but TRACE: a TRACE echoes the request, credentials and cookies
 * included, back to the page that sent it (cross-site tracing); nginx refuses it too.
 */
export function routedMethods(app: FastifyInstance): string[] {
  return app.supportedMethods.filter((m) => m !== 'TRACE')
}

/** What every route's steps share; the route, its target and its body limit are added per route. */
export type SharedStepDeps = Omit<RouteStepDeps, 'route' | 'target' | 'bodyLimit'>

export interface FrontRoutes {
  /** The upstream targets the routes made (group targets belong to the gateway): closed on release. */
  targets: Target[]
  /** The routes to an upstream URL, which the fast path may answer without Fastify. */
  upstreamRoutes: Array<{ deps: RouteStepDeps; target: UpstreamTarget }>
}

/** Registers each configured route under its prefix, the prefix with a slash, and everything below it. */
export function registerRoutes(
  app: FastifyInstance,
  config: Config,
  shared: SharedStepDeps,
  groupTargets: Map<string, Target> | undefined,
  log: Logger,
): FrontRoutes {
  const targets: Target[] = []
  const upstreamRoutes: FrontRoutes['upstreamRoutes'] = []
  for (const route of config.routes) {
    const target = route.upstream
      ? new UpstreamTarget({ name: route.path, url: route.upstream, log })
      : route.group
        ? groupTargets?.get(route.group)
        : undefined
    if (target && route.upstream) targets.push(target)
    const stepDeps: RouteStepDeps = {
      ...shared,
      route,
      target,
      bodyLimit: route.bodyLimit ?? config.limits.bodyLimit,
    }
    const steps = routeSteps(stepDeps)
    if (target instanceof UpstreamTarget) upstreamRoutes.push({ deps: stepDeps, target })
    const routeOpts = route.bodyLimit ? { bodyLimit: route.bodyLimit } : {}
    const paths = route.path === '/' ? ['/', '/*'] : [route.path, `${route.path}/`, `${route.path}/*`]
    for (const url of paths) {
      app.route({
        method: routedMethods(app),
        url,
        preValidation: steps.checkTarget,
        preHandler: steps.authenticate,
        handler: steps.forward,
        config: { gatehouseRoute: route.path } as object,
        ...routeOpts,
      })
    }
  }
  return { targets, upstreamRoutes }
}

/** A path no route takes is a 404, unless the shared path rule refuses it outright (400). */
export function setNotFound(app: FastifyInstance, table: RouteTable<RouteConfig>): void {
  app.setNotFoundHandler((request, reply) => {
    const decision = table.decide(request.raw.url ?? '/')
    if (!decision.ok) return badRequest(reply, decision.reason)
    return sendRefusal(reply, 404, 'Not Found\n')
  })
}
