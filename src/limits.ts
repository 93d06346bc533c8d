/**
 * Limits of the front's HTTP server, each answered with its own status:
 *  - a request head over `maxHeaderSize` → 431 (Node's parser; Fastify's clientError answer);
 *  - a request head with more than `maxHeaderFields` fields → 431 (Apache's LimitRequestFields);
 *  - a head not complete within `headersTimeout`, or a request within `requestTimeout` → 408
 *    (slowloris); idle kept-alive connections close after `keepAliveTimeout`;
 *  - connections over `maxConnections` → their requests get 503 with Retry-After and the
 *    connection is closed (an HTTP/2 one with GOAWAY); past a hard cap a little higher Node drops
 *    new connections unanswered. An HTTP/2 connection counts once, whatever its streams: each
 *    has at most `maxConcurrentStreams` in flight (front-listener.ts);
 *  - a request body over the route's limit → 413, before anything is forwarded when
 *    Content-Length says so, or as soon as a streamed (chunked) body crosses it.
 * Fastify's own bodyLimit does not apply here: the front passes bodies through as raw streams.
 */
import type { Server } from 'node:http'
import type { ServerHttp2Session } from 'node:http2'
import type { Socket } from 'node:net'
import { Transform, type Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply } from 'fastify'
import type { LimitsConfig } from './config/types.js'
import { errors } from './errors.js'
import { sendRefusal } from './error-page.js'
import { sessionOf, type FrontRequest } from './request-facts.js'

/** Node checks head and request timeouts on an interval (30 s by default): short timeouts need a short interval. */
export function checkingIntervalMs(limits: LimitsConfig): number {
  const shortest = Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs > 0 ? limits.requestTimeoutMs : Infinity)
  return Math.max(50, Math.min(30_000, Math.floor(shortest / 4)))
}

/** The part of Fastify's server options that carries the limits; spread into Fastify({...}). */
export function fastifyLimitOptions(limits: LimitsConfig): {
  keepAliveTimeout: number
  requestTimeout: number
  http: { maxHeaderSize: number; connectionsCheckingInterval: number }
} {
  return {
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    http: { maxHeaderSize: limits.maxHeaderSize, connectionsCheckingInterval: checkingIntervalMs(limits) },
  }
}

/** Node options for https.createServer (Fastify passes its `https` object there, not `http`). */
export function tlsServerLimitOptions(limits: LimitsConfig): {
  maxHeaderSize: number
  connectionsCheckingInterval: number
} {
  return { maxHeaderSize: limits.maxHeaderSize, connectionsCheckingInterval: checkingIntervalMs(limits) }
}

/** Connections over maxConnections are served a 503; this many more are accepted at all. */
export function hardConnectionCap(maxConnections: number): number {
  return maxConnections + Math.max(16, Math.ceil(maxConnections / 10))
}

/**
 * Applies what can only be set on the created server (headersTimeout, maxHeadersCount) and the
 * per-request checks of the field count and the connection limit (one hook: it runs for every
 * request). Call before listen(). Returns whether a request is one the hook answers (431/503):
 * the front's fast path leaves those to it.
 */
export function applyServerLimits(
  app: FastifyInstance,
  limits: LimitsConfig,
  http2 = false,
): (raw: FrontRequest) => boolean {
  const server = app.server as Server
  if (http2) {
    // An HTTP/2 server serves HTTP/1.1 clients with Node's HTTP/1 code, which reads these off the server;
    // Fastify sets them on an HTTP/1 server only.
    Object.assign(server, {
      requestTimeout: limits.requestTimeoutMs,
      keepAliveTimeout: limits.keepAliveTimeoutMs,
      connectionsCheckingInterval: checkingIntervalMs(limits),
      maxHeaderSize: limits.maxHeaderSize,
    })
  }
  server.headersTimeout = limits.headersTimeoutMs
  // Node keeps only the first maxHeadersCount fields and drops the rest unseen: one more than the
  // limit makes a longer head show max + 1 fields here, whatever its length and Node's default.
  server.maxHeadersCount = limits.maxHeaderFields + 1
  const maxRawHeaders = 2 * limits.maxHeaderFields
  const connections = limits.maxConnections > 0 ? watchConnections(server, limits.maxConnections) : undefined
  // HTTP/2's pseudo-header fields (:method, :path, :scheme, :authority) are the request line, not fields.
  const tooManyFields = (raw: FrontRequest, session: ServerHttp2Session | undefined): boolean =>
    raw.rawHeaders.length - (session === undefined ? 0 : pseudoHeaderEntries(raw.rawHeaders)) > maxRawHeaders
  app.addHook('onRequest', (request, reply, done) => {
    const raw = request.raw
    const session = sessionOf(raw)
    if (tooManyFields(raw, session)) {
      request.log.warn({ maxHeaderFields: limits.maxHeaderFields }, 'request over limits.maxHeaderFields: answered 431')
      sendRefusal(closing(reply), 431, 'Request Header Fields Too Large\n')
      return
    }
    if (connections === undefined || !connections.over.has(session ?? raw.socket)) return done()
    request.log.warn(
      { open: connections.open(), maxConnections: limits.maxConnections },
      'connection over limits.maxConnections: answered 503',
    )
    sendRefusal(closing(reply.header('retry-after', '1')), 503, 'Service Unavailable\n')
  })
  return (raw) => {
    const session = sessionOf(raw)
    return tooManyFields(raw, session) || (connections !== undefined && connections.over.has(session ?? raw.socket))
  }
}

/**
 * Counts open connections; those opened past `max` are marked (their requests get 503). An
 * HTTP/2 connection is marked by its session: its requests see the session, not the socket.
 */
function watchConnections(server: Server, max: number): { over: WeakSet<object>; open: () => number } {
  server.maxConnections = hardConnectionCap(max)
  const over = new WeakSet<object>()
  let open = 0
  const tls = 'setSecureContext' in server
  server.on('connection', (socket: Socket) => {
    open++
    socket.once('close', () => {
      open--
    })
    if (!tls && open > max) over.add(socket)
  })
  if (tls)
    server.on('secureConnection', (socket: Socket) => {
      if (open > max) over.add(socket)
    })
  server.on('session', (session: ServerHttp2Session) => {
    if (open > max) over.add(session)
  })
  return { over, open: () => open }
}

function pseudoHeaderEntries(rawHeaders: readonly string[]): number {
  let n = 0
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.startsWith(':')) n += 2
  return n
}

/**
 * Asks for the connection to close after this answer: `Connection: close` over HTTP/1.x; over
 * HTTP/2, where that field is forbidden (RFC 9113 §8.2.2), GOAWAY once the answer is out.
 */
export function closing(reply: FastifyReply): FastifyReply {
  const session = sessionOf(reply.request.raw)
  if (session === undefined) return reply.header('connection', 'close')
  reply.raw.once('finish', () => {
    if (!session.closed) session.close()
  })
  return reply
}

/** True when a Content-Length announces more than `limit` bytes (0: no limit). */
export function declaredTooLarge(headers: { 'content-length'?: string | undefined }, limit: number): boolean {
  if (limit <= 0) return false
  const v = headers['content-length']
  return v !== undefined && /^\d+$/.test(v) && Number(v) > limit
}

export function sendPayloadTooLarge(reply: FastifyReply): void {
  // The rest of the body is not read: an HTTP/1.x connection cannot be reused for another request
  // (an HTTP/2 stream is reset on its own, the connection goes on).
  sendRefusal(
    sessionOf(reply.request.raw) === undefined ? reply.header('connection', 'close') : reply,
    413,
    'Payload Too Large\n',
  )
}

/**
 * The body as a stream that fails with GH_ERR_BODY_TOO_LARGE once more than `limit` bytes went
 * through; `onExceeded` runs first (it answers 413, or cuts the connection when a response has
 * started). A client that aborts its upload fails this stream too.
 */
export function limitBody(body: Readable, limit: number, onExceeded: () => void): Readable {
  let seen = 0
  const out = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length
      if (seen <= limit) return cb(null, chunk)
      body.unpipe(out)
      onExceeded()
      cb(errors.GH_ERR_BODY_TOO_LARGE(limit))
    },
  })
  const fail = (err?: Error): void => {
    out.destroy(err ?? new Error('client aborted the request body'))
  }
  body.once('error', fail)
  body.once('aborted', () => fail())
  out.once('close', () => {
    body.off('error', fail)
  })
  body.pipe(out)
  return out
}
