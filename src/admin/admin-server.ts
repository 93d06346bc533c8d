/**
 * The admin listener (`admin:`): /healthz, /readyz, /metrics, /status, /status.json and the
 * commands POST /groups/NAME/restart, POST /reload, POST /cache/flush[?user=NAME], POST /stop. Its own Fastify instance on a
 * loopback address or a unix socket, never on the front's port.
 *
 * Protection, fail closed:
 *  - unix socket: mode 0600 in a directory that must be 0700 and ours (file permissions are the key);
 *  - token (admin.token / tokenFile): `Authorization: Bearer TOKEN` on everything but /healthz
 *    and /readyz, or for a browser on read-only requests Basic with the token as password
 *    (admin-auth.ts);
 *  - without a token, a TCP listener answers only requests whose Host is its own loopback
 *    address (a web page re-bound to 127.0.0.1 by DNS cannot read it);
 *  - commands refuse any request with an Origin header (a browser's cross-site form post).
 */
import { readFileSync } from 'node:fs'
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify'
import type { Logger } from 'pino'
import type { AdminConfig } from '../config/types.js'
import { isLoopback } from '../config/admin.js'
import { errors } from '../errors.js'
import type { GatewayMetrics } from '../metrics/gateway-metrics.js'
import type { CacheFlushResult } from '../auth/cache-flush.js'
import { prepareSocketPath, removeAdminSocket, restrictSocket } from './admin-socket.js'
import type { StatusReport } from './status-report.js'
import { STATUS_PAGE_CSP, statusPage } from './status-page.js'
import { adminChallenge, adminCredential, readOnly } from './admin-auth.js'
import { lazySchemaController } from '../schema-compilers.js'

export interface ReloadResult {
  ok: boolean
  summary: string
  /** Keys or groups that changed and what was done, one line each. */
  changes: string[]
  /** Changes that need a restart of the gateway (listen, admin, limits) and were not applied. */
  restartNeeded: string[]
}

/** What the admin interface can see and do; the running gateway implements it. */
export interface AdminControl {
  readonly metrics: Pick<GatewayMetrics, 'contentType' | 'text'>
  status(): StatusReport | Promise<StatusReport>
  readiness(): { ready: boolean; problems: string[] }
  /** Undefined for an unknown group; false when the new processes failed (the old ones keep serving). */
  restartGroup(name: string): Promise<boolean | undefined>
  reload(reason: string): Promise<ReloadResult>
  /** Empties the credential caches: one user's entries, or all of them. */
  flushCache(user?: string): CacheFlushResult | Promise<CacheFlushResult>
  stop(): void
}

export interface AdminServer {
  /** http://host:port, or unix:PATH. */
  readonly address: string
  close(): Promise<void>
}

export async function startAdmin(config: AdminConfig, control: AdminControl, log: Logger): Promise<AdminServer> {
  const token = readToken(config)
  const app = Fastify({
    loggerInstance: log.child({ component: 'admin' }),
    logController: new LogController({ disableRequestLogging: true }),
    requestIdHeader: false,
    trustProxy: false,
    schemaController: lazySchemaController(),
  }) as unknown as FastifyInstance
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_req, _payload, done) => done(null))
  const where = config.kind === 'socket' ? `unix:${config.socket}` : `${config.host}:${config.port}`
  let allowedHosts: Set<string> | undefined

  guardAdmin(app, token, () => allowedHosts)
  adminRoutes(app, control)
  await listenAdmin(app, config, where)
  let address: string
  if (config.kind === 'socket') {
    address = `unix:${config.socket}`
  } else {
    const port = (app.server.address() as { port: number }).port
    const host = config.host.includes(':') ? `[${config.host}]` : config.host
    address = `http://${host}:${port}`
    if (token === undefined) allowedHosts = loopbackHosts(config.host, port)
    if (token === undefined)
      app.log.warn(
        { address },
        'admin listener without a token: any local user can use it (set admin.token, or use admin.socket)',
      )
  }
  let closing: Promise<void> | undefined
  return {
    address,
    close() {
      closing ??= (async () => {
        await app.close()
        if (config.kind === 'socket') removeAdminSocket(config.socket)
      })()
      return closing
    },
  }
}

/**
 * Every request: the Host check of a listener without a token, then the token (Bearer, or Basic
 * for a browser's read-only requests), then no command from a web page (an Origin header).
 */
function guardAdmin(app: FastifyInstance, token: Buffer | undefined, allowed: () => Set<string> | undefined): void {
  app.addHook('onRequest', async (request, reply) => {
    const allowedHosts = allowed()
    reply.header('cache-control', 'no-store').header('x-content-type-options', 'nosniff')
    if (allowedHosts !== undefined && !allowedHosts.has((request.headers.host ?? '').toLowerCase())) {
      return reply.code(421).type('text/plain; charset=utf-8').send('Misdirected Request: not this host\n')
    }
    const open = request.method === 'GET' && (request.url === '/healthz' || request.url === '/readyz')
    if (!open && token !== undefined) {
      const via = adminCredential(request.headers.authorization, token)
      if (via === undefined || (via === 'basic' && !readOnly(request.method))) {
        const why = via === 'basic' ? 'Unauthorized: commands need Authorization: Bearer TOKEN\n' : 'Unauthorized\n'
        return reply
          .code(401)
          .header('www-authenticate', adminChallenge(request.headers.accept, request.method))
          .type('text/plain; charset=utf-8')
          .send(why)
      }
    }
    if (request.method === 'POST' && request.headers.origin !== undefined) {
      return reply
        .code(403)
        .type('text/plain; charset=utf-8')
        .send('Forbidden: admin commands are not taken from web pages\n')
    }
    return undefined
  })
}

/** The pages (health, readiness, metrics, status) and the commands (restart, reload, flush, stop). */
function adminRoutes(app: FastifyInstance, control: AdminControl): void {
  app.get('/healthz', async (_req, reply) => text(reply, 200, 'ok\n'))
  app.get('/readyz', async (_req, reply) => {
    const r = control.readiness()
    return r.ready ? text(reply, 200, 'ready\n') : text(reply, 503, `not ready: ${r.problems.join('; ')}\n`)
  })
  app.get('/metrics', async (_req, reply) => reply.type(control.metrics.contentType).send(await control.metrics.text()))
  app.get('/status', async (_req, reply) =>
    reply
      .header('content-security-policy', STATUS_PAGE_CSP)
      .header('referrer-policy', 'no-referrer')
      .type('text/html; charset=utf-8')
      .send(statusPage(await control.status())),
  )
  app.get('/status.json', async (_req, reply) =>
    reply.type('application/json; charset=utf-8').send(JSON.stringify(await control.status())),
  )
  app.post('/groups/:name/restart', async (request: FastifyRequest<{ Params: { name: string } }>, reply) => {
    const ok = await control.restartGroup(request.params.name)
    if (ok === undefined) return json(reply, 404, { error: `no daemon group named ${request.params.name}` })
    return json(reply, ok ? 200 : 500, {
      group: request.params.name,
      restarted: ok,
      ...(ok ? {} : { error: 'the new processes did not start; the running ones keep serving (see the log)' }),
    })
  })
  app.post('/reload', async (_req, reply) => {
    const result = await control.reload('admin reload')
    return json(reply, result.ok ? 200 : 500, result)
  })
  app.post('/cache/flush', async (request: FastifyRequest<{ Querystring: Record<string, unknown> }>, reply) => {
    const query = request.query ?? {}
    const unknown = Object.keys(query).filter((k) => k !== 'user')
    if (unknown.length > 0) return json(reply, 400, { error: `unknown parameter ${unknown[0]}: the only one is user` })
    const user = query.user
    if (user !== undefined && (typeof user !== 'string' || user === ''))
      return json(reply, 400, { error: 'user must be given once, as a non-empty user name' })
    const result = await control.flushCache(user)
    return json(reply, 200, { ...(user !== undefined ? { user } : {}), ...result })
  })
  app.post('/stop', async (_req, reply) => {
    reply.raw.once('finish', () => control.stop())
    return json(reply, 202, { stopping: true })
  })
}

/** Listens on the socket (made private) or the TCP address; a failure closes the app and names the address. */
async function listenAdmin(app: FastifyInstance, config: AdminConfig, where: string): Promise<void> {
  try {
    if (config.kind === 'socket') {
      await prepareSocketPath(config.socket)
      await app.listen({ path: config.socket })
      restrictSocket(config.socket)
    } else {
      await app.listen({ host: config.host, port: config.port })
    }
  } catch (err) {
    await app.close().catch(() => {})
    throw errors.GH_ERR_ADMIN_LISTEN(where, (err as Error).message, { cause: err })
  }
}

function readToken(config: AdminConfig): Buffer | undefined {
  if (config.token !== undefined) return Buffer.from(config.token)
  if (config.tokenFile === undefined) return undefined
  let value: string
  try {
    value = readFileSync(config.tokenFile, 'utf8').trim()
  } catch (err) {
    throw errors.GH_ERR_CONFIG_INVALID(
      `admin.tokenFile: cannot read ${config.tokenFile}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    )
  }
  if (value.length < 16)
    throw errors.GH_ERR_CONFIG_INVALID(
      `admin.tokenFile: the token in ${config.tokenFile} is shorter than 16 characters`,
    )
  return Buffer.from(value)
}

function loopbackHosts(host: string, port: number): Set<string> {
  const names = new Set([`${host}:${port}`, host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`])
  if (isLoopback(host)) for (const h of ['127.0.0.1', 'localhost', '[::1]']) names.add(`${h}:${port}`)
  return names
}

function text(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/plain; charset=utf-8').send(body)
}

function json(reply: FastifyReply, status: number, body: unknown): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send(JSON.stringify(body))
}
