/**
 * An external HTTP upstream as a route target: a keep-alive undici Pool to one origin, the
 * request body streamed up and the response streamed back, hop-by-hop fields removed both ways.
 * Unreachable → 502, no response head in time → 504 (short text bodies; details only in logs).
 * A client that goes away aborts the upstream request.
 */
import { PassThrough } from 'node:stream'
import type { Readable } from 'node:stream'
import type { FastifyReply } from 'fastify'
import type { Logger } from 'pino'
import { Pool } from 'undici'
import { errors } from '../errors.js'
import { stripHopByHop } from './hop-by-hop.js'
import type { ForwardRequest, Target } from './target.js'

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
const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT'])
const NO_BODY_STATUS = new Set([204, 304])

export class UpstreamTarget implements Target {
  readonly kind = 'upstream' as const
  readonly name: string
  readonly #pool: Pool
  readonly #host: string
  readonly #prefix: string
  readonly #preserveHost: boolean
  readonly #headersTimeout: number
  readonly #bodyTimeout: number
  readonly #log: Logger | undefined
  #closing: Promise<void> | undefined

  constructor(opts: UpstreamTargetOptions) {
    if (typeof opts?.name !== 'string' || opts.name === '') throw errors.GH_ERR_OPT_INVALID('upstream name must be a non-empty string')
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
  }

  async forward(req: ForwardRequest, reply: FastifyReply): Promise<void> {
    const abort = new AbortController()
    const onClose = (): void => { if (!reply.raw.writableFinished) abort.abort() }
    reply.raw.once('close', onClose)
    let res: Awaited<ReturnType<Pool['request']>>
    try {
      res = await this.#pool.request({
        method: req.method,
        path: this.#path(req.url),
        headers: this.#requestHeaders(req),
        body: req.body === null ? null : shield(req.body, abort),
        signal: abort.signal,
        headersTimeout: this.#headersTimeout,
        bodyTimeout: this.#bodyTimeout,
      })
    } catch (err) {
      reply.raw.off('close', onClose)
      if (abort.signal.aborted || reply.raw.destroyed) return
      // Let Node read the rest of the upload so the connection stays usable for the answer.
      if (req.body !== null && !req.body.readableEnded) req.body.resume()
      return this.#fail(reply, err)
    }
    const headers = stripHopByHop(res.headers)
    reply.code(res.statusCode).headers(headers)
    if (req.method === 'HEAD' || NO_BODY_STATUS.has(res.statusCode)) {
      res.body.on('error', () => {}).resume()
      reply.send()
      return
    }
    // From here Fastify owns both streams: a client close destroys the body (and so the
    // upstream request); an upstream error after the head destroys the client response.
    reply.send(res.body)
  }

  #fail(reply: FastifyReply, err: unknown): void {
    const timedOut = TIMEOUT_CODES.has((err as { code?: string }).code ?? '')
    const error = timedOut
      ? errors.GH_ERR_UPSTREAM_TIMEOUT(this.name, { cause: err })
      : errors.GH_ERR_UPSTREAM_FAILED(this.name, describe(err), { cause: err })
    ;(this.#log ?? reply.log).warn({ err: error, upstream: this.name }, 'upstream request failed')
    const text = error.statusCode === 504 ? 'Gateway Timeout' : 'Bad Gateway'
    reply.code(error.statusCode).header('content-type', 'text/plain; charset=utf-8').send(`${text}\n`)
  }

  close(): Promise<void> {
    this.#closing ??= this.#pool.close()
    return this.#closing
  }

  #path(url: string): string {
    const target = url.startsWith('/') ? url : `/${url}`
    return this.#prefix === '' ? target : this.#prefix + target
  }

  #requestHeaders(req: ForwardRequest): Record<string, string | string[]> {
    const headers = stripHopByHop(req.headers, { passProxyAuth: true })
    for (const name of Object.keys(headers)) {
      if (NOT_FORWARDED.has(name.toLowerCase())) delete headers[name]
    }
    const clientHost = req.headers.host
    headers.host = this.#preserveHost && typeof clientHost === 'string' ? clientHost : this.#host
    return headers
  }
}

function parseUpstreamUrl(name: string, value: unknown): URL {
  let url: URL
  try {
    url = new URL(String(value))
  } catch {
    throw errors.GH_ERR_OPT_INVALID(`upstream ${name}: url must be an absolute http(s) URL, got ${JSON.stringify(value)}`)
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
function shield(body: Readable, abort: AbortController): Readable {
  const pass = new PassThrough()
  const onAbort = (): void => {
    abort.abort()
    pass.destroy(new Error('client aborted the request body'))
  }
  body.once('aborted', onAbort)
  body.once('error', onAbort)
  pass.once('close', () => { body.off('aborted', onAbort); body.off('error', onAbort) })
  body.pipe(pass)
  return pass
}

function describe(err: unknown): string {
  const e = err as { code?: string; message?: string; cause?: { code?: string } }
  return e.cause?.code ?? e.code ?? e.message ?? 'unknown error'
}
