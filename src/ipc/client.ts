/**
 * Front side of one worker's data socket: many requests and provider calls multiplexed over one
 * persistent unix socket. Correlates frames to streams by id, streams bodies both ways under
 * per-stream credit, applies the request timeout and the caller's abort signal.
 */
import { connect } from 'node:net'
import type { Readable } from 'node:stream'
import type { AbortLike } from './abort.js'
import { errors, type GatehouseError } from '../errors.js'
import { CreditSender, InboundBody } from './flow.js'
import { FramedSocket } from './framed-socket.js'
import {
  Frame,
  MAX_DATA_BYTES,
  PROTOCOL_VERSION,
  creditPayload,
  type FrameType,
  type RequestHead,
  type ResponseHead,
} from './protocol.js'
import { readCallResult, readHelloAck, readResponseHead, readStreamError } from './payload.js'

export interface ResponseStart {
  status: number
  headers: Record<string, string | string[]>
  /** The body as a stream (the client makes it on first access). */
  readonly body: Readable
  /**
   * The whole body, when it has all arrived and nothing has read the stream: the caller can send
   * a buffer and no stream is made at all. Undefined (body untouched) otherwise.
   */
  takeComplete?(): Buffer | undefined
}

export interface RequestOptions {
  signal?: AbortLike
  /**
   * GH_ERR_GROUP_TIMEOUT after this long without progress (0 = off): before the response head,
   * without the head nor request-body progress (the answer is then 504); after it, while the
   * front waits for response body bytes that do not come (the response is cut). Time the
   * worker spends waiting for the client to read never counts.
   */
  timeoutMs: number
  /** The stream timed out (`phase`: before or after the response head). */
  onTimeout?: (phase: 'head' | 'body') => void
  /** Called once when the stream is over, however it ended. */
  onDone?: () => void
}

/** A request that never reached the worker: safe to send to another process. */
export function isNotAccepted(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { accepted?: boolean }).accepted === false
}

interface Stream {
  id: number
  /** A provider call (answered by RESULT) rather than a request (answered by RESPONSE_HEAD, DATA, END). */
  call: boolean
  resolve(value: unknown): void
  reject(err: Error): void
  headDone: boolean
  /**
   * A bodiless request whose HEAD frame the kernel has not taken yet: if the connection closes
   * now, the worker never saw it and another process may serve it. Never set for requests with
   * a body (the caller's stream may be partly consumed) nor for provider calls.
   */
  unsent: boolean
  body?: InboundBody
  /** DATA that arrived after the head while no body stream was asked for yet. */
  early?: Buffer[]
  /** END arrived. */
  ended: boolean
  /** Failed after the head while no body stream was asked for yet: the stream, once made, fails with it. */
  failure?: Error
  sender?: CreditSender
  stopBody?: () => void
  timer?: NodeJS.Timeout
  /** After the head: runs while the response body's reader waits for the worker (#bodyWait). */
  stall?: NodeJS.Timeout
  timeoutMs: number
  onTimeout?: (phase: 'head' | 'body') => void
  onDone?: () => void
  done: boolean
  detachSignal?: () => void
}

type Handler = (s: Stream, payload: Buffer) => void

/** The frames a worker may send on a request stream and on a call stream. */
const REQUEST_FRAMES: ReadonlySet<FrameType> = new Set([
  Frame.RESPONSE_HEAD,
  Frame.DATA,
  Frame.END,
  Frame.ERROR,
  Frame.CREDIT,
])
const CALL_FRAMES: ReadonlySet<FrameType> = new Set([Frame.RESULT, Frame.ERROR])

/** Frames the front sends a worker in one write at most (framed-socket.ts says why). */
const FRONT_MAX_BATCH = 8

export class WorkerConnection {
  readonly group: string
  readonly #fs: FramedSocket
  readonly #streams = new Map<number, Stream>()
  #nextId = 1
  #closeError: GatehouseError | null = null
  #closeListeners: Array<() => void> = []
  readonly #handlers: Record<FrameType, Handler | undefined>

  private constructor(group: string, fs: FramedSocket) {
    this.group = group
    this.#fs = fs
    this.#handlers = {
      [Frame.HELLO]: undefined,
      [Frame.HELLO_OK]: undefined,
      [Frame.HEAD]: undefined,
      [Frame.CALL]: undefined,
      [Frame.RESPONSE_HEAD]: (s, p) => this.#onResponseHead(s, p),
      [Frame.DATA]: (s, p) => this.#onData(s, p),
      [Frame.END]: (s) => this.#onEnd(s),
      [Frame.ERROR]: (s, p) => this.#onError(s, p),
      [Frame.CREDIT]: (s, p) => this.#onCredit(s, p),
      [Frame.RESULT]: (s, p) => this.#onResult(s, p),
    }
  }

  /** Connects, proves the secret (HELLO) and waits for HELLO_OK. */
  static connect(group: string, socketPath: string, secret: Buffer, timeoutMs: number): Promise<WorkerConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect(socketPath)
      let conn: WorkerConnection | null = null
      const timer = setTimeout(() => fail(new Error(`no HELLO_OK within ${timeoutMs} ms`)), timeoutMs)
      const fail = (err: Error): void => {
        clearTimeout(timer)
        socket.destroy()
        reject(errors.GH_ERR_IPC_CLOSED(`connect to group ${group}: ${err.message}`, { cause: err }))
      }
      const fs = new FramedSocket(
        socket,
        (type, id, payload) => {
          if (conn !== null) return conn.#onFrame(type, id, payload)
          if (type !== Frame.HELLO_OK) return fail(new Error(`unexpected frame ${type} before HELLO_OK`))
          const ack = readHelloAck(payload)
          if (ack === undefined) return fail(new Error('malformed HELLO_OK'))
          if (ack.v !== PROTOCOL_VERSION)
            return fail(new Error(`protocol version ${ack.v}, expected ${PROTOCOL_VERSION}`))
          clearTimeout(timer)
          conn = new WorkerConnection(group, fs)
          resolve(conn)
        },
        (err) => {
          if (conn !== null) conn.#onClose(err)
          else fail(err ?? new Error('closed before HELLO_OK'))
        },
        FRONT_MAX_BATCH,
      )
      socket.once('connect', () => fs.send(Frame.HELLO, 0, secret))
      // The daemon ended its side: nothing sent from now on could be answered. Closing at once
      // makes the connection count as closed before a request is written to its half.
      socket.once('end', () => socket.destroy())
    })
  }

  get closed(): boolean {
    return this.#fs.closed
  }

  get streams(): number {
    return this.#streams.size
  }

  onClose(fn: () => void): void {
    if (this.closed) return fn()
    this.#closeListeners.push(fn)
  }

  request(head: Omit<RequestHead, 'body'>, body: Readable | null, opts: RequestOptions): Promise<ResponseStart> {
    return new Promise<ResponseStart>((resolve, reject) => {
      if (this.closed || opts.signal?.aborted) {
        opts.onDone?.()
        return reject(this.closed ? notAccepted(this.group) : abortError(opts.signal as AbortLike))
      }
      const s = this.#open(false, resolve as (v: unknown) => void, reject, opts.timeoutMs)
      s.onTimeout = opts.onTimeout
      s.onDone = opts.onDone
      const wire: RequestHead = {
        method: head.method,
        url: head.url,
        headers: head.headers,
        remoteAddress: head.remoteAddress,
        body: body !== null,
        gateway: head.gateway,
      }
      if (body === null) {
        s.unsent = true
        this.#fs.send(Frame.HEAD, s.id, JSON.stringify(wire), (err) => {
          if (!err) s.unsent = false
        })
      } else {
        this.#fs.send(Frame.HEAD, s.id, JSON.stringify(wire))
        s.sender = new CreditSender(
          () => this.#fs.blocked,
          (fn) => this.#fs.onDrain(fn),
        )
        this.#pump(s, body)
      }
      if (opts.signal) this.#attachSignal(s, opts.signal)
    })
  }

  call(method: string, args: unknown[], timeoutMs: number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(notAccepted(this.group))
      const s = this.#open(true, resolve, reject, timeoutMs)
      this.#fs.send(Frame.CALL, s.id, JSON.stringify({ method, args }))
    })
  }

  /** Ends the socket once open streams are over (the worker is being stopped anyway). */
  close(): void {
    this.#fs.end()
  }

  destroy(): void {
    this.#fs.destroy()
  }

  #open(call: boolean, resolve: (v: unknown) => void, reject: (err: Error) => void, timeoutMs: number): Stream {
    let id = this.#nextId
    while (this.#streams.has(id)) id = id >= 0xffffffff ? 1 : id + 1
    this.#nextId = id >= 0xffffffff ? 1 : id + 1
    const s: Stream = {
      id,
      call,
      resolve,
      reject,
      headDone: false,
      unsent: false,
      ended: false,
      done: false,
      timeoutMs,
    }
    this.#streams.set(id, s)
    this.#arm(s)
    return s
  }

  #arm(s: Stream): void {
    if (s.timeoutMs <= 0 || s.headDone || s.done) return
    if (s.timer) s.timer.refresh()
    else s.timer = setTimeout(() => this.#timedOut(s, 'head'), s.timeoutMs)
  }

  #onFrame(type: FrameType, id: number, payload: Buffer): void {
    const s = this.#streams.get(id)
    if (s === undefined) return
    const handler = this.#handlers[type]
    if (handler === undefined || !(s.call ? CALL_FRAMES : REQUEST_FRAMES).has(type)) {
      return this.#protocolError(
        `unexpected frame type ${type} from worker on ${s.call ? 'call' : 'request'} stream ${id}`,
      )
    }
    try {
      handler(s, payload)
    } catch (err) {
      // Whatever a worker's frame makes fail here fails its connection, never the front.
      this.#protocolError(`frame type ${type} on stream ${id}: ${err instanceof Error ? err.message : String(err)}`)
    }
  }

  /**
   * The worker broke the protocol: this connection alone is closed. Its streams fail (502, as
   * for a worker that died) and the process is replaced (worker-process.ts, onClose).
   */
  #protocolError(what: string): void {
    this.#fs.destroy(errors.GH_ERR_IPC_PROTOCOL(what))
  }

  #onResponseHead(s: Stream, payload: Buffer): void {
    if (s.headDone) return
    const head = readResponseHead(payload)
    if (head === undefined) return this.#protocolError(`malformed RESPONSE_HEAD on stream ${s.id}`)
    s.headDone = true
    clearTimeout(s.timer)
    s.resolve(new Response(head, s, this.#bodyOf))
  }

  #onData(s: Stream, payload: Buffer): void {
    if (s.body !== undefined) s.body.deliver(payload)
    else if (s.headDone && !s.ended && s.failure === undefined) (s.early ??= []).push(payload)
  }

  /**
   * The response body stream of `s`, made on first use: a small answer that arrives whole
   * (head, data and end in one read) is taken as a buffer and never needs a Readable.
   */
  readonly #bodyOf = (s: Stream): InboundBody => {
    if (s.body !== undefined) return s.body
    const body = new InboundBody(
      // Credit for a body that already ended would only wake the worker for nothing.
      (bytes) => {
        if (!s.done) this.#fs.send(Frame.CREDIT, s.id, creditPayload(bytes))
      },
      () => {
        if (s.done) return
        this.#cancel(s, 'response body destroyed')
        this.#finish(s)
      },
      (waiting) => this.#bodyWait(s, waiting),
    )
    s.body = body
    const early = s.early
    s.early = undefined
    if (early !== undefined) for (const chunk of early) body.deliver(chunk)
    if (s.failure !== undefined) body.destroy(s.failure)
    else if (s.ended) body.finish()
    return body
  }

  #onEnd(s: Stream): void {
    if (!s.done) {
      if (s.stopBody) this.#fs.send(Frame.ERROR, s.id, JSON.stringify({ code: 'CANCEL', message: 'response complete' }))
      this.#finish(s)
    }
    s.ended = true
    s.body?.finish()
  }

  #onError(s: Stream, payload: Buffer): void {
    const e = readStreamError(payload)
    if (e === undefined) return this.#protocolError(`malformed ERROR on stream ${s.id}`)
    const err = errors.GH_ERR_GROUP_FAILED(this.group, `${e.code}: ${e.message}`)
    this.#fail(s, err)
  }

  #onCredit(s: Stream, payload: Buffer): void {
    if (payload.length !== 4) return
    s.sender?.grant(payload.readUInt32BE(0))
    this.#arm(s)
  }

  #onResult(s: Stream, payload: Buffer): void {
    const result = readCallResult(payload)
    if (result === undefined) return this.#protocolError(`malformed RESULT on stream ${s.id}`)
    this.#finish(s)
    if (result.ok) s.resolve(result.value)
    // remoteCode/remoteMessage: the worker's own code, for the provider adapter to map (group-provider.ts).
    else
      s.reject(
        Object.assign(
          errors.GH_ERR_PROVIDER_FAILED(
            this.group,
            result.code === 'GH_ERR_PROVIDER_FAILED' ? result.message : `${result.code}: ${result.message}`,
          ),
          { remoteCode: result.code, remoteMessage: result.message },
        ),
      )
  }

  /** No progress for timeoutMs: before the head (#arm), or while the body's reader waited (#bodyWait). */
  #timedOut(s: Stream, phase: 'head' | 'body'): void {
    if (s.done || (phase === 'head' && s.headDone)) return
    this.#cancel(s, 'timeout')
    this.#fail(s, errors.GH_ERR_GROUP_TIMEOUT(this.group, s.timeoutMs))
    s.onTimeout?.(phase)
  }

  /** The response body's reader waits for the worker (true) or does not (false): the stall timer runs only meanwhile. */
  #bodyWait(s: Stream, waiting: boolean): void {
    if (!waiting || s.done || s.timeoutMs <= 0) {
      clearTimeout(s.stall)
      s.stall = undefined
      return
    }
    if (s.stall) s.stall.refresh()
    else s.stall = setTimeout(() => this.#timedOut(s, 'body'), s.timeoutMs)
  }

  #attachSignal(s: Stream, signal: AbortLike): void {
    const onAbort = (): void => {
      this.#cancel(s, 'aborted')
      this.#fail(s, abortError(signal))
    }
    signal.addEventListener('abort', onAbort, { once: true })
    s.detachSignal = () => signal.removeEventListener('abort', onAbort)
  }

  #pump(s: Stream, body: Readable): void {
    const sender = s.sender as CreditSender
    const onData = (chunk: Buffer | string): void => {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      for (let off = 0; off < buf.length; off += MAX_DATA_BYTES) {
        this.#fs.sendRaw(Frame.DATA, s.id, buf.subarray(off, off + MAX_DATA_BYTES))
      }
      sender.spend(buf.length)
      if (!sender.writable) {
        body.pause()
        sender.whenWritable(() => {
          if (!s.done && s.stopBody) body.resume()
        })
      }
    }
    const onEnd = (): void => {
      detach()
      s.stopBody = undefined
      if (!s.done) this.#fs.send(Frame.END, s.id)
    }
    const onError = (err: Error): void => {
      detach()
      s.stopBody = undefined
      this.#cancel(s, 'request body failed')
      this.#fail(s, err)
    }
    const detach = (): void => {
      body.off('data', onData)
      body.off('end', onEnd)
      body.off('error', onError)
    }
    s.stopBody = () => {
      detach()
      s.stopBody = undefined
      body.on('error', () => {})
      body.resume()
    }
    body.on('data', onData)
    body.once('end', onEnd)
    body.once('error', onError)
  }

  /** Tells the worker the stream is abandoned (no-op when already over). */
  #cancel(s: Stream, why: string): void {
    if (s.done) return
    this.#fs.send(Frame.ERROR, s.id, JSON.stringify({ code: 'CANCEL', message: why }))
  }

  #fail(s: Stream, err: Error): void {
    if (s.done) return
    this.#finish(s)
    if (!s.headDone) s.reject(err)
    else if (s.body !== undefined) s.body.destroy(err)
    else {
      s.failure = err
      s.early = undefined
    }
  }

  #finish(s: Stream): void {
    if (s.done) return
    s.done = true
    clearTimeout(s.timer)
    clearTimeout(s.stall)
    s.detachSignal?.()
    s.stopBody?.()
    s.sender?.release()
    this.#streams.delete(s.id)
    s.onDone?.()
  }

  #onClose(err?: Error): void {
    const why = `worker connection closed${err ? `: ${err.message}` : ''}`
    this.#closeError = errors.GH_ERR_GROUP_FAILED(this.group, why)
    // Frames leave corked at the check phase: requests dispatched just before the worker died
    // (SIGKILL) meet a closed socket (EPIPE) or are dropped unwritten. Those the group may retry.
    for (const s of [...this.#streams.values()])
      this.#fail(s, s.unsent && !s.headDone ? notAccepted(this.group, why) : this.#closeError)
    const listeners = this.#closeListeners
    this.#closeListeners = []
    for (const fn of listeners) fn()
  }
}

/** A response head with its body stream made on demand (see WorkerConnection's #bodyOf). */
class Response implements ResponseStart {
  readonly status: number
  readonly headers: Record<string, string | string[]>
  readonly #s: Stream
  readonly #bodyOf: (s: Stream) => InboundBody
  #taken = false

  constructor(head: ResponseHead, s: Stream, bodyOf: (s: Stream) => InboundBody) {
    this.status = head.status
    this.headers = head.headers
    this.#s = s
    this.#bodyOf = bodyOf
  }

  get body(): Readable {
    return this.#bodyOf(this.#s)
  }

  takeComplete(): Buffer | undefined {
    const s = this.#s
    if (s.body !== undefined) return s.body.takeComplete()
    if (!s.ended || s.failure !== undefined || this.#taken) return undefined
    this.#taken = true
    const early = s.early
    s.early = undefined
    if (early === undefined) return Buffer.alloc(0)
    return early.length === 1 ? early[0] : Buffer.concat(early)
  }
}

function notAccepted(group: string, why = 'connection already closed'): GatehouseError {
  return Object.assign(errors.GH_ERR_IPC_CLOSED(`group ${group}: ${why}`), { accepted: false })
}

function abortError(signal: AbortLike): Error {
  const reason: unknown = signal.reason
  return reason instanceof Error ? reason : Object.assign(new Error('request aborted'), { name: 'AbortError' })
}
