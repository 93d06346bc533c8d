/**
 * One fast-path request through the upstream HTTP/1.1 client (http1-pool.ts): writes the
 * parsed upstream response to the bare Node response the way UpstreamTarget's undici handler
 * does. Hop-by-hop fields (and Proxy-Authenticate) are dropped; a response with a declared
 * length up to 64 KiB, or any response complete within the read that brought its head, is
 * collected and sent with one write; a longer one is streamed with backpressure (the upstream
 * connection is paused while the client's socket is full).
 * Before the head is written a failure is the caller's 502/504; after it the client connection
 * is cut, since the status is gone. A client that goes away aborts the upstream request, which
 * closes the upstream connection.
 */
import type { ServerResponse } from 'node:http'
import type { Http1Handler } from './http1-connection.js'
import type { Http1Request } from './http1-pool.js'
import type { ResponseHead } from './http1-response-parser.js'
import { connectionOptions, isHopByHop, isProxyAuth, withoutListed } from './hop-by-hop.js'

/** Responses with a declared length up to this are collected and written once. */
const COLLECT_LIMIT = 64 * 1024

export interface ExchangeFailure {
  /** Nothing sent yet: log, then answer 502/504 on `res`. */
  beforeHead(res: ServerResponse, accept: string | string[] | undefined, err: unknown): void
  /** The head is out: only the log can say what happened. */
  afterHead(err: unknown): void
}

export class UpstreamHttp1Exchange implements Http1Handler {
  readonly #res: ServerResponse
  readonly #accept: string | string[] | undefined
  readonly #failure: ExchangeFailure
  #request: Http1Request | undefined
  #done = false
  #started = false
  #status = 0
  #headers: string[] = []
  #collected: Buffer[] | undefined
  #onDrain: (() => void) | undefined

  constructor(res: ServerResponse, accept: string | string[] | undefined, failure: ExchangeFailure) {
    this.#res = res
    this.#accept = accept
    this.#failure = failure
    res.once('close', this.#onClientClose)
  }

  /** The request the pool took: what a client that leaves aborts. */
  attach(request: Http1Request): void {
    this.#request = request
    if (this.#done) request.abort()
  }

  readonly #onClientClose = (): void => {
    if (this.#done || this.#res.writableFinished) return
    this.#done = true
    this.#request?.abort()
  }

  onHead(head: ResponseHead): void {
    if (this.#done) return
    this.#status = head.status
    this.#headers = responseFields(head.headers)
    this.#collected = []
    // A longer or open-ended body streams, but its head waits for the rest of this read: a
    // framing error in the same packet (a bad first chunk size) is still a clean 502.
    if (head.contentLength < 0 || head.contentLength > COLLECT_LIMIT) queueMicrotask(this.#startStreaming)
  }

  readonly #startStreaming = (): void => {
    const held = this.#collected
    if (this.#done || held === undefined) return
    this.#collected = undefined
    if (!this.#writeHead()) return
    for (const chunk of held) this.onBody(chunk)
  }

  onBody(chunk: Buffer): void {
    if (this.#done) return
    if (this.#collected !== undefined) {
      // Each socket read is a buffer of its own, so the parser's slices can be kept as they are.
      this.#collected.push(chunk)
      return
    }
    if (!this.#started || this.#res.write(chunk)) return
    const request = this.#request
    if (request === undefined) return
    request.pause()
    this.#onDrain ??= () => request.resume()
    this.#res.once('drain', this.#onDrain)
  }

  onEnd(): void {
    if (this.#done) return
    const collected = this.#collected
    if (collected === undefined) {
      this.#done = true
      if (this.#started) this.#res.end()
      return
    }
    this.#collected = undefined
    if (!this.#writeHead()) return
    this.#done = true
    this.#res.end(collected.length === 1 ? collected[0] : Buffer.concat(collected))
  }

  onError(err: Error): void {
    if (this.#done) return
    this.#done = true
    this.#collected = undefined
    this.#res.off('close', this.#onClientClose)
    if (this.#started) {
      // Mid-body: the client cannot be told; cut its connection so it sees a truncated response.
      this.#failure.afterHead(err)
      this.#res.destroy(err)
      return
    }
    if (!this.#res.destroyed) this.#failure.beforeHead(this.#res, this.#accept, err)
  }

  /** Writes the head; false (and the 502 sent) if Node refused a field. */
  #writeHead(): boolean {
    try {
      this.#res.writeHead(this.#status, this.#headers)
    } catch (err) {
      // An upstream field value Node refuses to send: nothing is sent yet, so a 502.
      this.#request?.abort()
      this.onError(err as Error)
      return false
    }
    this.#started = true
    return true
  }
}

/**
 * The upstream's end-to-end fields, flat as writeHead takes them: hop-by-hop fields and
 * Proxy-Authenticate (for this hop) dropped in one pass, Connection's list in a second only
 * when the upstream named more than keep-alive or close.
 */
function responseFields(flat: readonly string[]): string[] {
  const out: string[] = []
  let connection: string[] | undefined
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    const lower = name.toLowerCase()
    if (lower === 'connection') (connection ??= []).push(flat[i + 1] as string)
    if (isHopByHop(lower) || isProxyAuth(lower)) continue
    out.push(name, flat[i + 1] as string)
  }
  if (connection === undefined) return out
  const listed = connectionOptions(connection)
  listed.delete('keep-alive')
  listed.delete('close')
  return withoutListed(out, listed)
}
