/**
 * Builds the front server: one Fastify instance, a route per configured path prefix, each with
 * its auth policy and its target (an upstream URL or a daemon group). Request bodies are left
 * raw so they stream to the target untouched.
 */
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import Fastify, { LogController, type FastifyInstance, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { AuthConfig, Config, RouteConfig } from './config/types.js'
import { errors } from './errors.js'
import { CredentialCache } from './auth/credential-cache.js'
import { NonceManager } from './auth/nonce.js'
import type { Identity, VerifierDeps } from './auth/verifier.js'
import { makePolicy, type AuthPolicy } from './auth/policy.js'
import { strippedHeaderNames } from './proxy/forward-headers.js'
import { RouteTable } from './proxy/path-rule.js'
import { TrustedProxies } from './proxy/trusted-proxies.js'
import type { Target } from './proxy/target.js'
import { ProviderRegistry, type RegistryOptions } from './providers/registry.js'
import { accessLogger, createLogger, lazyChildLogger, loggerOptions } from './log.js'
import type { GroupSource } from './daemon/group-source.js'
import { GroupProvider } from './providers/group-provider.js'
import { registerSidecar } from './sidecar/forward-auth.js'
import { loginThrottleFrom, type LoginThrottle } from './auth/throttle.js'
import { applyServerLimits, fastifyLimitOptions } from './limits.js'
import { closeSessionsOnClose, listenerOptions } from './front-listener.js'
import { CertificateReloader, readCertificatePair, type CertificateReload } from './tls-certificate.js'
import type { Server as TlsServer } from 'node:tls'
import { safeUrl, type GatehouseRequest } from './route-steps.js'
import {
  addExtensionMethods,
  EXTENSION_METHODS,
  registerRoutes,
  routedMethods,
  setNotFound,
  type SharedStepDeps,
} from './front-routes.js'
import { installFastPath, requestIds } from './front-fast-path.js'
import type { GatewayMetrics } from './metrics/gateway-metrics.js'
import type { StateBackend } from './state/state-backend.js'
import { flushCredentialCaches, type CacheFlushResult } from './auth/cache-flush.js'
import { instrumentProvider } from './metrics/instrument-provider.js'
import { createSessions, type FormSessions, type SessionStore } from './session/index.js'
import { lazySchemaController } from './schema-compilers.js'

export interface Gatehouse {
  readonly app: FastifyInstance
  readonly config: Config
  readonly providers: ProviderRegistry
  readonly deps: VerifierDeps
  /** Present when a route offers form login: `gatehouse cache flush --user` ends the user's sessions through it. */
  readonly sessionStore: SessionStore | undefined
  /** The state shared with other instances (`state.redis`) or front workers; undefined: all state is in process. */
  readonly state: StateBackend | undefined
  /** Empties the credential caches (one user's entries, or all) here and, with `state`, on every other instance. */
  flushCache(user?: string): CacheFlushResult
  /** Starts providers and groups, then listens. Resolves with the bound address. */
  listen(): Promise<string>
  /** Starts providers and readies the app without listening (a configuration reload swaps it in). Idempotent. */
  ready(): Promise<void>
  /** Closes targets and providers but not the listener (the instance a reload replaced, when it owns the socket). Idempotent. */
  release(): Promise<void>
  close(): Promise<void>
  /**
   * Re-reads listen.tls's certificate and key into the listening server (SIGHUP, `gatehouse
   * reload`); undefined when this front has no TLS listener. Never throws: a bad pair is
   * reported and the current one keeps serving.
   */
  reloadCertificate(reason: string): CertificateReload | undefined
}

export interface GatehouseOptions {
  logger?: Logger
  /** Extra targets by group name (daemon groups), provided by the supervisor. */
  groupTargets?: Map<string, Target>
  /**
   * The daemon groups, when configured: their provider modules join the registry by group name.
   * The Supervisor running them, or a front worker's RemoteGroups (src/cluster/remote-groups.ts).
   */
  supervisor?: GroupSource
  /** Counts requests, auth outcomes and provider call latency (src/metrics). */
  metrics?: GatewayMetrics
  /** The nonce manager of the instance a configuration reload replaces (same digest settings): outstanding nonces stay valid. */
  nonces?: NonceManager
  /** Stands in for each configured provider when its threads run elsewhere (a front worker's, in the primary). */
  hostedProviders?: RegistryOptions['hosted']
  /** Where sessions live; a configuration reload hands the running one over so sessions survive it. */
  sessionStore?: SessionStore
  /**
   * The shared state, started, when `state:` is configured (the gateway keeps one across
   * reloads). Without it and with `state:`, the instance opens its own and closes it on release.
   */
  state?: StateBackend
}

export async function createGatehouse(config: Config, opts: GatehouseOptions = {}): Promise<Gatehouse> {
  const log = opts.logger ?? createLogger(config.log.level)
  const tls = config.listen.tls
  const pair = tls ? readCertificatePair(tls) : undefined
  // One sequence for the requests Fastify serves and those the fast path does.
  const requestId = requestIds()
  const { app, overLimits } = frontApp(config, log, requestId, pair)
  const secret = digestSecret(config, log)
  // One matcher (and its memo) for the forwarding headers, the throttle and the sidecar.
  const trusted = new TrustedProxies(config.trustedProxies)
  const { state, ownState } = await frontState(config, opts.state, log)
  const deps = verifierDeps(config, { nonces: opts.nonces, secret, state, trusted, log })
  const metrics = opts.metrics
  const providers = providerRegistry(config, log, opts)
  const unfollowGroups = followGroups(opts.supervisor, providers)
  const access = accessLogger(log)
  recordResponses(app, access, metrics)
  addExtensionMethods(app)
  // The router finds a handler; the shared path rule decides whether the request may have it.
  const table = new RouteTable(config.routes)
  const policyOf = policyCache(providers)
  const onAuth = metrics
    ? { onAuth: (provider: string, outcome: string, reason?: string) => metrics.auth(provider, outcome, reason) }
    : {}
  const sessions = createSessions(app, {
    config,
    secret,
    trusted,
    table,
    deps,
    policyOf,
    store: opts.sessionStore,
    refresh: (p) => providers.refresh(p.chain),
    ...onAuth,
  })
  const stateListeners = state ? followSharedState(state, deps, log, sessions) : undefined
  setNotFound(app, table)
  const shared: SharedStepDeps = {
    table,
    providers,
    deps,
    trusted,
    reserved: reservedHeaders(config),
    identityHeaders: config.identityHeaders,
    policyOf,
    ...(sessions ? { sessions } : {}),
    ...(metrics ? { metrics } : {}),
  }
  const { targets, upstreamRoutes } = registerRoutes(app, config, shared, opts.groupTargets, log)
  registerSidecar(app, { config, providers, deps, trusted, ...(sessions ? { sessions } : {}), ...onAuth })
  installFastPath({
    app,
    config,
    table,
    routes: upstreamRoutes,
    methods: routedMethods(app),
    overLimits,
    access,
    requestId,
    log,
    ...(metrics ? { metrics } : {}),
  })
  return frontHandle({
    app,
    config,
    providers,
    deps,
    sessions,
    state,
    log,
    pair,
    async releaseParts() {
      unfollowGroups()
      stateListeners?.()
      await Promise.allSettled(targets.map((t) => t.close()))
      await providers.close()
      if (ownState) await state!.close()
    },
  })
}

interface FrontParts {
  app: FastifyInstance
  config: Config
  providers: ProviderRegistry
  deps: VerifierDeps
  sessions: FormSessions | undefined
  state: StateBackend | undefined
  log: Logger
  pair: ReturnType<typeof readCertificatePair> | undefined
  /** Stops following groups and shared state, closes the targets and providers (once). */
  releaseParts(): Promise<void>
}

/** The front's lifecycle over its parts: ready once, release once, close once; listen, then watch the certificate. */
function frontHandle(p: FrontParts): Gatehouse {
  const { app, config, providers, deps, sessions, state, log } = p
  // Made once this front listens: a front a configuration reload built only lends its handler.
  let certificates: CertificateReloader | undefined
  app.addHook('onClose', (_app, done) => {
    certificates?.close()
    done()
  })
  let closed: Promise<void> | undefined
  let released: Promise<void> | undefined
  let readied: Promise<void> | undefined
  const ready = (): Promise<void> => {
    readied ??= (async () => {
      await providers.start()
      providers.onReload((name) => {
        deps.identities.clearProvider(name)
        deps.realmHashes.clearProvider(name)
        sessions?.providerChanged(name)
        state?.publish({ kind: 'flush', provider: name })
      })
      await app.ready()
    })()
    return readied
  }
  const release = (): Promise<void> => (released ??= p.releaseParts())
  return {
    app,
    config,
    providers,
    deps,
    sessionStore: sessions?.store,
    state,
    flushCache(user) {
      const result = flushCredentialCaches(deps, user)
      state?.publish({ kind: 'flush', ...(user !== undefined ? { user } : {}) })
      return result
    },
    ready,
    release,
    async listen() {
      await ready()
      const address = await app.listen({ host: config.listen.host, port: config.listen.port })
      const tls = config.listen.tls
      if (tls && p.pair) {
        certificates = new CertificateReloader(app.server as unknown as TlsServer, tls, log, { initial: p.pair })
        certificates.watch()
      }
      return address
    },
    reloadCertificate(reason) {
      return certificates?.reload(reason)
    },
    close() {
      closed ??= (async () => {
        await app.close()
        await release()
      })()
      return closed
    },
  }
}

/** The shared state given by the gateway, or one of this front's own (started here, closed on release). */
async function frontState(
  config: Config,
  given: StateBackend | undefined,
  log: Logger,
): Promise<{ state: StateBackend | undefined; ownState: boolean }> {
  if (given !== undefined || config.state === undefined) return { state: given, ownState: false }
  const state = await openSharedState(config.state, log)
  await state.start()
  return { state, ownState: true }
}

/** The nonces, the credential caches and the login throttle the verifiers share. */
function verifierDeps(
  config: Config,
  o: {
    nonces: NonceManager | undefined
    secret: string | Buffer
    state: StateBackend | undefined
    trusted: TrustedProxies
    log: Logger
  },
): VerifierDeps {
  const { state } = o
  return {
    nonces: o.nonces ?? new NonceManager({ secret: o.secret, ttlMs: config.digest.nonceTtlMs }),
    ...(state ? { nonceCounts: state.nonceCounts(config.digest.nonceTtlMs) } : {}),
    identities: new CredentialCache<Identity>({ maxEntries: config.cache.maxEntries, ttlMs: config.cache.ttlMs }),
    realmHashes: new CredentialCache<string>({ maxEntries: config.cache.maxEntries, ttlMs: config.cache.ttlMs }),
    ...(config.throttle.enabled
      ? { throttle: { throttle: createThrottle(config, o.log, state), trustedProxies: o.trusted } }
      : {}),
  }
}

/** A daemon group's reload or data change reaches its provider in the registry. Returns the undo. */
function followGroups(supervisor: GroupSource | undefined, providers: ProviderRegistry): () => void {
  const onGroupReload = (name: string): void => providers.notifyReload(name)
  const onGroupChanged = (name: string): void => providers.dataChanged(name)
  supervisor?.on('reload', onGroupReload)
  supervisor?.on('changed', onGroupChanged)
  return () => {
    supervisor?.off('reload', onGroupReload)
    supervisor?.off('changed', onGroupChanged)
  }
}

/** Every name an identity may travel in here, the sidecar's included: a client's copy never reaches a target. */
function reservedHeaders(config: Config): ReadonlySet<string> {
  const { user, groups, strip } = config.identityHeaders
  return strippedHeaderNames([
    user,
    groups,
    ...strip,
    ...(config.sidecar ? [...config.sidecar.userHeaders, ...config.sidecar.groupsHeaders] : []),
  ])
}

/** One policy per route, made on first use and shared by the route steps and the form-login routes. */
function policyCache(providers: ProviderRegistry): (route: RouteConfig & { auth: AuthConfig }) => AuthPolicy {
  const policies = new Map<RouteConfig, AuthPolicy>()
  return (route) => {
    let p = policies.get(route)
    if (p === undefined) policies.set(route, (p = makePolicy(route.auth, providers.chain(route.auth.provider))))
    return p
  }
}

export { EXTENSION_METHODS }

/** The metrics label of a request no gatehouse route handled: its route's label or pattern. */
function routeLabel(request: FastifyRequest): string {
  const opts = request.routeOptions
  return (opts.config as { gatehouseRoute?: string } | undefined)?.gatehouseRoute ?? opts.url ?? 'unmatched'
}

/** ioredis (about 10 MB once loaded) is loaded only when `state:` is configured. */
export async function openSharedState(config: NonNullable<Config['state']>, log: Logger): Promise<StateBackend> {
  const { SharedState } = await import('./state/shared-state.js')
  return new SharedState(config, log)
}

/**
 * Empties the local caches when another instance says a provider's data changed or an operator
 * flushed, and entirely after a disconnect (what was said meanwhile is lost). Returns the undo.
 */
function followSharedState(
  state: StateBackend,
  deps: VerifierDeps,
  log: Logger,
  sessions: FormSessions | undefined,
): () => void {
  const onFlush = (e: { provider?: string; user?: string }): void => {
    const flushed =
      e.provider !== undefined
        ? deps.identities.clearProvider(e.provider) + deps.realmHashes.clearProvider(e.provider)
        : flushCredentialCaches(deps, e.user).flushed
    // Sessions follow the same signal as the cache: a changed provider's are confirmed again, a flushed user's end.
    if (e.provider !== undefined) sessions?.providerChanged(e.provider)
    else if (e.user !== undefined)
      sessions?.store
        .deleteByUser(e.user)
        .catch((err: unknown) => log.error({ err }, 'ending the sessions of a flushed user failed'))
    log.info(
      {
        ...(e.provider !== undefined ? { provider: e.provider } : {}),
        ...(e.user !== undefined ? { user: e.user } : {}),
        flushed,
      },
      'credential cache entries dropped: another instance saw a change',
    )
  }
  const onResync = (): void => {
    flushCredentialCaches(deps)
    sessions?.allChanged()
  }
  state.on('flush', onFlush)
  state.on('resync', onResync)
  return () => {
    state.off('flush', onFlush)
    state.off('resync', onResync)
  }
}

function createThrottle(config: Config, log: Logger, state: StateBackend | undefined): LoginThrottle {
  const t = config.throttle
  const throttle = loginThrottleFrom(t, state?.throttleStore(t))
  throttle.on('lockout', (e) => {
    log.warn(
      {
        scope: e.scope,
        address: e.address,
        ...(e.user !== undefined ? { user: e.user.slice(e.user.indexOf('\0') + 1) } : {}),
        lockoutMs: e.lockoutMs,
      },
      'login throttled: too many failed logins, lockout started',
    )
  })
  return throttle
}

function digestSecret(config: Config, log: Logger): string | Buffer {
  if (config.digest.secretFile) {
    try {
      const s = readFileSync(config.digest.secretFile, 'utf8').trim()
      if (s.length >= 16) return s
      throw new Error('shorter than 16 characters')
    } catch (err) {
      throw errors.GH_ERR_CONFIG_INVALID(
        `digest.secretFile: cannot use ${config.digest.secretFile}: ${(err as Error).message}`,
      )
    }
  }
  if (config.digest.secret) return config.digest.secret
  if (config.routes.some((r) => r.auth?.scheme.includes('digest'))) {
    log.warn(
      'digest.secret is not set: nonces are signed with a per-boot key, so they do not survive a restart nor work across instances',
    )
  } else if (config.routes.some((r) => r.auth?.scheme.includes('form'))) {
    log.warn(
      'digest.secret is not set: login and logout form tokens are signed with a per-boot key, so an open login page fails after a restart and on another instance',
    )
  }
  return randomBytes(32)
}

export { loggerOptions }

/**
 * The access line and the request metrics of every request Fastify answers (the fast path
 * writes its own, the same). The route label is set by the route steps; other requests (404,
 * the sidecar) fall back to the route pattern.
 */
function recordResponses(app: FastifyInstance, access: Logger, metrics: GatewayMetrics | undefined): void {
  app.decorateRequest('gatehouseRoute', '')
  app.decorateRequest('gatehouseRefusal', null)
  app.decorateRequest('gatehouseFacts', null)
  app.addHook('onResponse', (request, reply, done) => {
    const r = request as GatehouseRequest
    const ms = reply.elapsedTime
    const status = reply.statusCode
    const raw = request.raw
    metrics?.request(r.gatehouseRoute || routeLabel(request), status, ms / 1000)
    const refused = r.gatehouseRefusal
    const refusal =
      refused === null
        ? {}
        : refused.user === undefined
          ? { refused: refused.reason }
          : { refused: refused.reason, attemptedUser: refused.user }
    access.info(
      {
        reqId: request.id,
        method: raw.method,
        url: safeUrl(raw.url),
        status,
        user: r.user?.user ?? '-',
        ...refusal,
        remote: raw.socket.remoteAddress,
        ms: Math.round(ms * 10) / 10,
      },
      'access',
    )
    done()
  })
}

/** The configuration's providers, and each daemon group's provider module under the group's name; timed when metrics are on. */
function providerRegistry(config: Config, log: Logger, opts: GatehouseOptions): ProviderRegistry {
  const providers = new ProviderRegistry(config, log, opts.hostedProviders ? { hosted: opts.hostedProviders } : {})
  for (const g of Object.values(config.groups)) {
    if (g.provider && opts.supervisor) {
      const limits = {
        callTimeoutMs: g.providerTimeoutMs,
        concurrency: g.providerConcurrency,
        queueTimeoutMs: g.providerQueueTimeoutMs,
      }
      providers.register(g.name, new GroupProvider(g.name, opts.supervisor.group(g.name), limits))
    }
  }
  const metrics = opts.metrics
  if (metrics)
    providers.instrument((name, p) => instrumentProvider(name, p, (...args) => metrics.providerCall(...args)))
  return providers
}

/** The front's Fastify instance: its listener (TLS, HTTP/2), limits, and bodies left as raw streams. */
function frontApp(
  config: Config,
  log: Logger,
  requestId: () => string,
  pair: ReturnType<typeof readCertificatePair> | undefined,
): { app: FastifyInstance; overLimits: ReturnType<typeof applyServerLimits> } {
  const app = Fastify({
    loggerInstance: log,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: false,
    requestIdHeader: false,
    genReqId: requestId,
    // request.log is made on first use (most requests never log through it).
    childLoggerFactory: lazyChildLogger,
    schemaController: lazySchemaController(),
    ...fastifyLimitOptions(config.limits),
    ...listenerOptions(config.listen, config.limits, pair),
  } as Parameters<typeof Fastify>[0]) as unknown as FastifyInstance
  const overLimits = applyServerLimits(app, config.limits, config.listen.http2)
  if (config.listen.http2) closeSessionsOnClose(app)
  // Bodies stay raw streams: the target reads them, nothing here buffers or parses them.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  return { app, overLimits }
}
