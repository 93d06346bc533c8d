/**
 * An external HTTP upstream as a route target: a keep-alive undici Pool to one origin, the
 * request body streamed up and the response streamed back, hop-by-hop fields removed both ways.
 * Unreachable → 502, no response head in time → 504 (short text bodies; details only in logs).
 * A client that goes away aborts the upstream request.
 *
 * The response is written by an undici dispatch handler straight to the Node response (the
 * reply is hijacked once the upstream head is in): no Readable, no pipe, no promise per chunk.
 * A small response with a Content-Length is collected and sent with one write.
 */
import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'
import { maxHeaderSize, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { Pool } from './undici-pool.js'
import type { Dispatcher } from 'undici'
import { errors } from '../errors.js'
import { sendRefusal, writeRefusal } from '../error-page.js'
import { connectionOptions, isHopByHop, isProxyAuth, withoutListed } from './hop-by-hop.js'
import type { ForwardRequest, Target } from './target.js'
import { Http1Pool } from './http1-pool.js'
import { requestHead } from './http1-request-head.js'
import { UpstreamHttp1Exchange, type ExchangeFailure } from './upstream-http1-exchange.js'

export interface UpstreamTargetOptions {
  name: string
  /** http(s)://host[:port][/path-prefix]; no query, fragment or credentials. */
  url: string
  /** Most connections kept to the upstream. Default 64. */
  connections?: number
  /** Longest wait for the response head. Default 60000 ms. */
  headersTimeoutMs?: number
  /** Longest idle time between two chunks of the response body. Default 60000 ms. */
  bodyTimeoutMs?: number
  /** Send the client's Host instead of the upstream's. Default false. */
  preserveHost?: boolean
  log?: Logger
}

/** Request fields undici owns or refuses (Expect is answered by Node's server already). */
const NOT_FORWARDED = new Set(['host', 'expect'])
const TIMEOUT_CODES = new Set([
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_CONNECT_TIMEOUT',
  'UPSTREAM_HEADERS_TIMEOUT',
  'UPSTREAM_CONNECT_TIMEOUT',
])
/** undici's defaults, which the HTTP/1.1 client keeps: connect timeout, idle keep-alive time. */
const CONNECT_TIMEOUT_MS = 10_000
const KEEP_ALIVE_MS = 4_000
/** Responses with a declared length up to this are collected and written once. */
const COLLECT_LIMIT = 64 * 1024

export class UpstreamTarget implements Target {
  readonly kind = 'upstream' as const
  readonly name: string
  readonly #pool: Pool
  /** The fast path's client for a plain-http origin; TLS origins stay with undici. */
  readonly #http1: Http1Pool | undefined
  readonly #host: string
  readonly #prefix: string
  readonly #preserveHost: boolean
  readonly #headersTimeout: number
  readonly #bodyTimeout: number
  readonly #log: Logger | undefined
  #closing: Promise<void> | undefined

  constructor(opts: UpstreamTargetOptions) {
    if (typeof opts?.name !== 'string' || opts.name === '')
      throw errors.GH_ERR_OPT_INVALID('upstream name must be a non-empty string')
    const url = parseUpstreamUrl(opts.name, opts.url)
    this.name = opts.name
    this.#host = url.host
    this.#prefix = url.pathname.replace(/\/+$/, '')
    this.#preserveHost = opts.preserveHost === true
    this.#headersTimeout = positiveInt(opts.name, 'headersTimeoutMs', opts.headersTimeoutMs, 60_000)
    this.#bodyTimeout = positiveInt(opts.name, 'bodyTimeoutMs', opts.bodyTimeoutMs, 60_000)
    this.#log = opts.log
    this.#pool = new Pool(url.origin, {
      connections: positiveInt(opts.name, 'connections', opts.connections, 64),
      headersTimeout: this.#headersTimeout,
      bodyTimeout: this.#bodyTimeout,
    })
    this.#http1 =
      url.protocol === 'http:'
        ? new Http1Pool({
            host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
            port: url.port === '' ? 80 : Number(url.port),
            connections: positiveInt(opts.name, 'connections', opts.connections, 64),
            connectTimeoutMs: CONNECT_TIMEOUT_MS,
            headersTimeoutMs: this.#headersTimeout,
            bodyTimeoutMs: this.#bodyTimeout,
            keepAliveMs: KEEP_ALIVE_MS,
            // The same limit undici and Node's server apply: --max-http-header-size.
            maxHeadBytes: maxHeaderSize,
          })
        : undefined
  }

  /** Resolves once the reply is handed over: the upstream head is in, or a 502/504 was sent, or the client left. */
  forward(req: ForwardRequest, reply: FastifyReply): Promise<void> {
    return new Promise((resolve) => this.#dispatch(new Exchange(req, reply, reply.raw, resolve, this.#report)))
  }

  /**
   * The same exchange written to a bare Node response (the front's fast path): no Fastify reply
   * to hand over, no fields set before the upstream's, a 502/504 worded as sendRefusal does.
   */
  forwardTo(req: ForwardRequest, res: ServerResponse): void {
    if (this.#http1 === undefined || req.body !== null) {
      this.#dispatch(new Exchange(req, undefined, res, noop, this.#report))
      return
    }
    const exchange = new UpstreamHttp1Exchange(res, req.headers.accept, this.#http1Failure)
    let head: string
    try {
      head = requestHead(req.method, this.#path(req.url), this.#requestHeaders(req))
    } catch (err) {
      exchange.onError(err as Error)
      return
    }
    exchange.attach(this.#http1.request(req.method, head, exchange))
  }

  readonly #http1Failure: ExchangeFailure = {
    beforeHead: (res, accept, err) => this.#fail(undefined, res, accept, err),
    afterHead: (err) => this.#report.afterHead(undefined, err),
  }

  #dispatch(exchange: Exchange): void {
    const req = exchange.request
    this.#pool.dispatch(
      {
        method: req.method as Dispatcher.HttpMethod,
        path: this.#path(req.url),
        headers: this.#requestHeaders(req),
        body: req.body === null ? null : shield(req.body, exchange),
        headersTimeout: this.#headersTimeout,
        bodyTimeout: this.#bodyTimeout,
      },
      exchange,
    )
  }

  /** Shared by every exchange of this target (no closures per request). */
  readonly #report: FailureReport = {
    beforeHead: (exchange, err) => this.#fail(exchange.reply, exchange.response, exchange.request.headers.accept, err),
    afterHead: (reply, err) => {
      const error = errors.GH_ERR_UPSTREAM_FAILED(this.name, describe(err), { cause: err })
      ;(this.#log ?? reply?.log)?.warn({ err: error, upstream: this.name }, 'upstream response cut short')
    },
  }

  #fail(
    reply: FastifyReply | undefined,
    res: ServerResponse,
    accept: string | string[] | undefined,
    err: unknown,
  ): void {
    const timedOut = TIMEOUT_CODES.has((err as { code?: string }).code ?? '')
    const error = timedOut
      ? errors.GH_ERR_UPSTREAM_TIMEOUT(this.name, { cause: err })
      : errors.GH_ERR_UPSTREAM_FAILED(this.name, describe(err), { cause: err })
    ;(this.#log ?? reply?.log)?.warn({ err: error, upstream: this.name }, 'upstream request failed')
    const text = error.statusCode === 504 ? 'Gateway Timeout\n' : 'Bad Gateway\n'
    if (reply !== undefined) sendRefusal(reply, error.statusCode, text)
    else writeRefusal(res, accept, error.statusCode, text)
  }

  close(): Promise<void> {
    this.#closing ??= Promise.all([this.#pool.close(), this.#http1?.close()]).then(noop)
    return this.#closing
  }

  #path(url: string): string {
    const target = url.startsWith('/') ? url : `/${url}`
    return this.#prefix === '' ? target : this.#prefix + target
  }

  /**
   * A flat [name, value, …] list, which undici takes as is. One pass: each name is lower-cased
   * once and the hop-by-hop fields dropped as they come; Connection's own list (the front has
   * removed Connection already, a library caller may not have) costs a second pass only when
   * one is there. Proxy-Authorization goes on: the route decided about it.
   */
  #requestHeaders(req: ForwardRequest): string[] {
    const headers = req.headers
    // Host first, as undici and Node's client write it: an upstream that keeps only its first N
    // fields (Node's maxHeadersCount) and requires Host (Node's default) still finds it.
    const clientHost = headers.host
    const flat: string[] = ['host', this.#preserveHost && typeof clientHost === 'string' ? clientHost : this.#host]
    let connection: string[] | undefined
    for (const name in headers) {
      const value = headers[name]
      if (value === undefined) continue
      const lower = name.toLowerCase()
      if (lower === 'connection') (connection ??= []).push(...(Array.isArray(value) ? value : [value]))
      if (isHopByHop(lower) || NOT_FORWARDED.has(lower)) continue
      if (typeof value === 'string') flat.push(name, value)
      else for (const v of value) flat.push(name, String(v))
    }
    // The Host in front is ours and stays.
    return connection === undefined ? flat : withoutListed(flat, connectionOptions(connection), 2)
  }
}

interface FailureReport {
  /** Nothing sent yet: log, then answer 502/504. */
  beforeHead(exchange: Exchange, err: unknown): void
  /** The head is out: only the log can say what happened. */
  afterHead(reply: FastifyReply | undefined, err: unknown): void
}

function noop(): void {}

/**
 * One request's undici handler: maps the upstream response onto the Node response.
 * Before the head: a failure is a 502/504 through Fastify. After it: the client connection is
 * destroyed (the status is gone). A client that goes away aborts the upstream request.
 */
class Exchange implements Dispatcher.DispatchHandler {
  readonly #req: ForwardRequest
  /** Undefined on the fast path: `#res` is then written directly. */
  readonly #reply: FastifyReply | undefined
  readonly #res: ServerResponse
  readonly #handedOver: () => void
  readonly #report: FailureReport
  #controller: Dispatcher.DispatchController | undefined
  /** Why the exchange was cut short from our side (client gone), applied once undici connects. */
  #abortReason: Error | undefined
  #started = false
  #collected: Buffer[] | undefined
  #status = 0
  #headers: Record<string, string | string[] | number> | undefined
  #onDrain: (() => void) | undefined

  constructor(
    req: ForwardRequest,
    reply: FastifyReply | undefined,
    res: ServerResponse,
    handedOver: () => void,
    report: FailureReport,
  ) {
    this.#req = req
    this.#reply = reply
    this.#res = res
    this.#handedOver = handedOver
    this.#report = report
    this.#res.once('close', this.#onClientClose)
  }

  get request(): ForwardRequest {
    return this.#req
  }

  get reply(): FastifyReply | undefined {
    return this.#reply
  }

  get response(): ServerResponse {
    return this.#res
  }

  readonly #onClientClose = (): void => {
    if (!this.#res.writableFinished) this.abort(new Error('client closed the connection'))
  }

  /** Aborts the upstream request (now, or as soon as undici hands out its controller). */
  abort(reason: Error): void {
    if (this.#abortReason !== undefined) return
    this.#abortReason = reason
    this.#controller?.abort(reason)
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.#controller = controller
    if (this.#abortReason !== undefined) controller.abort(this.#abortReason)
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: IncomingHttpHeaders): void {
    if (statusCode < 200) return // 1xx: Node's server speaks for itself (100-continue); others are dropped
    this.#status = statusCode
    this.#headers = responseHeaders(this.#reply?.getHeaders(), headers)
    const length = Number(headers['content-length'])
    if (this.#req.method !== 'HEAD' && length > 0 && length <= COLLECT_LIMIT) {
      this.#collected = []
      return
    }
    if (this.#writeHead(controller)) this.#handedOver()
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    if (this.#collected !== undefined) {
      this.#collected.push(chunk)
      return
    }
    if (!this.#started || this.#res.write(chunk)) return
    controller.pause()
    this.#onDrain ??= () => controller.resume()
    this.#res.once('drain', this.#onDrain)
  }

  onResponseEnd(controller: Dispatcher.DispatchController): void {
    const collected = this.#collected
    if (collected === undefined) {
      if (this.#started) this.#res.end()
      return
    }
    this.#collected = undefined
    if (!this.#writeHead(controller)) return
    this.#res.end(collected.length === 1 ? collected[0] : Buffer.concat(collected))
    this.#handedOver()
  }

  onResponseError(_controller: Dispatcher.DispatchController | undefined, err: Error): void {
    this.#collected = undefined
    if (this.#started) {
      // Mid-body: the client cannot be told; cut its connection so it sees a truncated response.
      if (this.#abortReason === undefined) this.#report.afterHead(this.#reply, err)
      this.#res.destroy(err)
      return
    }
    if (this.#abortReason === undefined && !this.#res.destroyed) this.#failBeforeHead(err)
    else this.#handedOver()
  }

  /** Nothing sent yet: a 502/504 through Fastify. */
  #failBeforeHead(err: unknown): void {
    this.#res.off('close', this.#onClientClose)
    // Let Node read the rest of the upload so the connection stays usable for the answer.
    const body = this.#req.body
    if (body !== null && !body.readableEnded) body.resume()
    this.#report.beforeHead(this, err)
    this.#handedOver()
  }

  /** Hands the Node response over from Fastify and writes the head; false if it could not. */
  #writeHead(controller: Dispatcher.DispatchController): boolean {
    if (this.#abortReason !== undefined) return false
    try {
      this.#res.writeHead(this.#status, this.#headers)
    } catch (err) {
      // An upstream field value Node refuses to send: nothing is sent yet, so a 502.
      this.#abortReason = err as Error
      controller.abort(err as Error)
      this.#failBeforeHead(err)
      return false
    }
    this.#reply?.hijack()
    this.#started = true
    return true
  }
}

/**
 * The upstream's end-to-end fields over the ones already set on the reply (e.g.
 * Authentication-Info), as Fastify's reply.headers() would merge them. undici hands the names
 * lower-cased; hop-by-hop fields (and Proxy-Authenticate, which is for this hop) are dropped in
 * the same pass, Connection's list in a second only when the upstream sent one.
 */
function responseHeaders(
  own: Record<string, string | string[] | number | undefined> | undefined,
  upstream: IncomingHttpHeaders,
): Record<string, string | string[] | number> {
  const out: Record<string, string | string[] | number> = {}
  for (const name in upstream) {
    const value = upstream[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (isHopByHop(lower) || isProxyAuth(lower)) continue
    out[name] = value
  }
  const connection = upstream.connection
  // `Connection: keep-alive`, what nearly every upstream sends, names only Keep-Alive, dropped above.
  if (connection !== undefined && (typeof connection !== 'string' || connection.toLowerCase() !== 'keep-alive')) {
    for (const listed of connectionOptions(connection)) {
      for (const name in out) if (name.toLowerCase() === listed) delete out[name]
    }
  }
  if (own === undefined) return out
  for (const name in own) {
    const value = own[name]
    if (value === undefined) continue
    const theirs = out[name]
    if (theirs === undefined) out[name] = value
    else if (name === 'set-cookie') out[name] = [...toList(value), ...toList(theirs)]
  }
  return out
}

function toList(v: string | string[] | number): string[] {
  return Array.isArray(v) ? v : [String(v)]
}

function parseUpstreamUrl(name: string, value: unknown): URL {
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    throw errors.GH_ERR_OPT_INVALID(
      `upstream ${name}: url must be an absolute http(s) URL, got ${JSON.stringify(value)}`,
    )
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw errors.GH_ERR_OPT_INVALID(`upstream ${name}: url must use http or https, got ${url.protocol}`)
  }
  if (url.search !== '' || url.hash !== '' || url.username !== '' || url.password !== '') {
    throw errors.GH_ERR_OPT_INVALID(`upstream ${name}: url must not carry a query, fragment or credentials`)
  }
  return url
}

function positiveInt(name: string, key: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw errors.GH_ERR_OPT_INVALID(`upstream ${name}: ${key} must be a positive integer, got ${String(value)}`)
  }
  return value
}

/**
 * The stream undici reads and, on failure, destroys: a PassThrough in front of the client's
 * request, so an upstream failure leaves the client connection able to carry the 502/504.
 * A client that aborts its upload aborts the upstream request.
 */
function shield(body: Readable, exchange: Exchange): Readable {
  const pass = new PassThrough()
  const onAbort = (): void => {
    const err = new Error('client aborted the request body')
    exchange.abort(err)
    pass.destroy(err)
  }
  body.once('aborted', onAbort)
  body.once('error', onAbort)
  pass.once('close', () => {
    body.off('aborted', onAbort)
    body.off('error', onAbort)
  })
  body.pipe(pass)
  return pass
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  return e.cause?.code ?? e.code ?? e.message ?? 'unknown error'
}
