/**
 * Inside a worker: the data socket server. Every connection must open with HELLO carrying the
 * group secret (compared in constant time) or it is dropped; after that, HEAD frames become
 * `(req, res)` calls to the app and CALL frames go to the provider host.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { RequestListener } from 'node:http'
import { createServer, type Server, type Socket } from 'node:net'
import { CreditSender } from '../ipc/flow.js'
import { FramedSocket } from '../ipc/framed-socket.js'
import { Frame, PROTOCOL_VERSION, creditPayload, type FrameType, type StreamError } from '../ipc/protocol.js'
import { readCallRequest, readRequestHead } from '../ipc/payload.js'
import { FramedRequest, FramedResponse, StreamSocket, type StreamSink } from './http-adapter.js'
import type { ProviderHost } from './provider-host.js'

export interface WorkerServerOptions {
  socketPath: string
  secret: Buffer
  app: RequestListener
  provider: ProviderHost | null
  onError(msg: string, err?: unknown): void
}

interface Exchange {
  req: FramedRequest
  res: FramedResponse
  sink: StreamSink
}

type Handler = (id: number, payload: Buffer) => void

export class WorkerServer {
  readonly #opts: WorkerServerOptions
  readonly #server: Server
  readonly #secretDigest: Buffer
  readonly #connections = new Set<ServerConnection>()

  constructor(opts: WorkerServerOptions) {
    this.#opts = opts
    this.#secretDigest = createHash('sha256').update(opts.secret).digest()
    this.#server = createServer((socket) => {
      const conn = new ServerConnection(socket, this, () => this.#connections.delete(conn))
      this.#connections.add(conn)
    })
  }

  get options(): WorkerServerOptions {
    return this.#opts
  }

  /** Constant-time: both sides hashed to equal length first. */
  checkSecret(candidate: Buffer): boolean {
    return timingSafeEqual(createHash('sha256').update(candidate).digest(), this.#secretDigest)
  }

  /** Listens with a 0600 socket: the umask is narrowed around bind. */
  listen(): Promise<void> {
    return new Promise((resolve, reject) => {
      const previous = process.umask(0o177)
      this.#server.once('error', reject)
      this.#server.listen(this.#opts.socketPath, () => {
        process.umask(previous)
        this.#server.off('error', reject)
        resolve()
      })
    })
  }

  get activeStreams(): number {
    let n = 0
    for (const c of this.#connections) n += c.active
    return n
  }

  /** Stops accepting; resolves when open streams are over or after graceMs. */
  async close(graceMs: number): Promise<void> {
    this.#server.close()
    const deadline = Date.now() + graceMs
    while (this.activeStreams > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    for (const c of this.#connections) c.destroy()
  }
}

class ServerConnection {
  readonly #fs: FramedSocket
  readonly #server: WorkerServer
  readonly #exchanges = new Map<number, Exchange>()
  #greeted = false
  readonly #handlers: Record<FrameType, Handler | undefined>

  constructor(socket: Socket, server: WorkerServer, onClose: () => void) {
    this.#server = server
    this.#fs = new FramedSocket(
      socket,
      (type, id, payload) => this.#onFrame(type, id, payload),
      () => {
        for (const ex of this.#exchanges.values()) this.#abandon(ex)
        this.#exchanges.clear()
        onClose()
      },
    )
    this.#handlers = {
      [Frame.HELLO]: () => this.#fs.destroy(),
      [Frame.HEAD]: (id, p) => this.#onHead(id, p),
      [Frame.DATA]: (id, p) => this.#exchanges.get(id)?.req.deliver(p),
      [Frame.END]: (id) => this.#exchanges.get(id)?.req.finishBody(),
      [Frame.ERROR]: (id) => this.#onCancel(id),
      [Frame.CREDIT]: (id, p) => {
        if (p.length === 4) this.#exchanges.get(id)?.sink.sender.grant(p.readUInt32BE(0))
      },
      [Frame.CALL]: (id, p) => this.#onCall(id, p),
      [Frame.HELLO_OK]: undefined,
      [Frame.RESPONSE_HEAD]: undefined,
      [Frame.RESULT]: undefined,
    }
  }

  get active(): number {
    return this.#exchanges.size
  }

  destroy(): void {
    this.#fs.destroy()
  }

  #onFrame(type: FrameType, id: number, payload: Buffer): void {
    if (!this.#greeted) {
      if (type !== Frame.HELLO || !this.#server.checkSecret(payload)) return this.#fs.destroy()
      this.#greeted = true
      this.#fs.send(Frame.HELLO_OK, 0, JSON.stringify({ v: PROTOCOL_VERSION, pid: process.pid }))
      return
    }
    const handler = this.#handlers[type]
    if (handler === undefined) return this.#fs.destroy()
    handler(id, payload)
  }

  #onHead(id: number, payload: Buffer): void {
    if (this.#exchanges.has(id)) return this.#fs.destroy()
    const head = readRequestHead(payload)
    // A malformed head is a protocol error: the connection goes (the front fails its streams).
    if (head === undefined) return this.#fs.destroy()
    const fs = this.#fs
    const socket = new StreamSocket(head.remoteAddress ?? '127.0.0.1')
    const req = new FramedRequest(socket, head, (bytes) => fs.send(Frame.CREDIT, id, creditPayload(bytes)))
    const sink: StreamSink = {
      sender: new CreditSender(
        () => fs.blocked,
        (fn) => fs.onDrain(fn),
      ),
      head: (h) => fs.send(Frame.RESPONSE_HEAD, id, JSON.stringify(h)),
      data: (chunk) => fs.sendRaw(Frame.DATA, id, chunk),
      end: () => {
        fs.send(Frame.END, id)
        this.#exchanges.delete(id)
      },
      abort: (reason) => {
        if (this.#exchanges.delete(id))
          fs.send(Frame.ERROR, id, JSON.stringify({ code: 'APP_ABORTED', message: reason } satisfies StreamError))
      },
      credit: (bytes) => fs.send(Frame.CREDIT, id, creditPayload(bytes)),
    }
    const res = new FramedResponse(req, socket, sink)
    res.once('finish', () => {
      if (!req.readableEnded) req.resume()
      socket.destroy()
    })
    this.#exchanges.set(id, { req, res, sink })
    try {
      this.#server.options.app(req, res)
    } catch (err) {
      this.#server.options.onError(`app threw on ${head.method}`, err)
      if (!res.headersSent) {
        res.statusCode = 500
        res.end('Internal Server Error\n')
      } else res.destroy()
    }
  }

  #onCancel(id: number): void {
    const ex = this.#exchanges.get(id)
    if (ex === undefined) return
    this.#exchanges.delete(id)
    this.#abandon(ex)
  }

  #abandon(ex: Exchange): void {
    ex.sink.sender.release()
    if (!ex.req.destroyed) ex.req.destroy()
    if (!ex.res.destroyed) ex.res.destroy()
  }

  #onCall(id: number, payload: Buffer): void {
    const provider = this.#server.options.provider
    if (provider === null) {
      this.#fs.send(
        Frame.RESULT,
        id,
        JSON.stringify({ ok: false, code: 'GH_ERR_PROVIDER_UNAVAILABLE', message: 'group has no provider' }),
      )
      return
    }
    const call = readCallRequest(payload)
    if (call === undefined) return this.#fs.destroy()
    provider.call(call.method, call.args).then(
      (result) => this.#fs.send(Frame.RESULT, id, JSON.stringify(result)),
      (err: unknown) => this.#server.options.onError('provider host failed', err),
    )
  }
}
