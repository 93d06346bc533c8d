/**
 * The facts of a request the front decides on, read the same way from an HTTP/1.x message and
 * from an HTTP/2 stream (Node's compatibility request). HTTP/2 carries the method, target,
 * scheme and authority in pseudo-header fields (`:method`, `:path`, `:scheme`, `:authority`,
 * RFC 9113 §8.3.1) and has no Content-Length or Transfer-Encoding to say a body follows: a
 * stream whose HEADERS frame did not end it carries one (RFC 9113 §8.1).
 * @see https://www.rfc-editor.org/rfc/rfc9113#section-8.3.1
 */
import type { IncomingMessage } from 'node:http'
import type { Http2ServerRequest, ServerHttp2Session } from 'node:http2'
import type { AddressInfo } from 'node:net'

export type FrontRequest = IncomingMessage | Http2ServerRequest

export interface RequestFacts {
  method: string
  /** Path and query as received (`:path` over HTTP/2). */
  target: string
  /** `:authority` over HTTP/2 (Host when a client sent only that), Host over HTTP/1.x. */
  authority: string | undefined
  scheme: 'http' | 'https'
  /** A body follows the head, whether or not its length was announced. */
  hasBody: boolean
  remoteAddress: string
  localPort: number
  encrypted: boolean
  httpVersion: '1.0' | '1.1' | '2.0'
}

export function requestFacts(raw: FrontRequest): RequestFacts {
  const h2 = isHttp2(raw)
  const socket = raw.socket as {
    remoteAddress?: string
    localPort?: number
    encrypted?: boolean
    address(): AddressInfo | object
  }
  const encrypted = socket.encrypted === true
  return {
    method: raw.method ?? 'GET',
    target: raw.url ?? '/',
    authority: authorityOf(raw),
    scheme: encrypted ? 'https' : 'http',
    hasBody: h2 ? !(raw as Http2ServerRequest).stream.endAfterHeaders : declaresBody(raw.headers),
    remoteAddress: socket.remoteAddress ?? '',
    localPort: socket.localPort ?? (socket.address() as Partial<AddressInfo>).port ?? 0,
    encrypted,
    httpVersion: h2 ? '2.0' : raw.httpVersion === '1.0' ? '1.0' : '1.1',
  }
}

export function isHttp2(raw: FrontRequest): raw is Http2ServerRequest {
  return raw.httpVersionMajor === 2
}

/** The host the client addressed: `:authority` over HTTP/2, else Host. */
export function authorityOf(raw: FrontRequest): string | undefined {
  const headers = raw.headers as Record<string, string | string[] | undefined>
  const authority = isHttp2(raw) ? headers[':authority'] : undefined
  const value = authority ?? headers.host
  return typeof value === 'string' ? value : undefined
}

/**
 * An HTTP/2 request whose Host names another authority than `:authority`: a server SHOULD treat
 * it as malformed (RFC 9113 §8.3.1), or the front and the target could route it differently.
 * Returns a reason, or undefined.
 */
export function authorityMismatch(raw: FrontRequest): string | undefined {
  if (!isHttp2(raw)) return undefined
  const authority = raw.headers[':authority']
  const host = raw.headers.host
  if (authority === undefined || host === undefined || host.toLowerCase() === String(authority).toLowerCase())
    return undefined
  return 'Host names another authority than :authority'
}

/** The HTTP/2 connection a request came on; undefined for HTTP/1.x. */
export function sessionOf(raw: FrontRequest): ServerHttp2Session | undefined {
  return isHttp2(raw) ? (raw.stream.session as ServerHttp2Session | undefined) : undefined
}

/** HTTP/1.x: a body follows when Content-Length is not 0, or a Transfer-Encoding is given (RFC 9112 §6.3). */
function declaresBody(headers: IncomingMessage['headers']): boolean {
  const length = headers['content-length']
  return length !== undefined ? length !== '0' : headers['transfer-encoding'] !== undefined
}
