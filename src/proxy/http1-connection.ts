/**
 * One keep-alive TCP connection of the upstream client (http1-pool.ts): carries one request at a
 * time, feeds the reply to the strict parser (http1-response-parser.ts) and the parsed response
 * to the request's handler. It is handed back for reuse only after a complete response that
 * allows it, with nothing read past its end; every doubt (a parse error, bytes nobody asked
 * for, a timeout, an abort) destroys it, so no response can be read as another request's.
 *
 * Timeouts, each a GH code the target maps to 502/504: connecting, the response head (from the
 * request written until the head is in) and the body (idle time between two reads; the time
 * the client holds the body back does not count).
 */
import { connect, type Socket } from 'node:net'
import { Http1ResponseParser, type ResponseHead } from './http1-response-parser.js'

export type Http1ErrorCode =
  | 'UPSTREAM_CONNECT_TIMEOUT'
  | 'UPSTREAM_HEADERS_TIMEOUT'
  | 'UPSTREAM_BODY_TIMEOUT'
  | 'UPSTREAM_CLOSED'
  | 'UPSTREAM_POOL_CLOSED'

export class Http1ClientError extends Error {
  readonly code: Http1ErrorCode
  constructor(code: Http1ErrorCode, message: string) {
    super(message)
    this.name = 'Http1ClientError'
    this.code = code
  }
}

/** What a request's owner hears. After onEnd or onError nothing more comes. */
export interface Http1Handler {
  onHead(head: ResponseHead): void
  /** Call the request's pause() to hold the rest back, resume() to go on. */
  onBody(chunk: Buffer): void
  onEnd(): void
  onError(err: Error): void
}

/** One request as the pool and its connection see it. */
export interface Http1Exchange {
  readonly method: string
  readonly head: string
  readonly handler: Http1Handler
  /** Already sent once on a stale connection. */
  retried: boolean
}

/** The pool, as its connections report to it. */
export interface ConnectionOwner {
  /** The response is complete and the connection may carry another request. */
  released(conn: Http1Connection): void
  /** The connection is closed; it counts no more. */
  lost(conn: Http1Connection): void
  /** A reused connection failed before any byte of the response: the request may go again. */
  retry(exchange: Http1Exchange): void
}

export interface Http1ConnectionOptions {
  host: string
  port: number
  connectTimeoutMs: number
  headersTimeoutMs: number
  bodyTimeoutMs: number
  maxHeadBytes: number
}

/** Methods that may be sent twice (RFC 9110 §9.2.2), as undici retries them. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE'])

type Phase = 'connect' | 'head' | 'body' | 'none'

export class Http1Connection {
  readonly #socket: Socket
  readonly #owner: ConnectionOwner
  readonly #opts: Http1ConnectionOptions
  readonly #parser: Http1ResponseParser
  #exchange: Http1Exchange | undefined
  #connected = false
  #closed = false
  /** It has carried a complete response before (a failure before any byte may then be staleness). */
  #reused = false
  #received = false
  #complete = false
  #keepAlive = false
  #paused = false
  #phase: Phase = 'connect'
  #timer: NodeJS.Timeout | undefined
  #timerMs = 0
  /** performance.now() when it went idle (the pool's keep-alive limit). */
  idleSince = 0

  constructor(opts: Http1ConnectionOptions, owner: ConnectionOwner) {
    this.#opts = opts
    this.#owner = owner
    this.#parser = new Http1ResponseParser(
      {
        onHead: (head) => this.#onHead(head),
        onBody: (chunk) => this.#exchange?.handler.onBody(chunk),
        onComplete: () => {
          this.#complete = true
        },
      },
      opts.maxHeadBytes,
    )
    this.#socket = connect({ host: opts.host, port: opts.port, noDelay: true })
    this.#arm(opts.connectTimeoutMs)
    this.#socket.once('connect', this.#onConnect)
    this.#socket.on('data', this.#onData)
    this.#socket.once('end', this.#onEnd)
    this.#socket.on('error', this.#onError)
    this.#socket.once('close', this.#onClose)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Writes the request; the connection must be idle (or still connecting, with nothing sent). */
  send(exchange: Http1Exchange): void {
    this.#exchange = exchange
    this.#received = false
    this.#complete = false
    this.#paused = false
    this.#parser.start(exchange.method)
    if (this.#connected) {
      this.#phase = 'head'
      this.#arm(this.#opts.headersTimeoutMs)
    }
    this.#socket.write(exchange.head, 'latin1')
  }

  /** Cuts the exchange short from our side: the connection goes, and nothing more is reported for it. */
  abort(exchange: Http1Exchange): void {
    if (this.#exchange !== exchange) return
    this.#exchange = undefined
    this.destroy()
  }

  pause(exchange: Http1Exchange): void {
    if (this.#exchange !== exchange || this.#paused) return
    this.#paused = true
    this.#socket.pause()
  }

  resume(exchange: Http1Exchange): void {
    if (this.#exchange !== exchange || !this.#paused) return
    this.#paused = false
    if (this.#phase === 'body') this.#arm(this.#opts.bodyTimeoutMs)
    this.#socket.resume()
  }

  /** Closes it at once; idempotent. */
  destroy(): void {
    if (this.#closed) return
    this.#closed = true
    this.#phase = 'none'
    clearTimeout(this.#timer)
    this.#socket.destroy()
    this.#owner.lost(this)
  }

  readonly #onConnect = (): void => {
    this.#connected = true
    this.#socket.setKeepAlive(true, 60_000)
    this.#phase = this.#exchange === undefined ? 'none' : 'head'
    if (this.#exchange !== undefined) this.#arm(this.#opts.headersTimeoutMs)
  }

  #onHead(head: ResponseHead): void {
    this.#keepAlive = head.keepAlive
    this.#phase = 'body'
    this.#arm(this.#opts.bodyTimeoutMs)
    this.#exchange?.handler.onHead(head)
  }

  readonly #onData = (chunk: Buffer): void => {
    const exchange = this.#exchange
    // Bytes nobody asked for: the upstream's idea of where its last response ended is not ours.
    if (exchange === undefined) return this.destroy()
    this.#received = true
    let used: number
    try {
      used = this.#parser.execute(chunk)
    } catch (err) {
      return this.#fail(err as Error)
    }
    if (this.#exchange !== exchange) return // aborted by its handler meanwhile
    if (!this.#complete) {
      if (this.#phase === 'body' && !this.#paused) this.#timer?.refresh()
      return
    }
    this.#finish(exchange, used === chunk.length && this.#keepAlive)
  }

  readonly #onEnd = (): void => {
    const exchange = this.#exchange
    if (exchange === undefined) return this.destroy()
    if (!this.#received) return this.#fail(new Http1ClientError('UPSTREAM_CLOSED', 'upstream closed the connection'))
    try {
      this.#parser.finish()
    } catch (err) {
      return this.#fail(err as Error)
    }
    if (this.#complete) this.#finish(exchange, false)
    else this.#fail(new Http1ClientError('UPSTREAM_CLOSED', 'upstream closed the connection'))
  }

  readonly #onError = (err: Error): void => {
    this.#fail(err)
  }

  readonly #onClose = (): void => {
    this.#fail(new Http1ClientError('UPSTREAM_CLOSED', 'upstream closed the connection'))
  }

  readonly #onTimer = (): void => {
    switch (this.#phase) {
      case 'connect':
        return this.#fail(new Http1ClientError('UPSTREAM_CONNECT_TIMEOUT', 'connecting to the upstream timed out'))
      case 'head':
        return this.#fail(new Http1ClientError('UPSTREAM_HEADERS_TIMEOUT', 'no response head in time'))
      case 'body':
        // Held back by the client: resume() starts the idle time again.
        if (this.#paused) return
        return this.#fail(new Http1ClientError('UPSTREAM_BODY_TIMEOUT', 'response body idle too long'))
      case 'none':
        return
    }
  }

  /** The response is complete: the handler hears the end once the connection is settled. */
  #finish(exchange: Http1Exchange, reusable: boolean): void {
    this.#exchange = undefined
    this.#phase = 'none'
    // The last read may have filled the client's socket: the next exchange starts unpaused.
    if (this.#paused) {
      this.#paused = false
      this.#socket.resume()
    }
    if (reusable) {
      this.#reused = true
      this.#owner.released(this)
    } else this.destroy()
    exchange.handler.onEnd()
  }

  #fail(err: Error): void {
    const exchange = this.#exchange
    this.#exchange = undefined
    const stale = !this.#received && this.#reused && isStale(err)
    this.destroy()
    if (exchange === undefined) return
    if (stale && !exchange.retried && IDEMPOTENT.has(exchange.method)) this.#owner.retry(exchange)
    else exchange.handler.onError(err)
  }

  /** One timer per connection, re-armed (not re-created) while its duration stays the same. */
  #arm(ms: number): void {
    if (this.#timer !== undefined && this.#timerMs === ms) {
      this.#timer.refresh()
      return
    }
    clearTimeout(this.#timer)
    this.#timerMs = ms
    this.#timer = setTimeout(this.#onTimer, ms)
    this.#timer.unref()
  }
}

/** How a connection the upstream closed while idle shows itself on the next write. */
function isStale(err: Error): boolean {
  const code = (err as { code?: string }).code
  return code === 'UPSTREAM_CLOSED' || code === 'ECONNRESET' || code === 'EPIPE'
}
