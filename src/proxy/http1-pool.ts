/**
 * The upstream client's keep-alive pool for one plain-HTTP origin: at most `connections` TCP
 * connections (http1-connection.ts), the most recently used idle one first, requests beyond the
 * limit waiting in line. A connection idle longer than the keep-alive time is closed instead of
 * used (upstreams close theirs after a few seconds: Node's default is 5 s). A request sent on
 * a reused connection that the upstream had closed meanwhile (it failed before any byte of the
 * response) goes once more on a fresh one, as undici does, when its method is idempotent.
 */
import { performance } from 'node:perf_hooks'
import {
  Http1ClientError,
  Http1Connection,
  type ConnectionOwner,
  type Http1ConnectionOptions,
  type Http1Exchange,
  type Http1Handler,
} from './http1-connection.js'

export interface Http1PoolOptions extends Http1ConnectionOptions {
  /** Most connections open at once. */
  connections: number
  /** Longest time an idle connection is kept for reuse. */
  keepAliveMs: number
}

/** A request handed to the pool: how its owner holds the response back or cuts it short. */
export class Http1Request implements Http1Exchange {
  readonly method: string
  readonly head: string
  readonly handler: Http1Handler
  retried = false
  readonly #pool: Http1Pool
  /** The connection carrying it, once it has one. */
  connection: Http1Connection | undefined
  #aborted = false

  constructor(pool: Http1Pool, method: string, head: string, handler: Http1Handler) {
    this.#pool = pool
    this.method = method
    this.head = head
    this.handler = handler
  }

  /** Stops it wherever it is (in line or on a connection, which is then closed); no callback follows. */
  abort(): void {
    if (this.#aborted) return
    this.#aborted = true
    if (this.connection === undefined) this.#pool.dequeue(this)
    else this.connection.abort(this)
  }

  pause(): void {
    this.connection?.pause(this)
  }

  resume(): void {
    this.connection?.resume(this)
  }
}

export class Http1Pool implements ConnectionOwner {
  readonly #opts: Http1PoolOptions
  readonly #idle: Http1Connection[] = []
  #line: Http1Request[] = []
  #open = 0
  #closed = false
  #drained: (() => void) | undefined

  constructor(opts: Http1PoolOptions) {
    this.#opts = opts
  }

  /** Sends a bodiless request (`head` from requestHead()); the handler hears its response. */
  request(method: string, head: string, handler: Http1Handler): Http1Request {
    const request = new Http1Request(this, method, head, handler)
    if (this.#closed) {
      queueMicrotask(() => handler.onError(new Http1ClientError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed')))
      return request
    }
    const conn = this.#takeIdle() ?? (this.#open < this.#opts.connections ? this.#connect() : undefined)
    if (conn === undefined) this.#line.push(request)
    else this.#send(conn, request)
    return request
  }

  /** Closes idle connections now and the others once their response is complete. */
  close(): Promise<void> {
    this.#closed = true
    for (const conn of this.#idle.splice(0)) conn.destroy()
    const waiting = this.#line
    this.#line = []
    const err = new Http1ClientError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed')
    for (const request of waiting) request.handler.onError(err)
    if (this.#open === 0) return Promise.resolve()
    return new Promise((resolve) => {
      this.#drained = resolve
    })
  }

  dequeue(request: Http1Request): void {
    const i = this.#line.indexOf(request)
    if (i >= 0) this.#line.splice(i, 1)
  }

  released(conn: Http1Connection): void {
    if (this.#closed) return conn.destroy()
    const next = this.#line.shift()
    if (next !== undefined) return this.#send(conn, next)
    conn.idleSince = performance.now()
    this.#idle.push(conn)
  }

  lost(conn: Http1Connection): void {
    this.#open--
    const i = this.#idle.lastIndexOf(conn)
    if (i >= 0) this.#idle.splice(i, 1)
    if (this.#closed) {
      if (this.#open === 0) this.#drained?.()
      return
    }
    const next = this.#line.shift()
    if (next !== undefined) this.#send(this.#connect(), next)
  }

  retry(exchange: Http1Exchange): void {
    const request = exchange as Http1Request
    request.retried = true
    request.connection = undefined
    if (this.#closed)
      return request.handler.onError(new Http1ClientError('UPSTREAM_POOL_CLOSED', 'the upstream pool is closed'))
    // A fresh connection: another idle one may be as stale as the first.
    if (this.#open < this.#opts.connections) this.#send(this.#connect(), request)
    else this.#line.unshift(request)
  }

  #send(conn: Http1Connection, request: Http1Request): void {
    request.connection = conn
    conn.send(request)
  }

  #takeIdle(): Http1Connection | undefined {
    const now = performance.now()
    for (let conn = this.#idle.pop(); conn !== undefined; conn = this.#idle.pop()) {
      if (now - conn.idleSince <= this.#opts.keepAliveMs && !conn.closed) return conn
      conn.destroy()
    }
    return undefined
  }

  #connect(): Http1Connection {
    this.#open++
    return new Http1Connection(this.#opts, this)
  }
}
