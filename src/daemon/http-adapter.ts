/**
 * Inside a worker: turns one framed stream into the `(req, res)` pair a Node request listener
 * expects — a real http.IncomingMessage fed with DATA frames, and a real http.ServerResponse
 * whose head and body are sent as frames instead of HTTP/1.1 bytes. Node's own header
 * validation, writeHead/setHeader semantics, HEAD/204/304 rules and 'finish'/'close' events
 * stay intact, so plain node:http, Fastify, Express and Koa handlers run unchanged.
 */
import { IncomingMessage, ServerResponse, type OutgoingHttpHeader, type OutgoingHttpHeaders } from 'node:http'
import { Writable } from 'node:stream'
import { CreditReceiver, CreditSender } from '../ipc/flow.js'
import { MAX_DATA_BYTES, type RequestHead, type ResponseHead } from '../ipc/protocol.js'

/** What the adapter needs from the connection it lives on. */
export interface StreamSink {
  head(head: ResponseHead): void
  data(chunk: Buffer): void
  end(): void
  /** The response was destroyed before it ended (the app gave up on it). */
  abort(reason: string): void
  credit(bytes: number): void
  sender: CreditSender
}

/**
 * Stands in for the TCP socket: what the listener reads from `req.socket` (the client's address).
 * No bytes are written to it (FramedResponse._writeRaw drops ServerResponse's HTTP/1.1 bytes);
 * it stays a Writable because ServerResponse corks and uncorks it.
 */
export class StreamSocket extends Writable {
  readonly remoteAddress: string
  readonly remoteFamily: string
  readonly remotePort = 0
  readonly encrypted = false

  constructor(remoteAddress: string) {
    // Huge high-water mark: writes here never push back; real flow control is the sink's credit.
    super({ highWaterMark: 2 ** 30, decodeStrings: false })
    this.remoteAddress = remoteAddress
    this.remoteFamily = remoteAddress.includes(':') ? 'IPv6' : 'IPv4'
  }

  override _write(_chunk: unknown, _encoding: BufferEncoding, cb: (err?: Error | null) => void): void {
    cb()
  }

  setTimeout(): this {
    return this
  }
  setNoDelay(): this {
    return this
  }
  setKeepAlive(): this {
    return this
  }
  ref(): this {
    return this
  }
  unref(): this {
    return this
  }
  address(): Record<string, never> {
    return {}
  }
}

export class FramedRequest extends IncomingMessage {
  readonly #receiver: CreditReceiver

  constructor(socket: StreamSocket, head: RequestHead, grant: (bytes: number) => void) {
    super(socket as never)
    this.#receiver = new CreditReceiver(grant)
    this.httpVersion = '1.1'
    this.httpVersionMajor = 1
    this.httpVersionMinor = 1
    this.method = head.method
    this.url = head.url
    const raw: string[] = []
    for (const [name, value] of Object.entries(head.headers)) {
      const key = name.toLowerCase()
      if (Array.isArray(value)) {
        for (const v of value) raw.push(name, v)
        this.headers[key] = key === 'set-cookie' ? value : value.join(', ')
      } else {
        raw.push(name, value)
        this.headers[key] = value
      }
    }
    this.rawHeaders = raw
    if (!head.body) this.finishBody()
  }

  deliver(chunk: Buffer): void {
    if (this.destroyed) return
    this.#receiver.received(chunk.length, this.push(chunk))
  }

  finishBody(): void {
    this.complete = true
    this.push(null)
  }

  override _read(): void {
    this.#receiver.wantMore()
  }
}

type Callback = (err?: Error | null) => void
interface OutgoingInternals {
  _hasBody: boolean
  _implicitHeader(): void
}

export class FramedResponse extends ServerResponse {
  readonly #sink: StreamSink
  #headSent = false
  #ended = false
  #waitingDrain = false

  constructor(req: FramedRequest, socket: StreamSocket, sink: StreamSink) {
    super(req)
    this.#sink = sink
    // Makes writeHead(status, headers) merge into the header map getHeaders() reads.
    this.setHeader('x-gatehouse-init', '1')
    this.removeHeader('x-gatehouse-init')
    this.assignSocket(socket as never)
    socket.once('close', () => {
      if (!this.#ended) sink.abort('response destroyed before it ended')
    })
  }

  override writeHead(
    statusCode: number,
    reason?: string | OutgoingHttpHeaders | OutgoingHttpHeader[],
    headers?: OutgoingHttpHeaders | OutgoingHttpHeader[],
  ): this {
    if (typeof reason === 'string') super.writeHead(statusCode, reason, headers)
    else super.writeHead(statusCode, reason)
    if (!this.#headSent) {
      this.#headSent = true
      this.#sink.head({ status: this.statusCode, headers: normalize(this.getHeaders()) })
    }
    return this
  }

  /**
   * Body bytes go straight to frames. ServerResponse's own write() would render them as HTTP/1.1
   * (the head as a string, chunked framing) only for _writeRaw to drop it all: about a sixth of
   * the daemon's CPU time per hello-world request. So it runs only where its checks decide the
   * outcome: after end or destroy (it reports the error), for a chunk that is not a string or
   * bytes (it throws), and when the app asked for strictContentLength (it counts the bytes).
   */
  override write(chunk: unknown, encoding?: BufferEncoding | Callback, cb?: Callback): boolean {
    const done = typeof encoding === 'function' ? encoding : cb
    const enc = typeof encoding === 'string' ? encoding : undefined
    if (
      this.writableEnded ||
      this.destroyed ||
      this.strictContentLength ||
      (typeof chunk !== 'string' && !(chunk instanceof Uint8Array))
    ) {
      return super.write(chunk, enc as BufferEncoding, done)
    }
    if (!this.headersSent) (this as unknown as OutgoingInternals)._implicitHeader()
    if (done !== undefined) process.nextTick(done)
    // HEAD, 204, 304: Node ignores the body of these, and so does the frame stream.
    if (!(this as unknown as OutgoingInternals)._hasBody) return true
    const buf = toBuffer(chunk, enc)
    if (buf.length === 0) return true
    for (let off = 0; off < buf.length; off += MAX_DATA_BYTES) this.#sink.data(buf.subarray(off, off + MAX_DATA_BYTES))
    this.#sink.sender.spend(buf.length)
    if (this.#sink.sender.writable) return true
    if (!this.#waitingDrain) {
      this.#waitingDrain = true
      this.#sink.sender.whenWritable(() => {
        this.#waitingDrain = false
        if (!this.destroyed) this.emit('drain')
      })
    }
    return false
  }

  override end(chunk?: unknown, encoding?: BufferEncoding | Callback, cb?: Callback): this {
    if (typeof chunk === 'function') return this.end(undefined, undefined, chunk as Callback)
    if (typeof encoding === 'function') return this.end(chunk, undefined, encoding)
    if (this.writableEnded || this.destroyed) {
      super.end(cb)
      return this
    }
    if (chunk !== undefined && chunk !== null) {
      // One conversion: the length for the head, then the bytes for the frame. Anything else
      // than a string or bytes goes on to write(), which throws as Node's does.
      const body = typeof chunk === 'string' || chunk instanceof Uint8Array ? toBuffer(chunk, encoding) : chunk
      if (
        Buffer.isBuffer(body) &&
        !this.headersSent &&
        (this as unknown as OutgoingInternals)._hasBody &&
        !this.hasHeader('content-length') &&
        !this.hasHeader('transfer-encoding')
      ) {
        this.setHeader('content-length', body.length)
      }
      this.write(body)
    }
    super.end(cb)
    this.#ended = true
    this.#sink.end()
    return this
  }

  get ended(): boolean {
    return this.#ended
  }

  /**
   * Where ServerResponse hands its rendered HTTP/1.1 bytes (head, chunk framing, body) to the
   * socket. The frames already carry all of it, so the bytes are dropped here instead of being
   * written to the stand-in socket and thrown away there: that write queue cost a stream
   * write per call, and when the socket was destroyed at 'finish' with writes still queued,
   * one ERR_STREAM_DESTROYED error (stack trace and message) per write, about a seventh of the
   * daemon's CPU time. The callback still runs on the next tick, as after a socket write, so
   * 'finish' comes when it did.
   */
  _writeRaw(_data: unknown, encoding?: BufferEncoding | Callback | null, cb?: Callback): boolean {
    if (this.socket?.destroyed) return false
    const done = typeof encoding === 'function' ? encoding : cb
    if (typeof done === 'function') process.nextTick(done)
    return true
  }
}

function toBuffer(chunk: unknown, encoding?: BufferEncoding): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk, encoding)
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  return Buffer.alloc(0)
}

function normalize(headers: Record<string, number | string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {}
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    out[name] = typeof value === 'number' ? String(value) : value
  }
  return out
}
