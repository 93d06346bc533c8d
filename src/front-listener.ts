/**
 * The kind of server the front listens with: plain HTTP/1.1, HTTPS, or HTTPS with HTTP/2 beside
 * HTTP/1.1 (ALPN offers h2 and http/1.1: browsers and curl pick h2, older clients still get in).
 * HTTP/2 multiplexes requests on one connection, so `limits.maxConnections` still counts TCP
 * connections and `limits.maxConcurrentStreams` bounds the requests each may have in flight.
 */
import type { Http2SecureServer, ServerHttp2Session } from 'node:http2'
import type { FastifyInstance } from 'fastify'
import type { ListenConfig, LimitsConfig } from './config/types.js'
import { tlsServerLimitOptions } from './limits.js'
import type { CertificatePair } from './tls-certificate.js'

/** The part of Fastify's options that picks the server; spread into Fastify({...}). */
export function listenerOptions(
  listen: ListenConfig,
  limits: LimitsConfig,
  pair: CertificatePair | undefined,
): Record<string, unknown> {
  if (pair === undefined) return {}
  const https = { cert: pair.cert, key: pair.key, ...tlsServerLimitOptions(limits) }
  if (!listen.http2) return { https }
  return {
    http2: true,
    // An idle session is closed with GOAWAY, which lets its streams finish: the HTTP/2 keep-alive.
    http2SessionTimeout: limits.keepAliveTimeoutMs,
    https: {
      ...https,
      allowHTTP1: true,
      settings: { maxConcurrentStreams: limits.maxConcurrentStreams, maxHeaderListSize: limits.maxHeaderSize },
      // The four pseudo-header fields ride along; one more than the limit lets the front answer 431 itself.
      maxHeaderListPairs: limits.maxHeaderFields + 5,
    },
  }
}

/**
 * Closing the front sends GOAWAY to every HTTP/2 session: streams in flight finish, idle
 * sessions end (Node 20's server.close() waits for them otherwise, like HTTP/1.1 keep-alive
 * connections it closes itself).
 */
export function closeSessionsOnClose(app: FastifyInstance): void {
  const server = app.server as unknown as Http2SecureServer
  const sessions = new Set<ServerHttp2Session>()
  server.on('session', (session: ServerHttp2Session) => {
    sessions.add(session)
    session.once('close', () => sessions.delete(session))
  })
  app.addHook('preClose', (done) => {
    for (const s of sessions) if (!s.closed) s.close()
    done()
  })
}
