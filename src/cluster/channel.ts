/**
 * Messages between the primary and one front worker over Node's IPC pipe (cluster.fork,
 * child_process.fork): fire-and-forget notes by topic, and requests that get one reply. The
 * same class serves both ends: in a worker the endpoint is `process`, in the primary it is the
 * `cluster.Worker` (or ChildProcess). Messages that are not ours (Node's own cluster messages,
 * anything without the `gh` mark) are left alone.
 */
import { errors, GatehouseError } from '../errors.js'

/** What Node's IPC endpoints have in common: process (in a child), ChildProcess, cluster.Worker. */
export interface IpcEndpoint {
  send?(message: unknown, sendHandle?: undefined, options?: undefined, callback?: (err: Error | null) => void): boolean
  on(event: 'message', listener: (message: unknown) => void): unknown
  off(event: 'message', listener: (message: unknown) => void): unknown
  on(event: 'disconnect', listener: () => void): unknown
  off(event: 'disconnect', listener: () => void): unknown
}

interface Envelope {
  gh: 1
  /** Topic (notes and requests). */
  t?: string
  /** Request id: set on a request, and on its reply as `re`. */
  id?: number
  re?: number
  body?: unknown
  /** A failed request: the error's code, message and (a GatehouseError's) HTTP status. */
  err?: { code: string; message: string; statusCode?: number }
  /** Replies sent in one message: those answered in one turn of the event loop. */
  b?: Envelope[]
}

/** The send callback: it keeps a send to a process that just exited from throwing later (ERR_IPC_CHANNEL_CLOSED). */
const ignoreSendError = (): void => {}

export type RequestHandler = (body: unknown) => unknown
export type NoteListener = (body: unknown) => void

interface Pending {
  resolve(v: unknown): void
  reject(e: Error): void
  timer: NodeJS.Timeout | undefined
}

/** How long a request waits for its reply unless told otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 5000

export class Channel {
  readonly #endpoint: IpcEndpoint
  readonly #handlers = new Map<string, RequestHandler>()
  readonly #listeners = new Map<string, Set<NoteListener>>()
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false
  /** Replies waiting for the end of this turn, to go as one message (one write, one wake-up of the asker). */
  #replies: Envelope[] = []
  #flushScheduled = false

  constructor(endpoint: IpcEndpoint) {
    this.#endpoint = endpoint
    endpoint.on('message', this.#onMessage)
    endpoint.on('disconnect', this.#onDisconnect)
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Sends a note; dropped (false) when the other end is gone. */
  send(topic: string, body?: unknown): boolean {
    return this.#post({ gh: 1, t: topic, body })
  }

  /** Sends a request and resolves with the reply; rejects with GH_ERR_IPC_CLOSED or on timeout. */
  request<T = unknown>(topic: string, body?: unknown, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<T> {
    if (this.#closed) return Promise.reject(errors.GH_ERR_IPC_CLOSED(`the other process is gone (${topic})`))
    const id = this.#nextId++
    return new Promise<T>((resolve, reject) => {
      const pending: Pending = {
        resolve: resolve as (v: unknown) => void,
        reject,
        timer:
          timeoutMs > 0
            ? setTimeout(() => {
                this.#pending.delete(id)
                reject(errors.GH_ERR_IPC_TIMEOUT(`no reply to ${topic} within ${timeoutMs} ms`))
              }, timeoutMs)
            : undefined,
      }
      pending.timer?.unref()
      this.#pending.set(id, pending)
      if (!this.#post({ gh: 1, t: topic, id, body })) {
        this.#settle(id)?.reject(errors.GH_ERR_IPC_CLOSED(`the other process is gone (${topic})`))
      }
    })
  }

  /** Answers requests on `topic` (one handler per topic); a thrown error or rejection is sent back. */
  handle(topic: string, handler: RequestHandler): void {
    this.#handlers.set(topic, handler)
  }

  on(topic: string, listener: NoteListener): void {
    let set = this.#listeners.get(topic)
    if (set === undefined) this.#listeners.set(topic, (set = new Set()))
    set.add(listener)
  }

  off(topic: string, listener: NoteListener): void {
    this.#listeners.get(topic)?.delete(listener)
  }

  /** Stops listening; pending requests fail. The endpoint itself is not closed. */
  close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#endpoint.off('message', this.#onMessage)
    this.#endpoint.off('disconnect', this.#onDisconnect)
    for (const id of [...this.#pending.keys()])
      this.#settle(id)?.reject(errors.GH_ERR_IPC_CLOSED('the channel to the other process closed'))
  }

  #post(message: Envelope): boolean {
    if (this.#closed || this.#endpoint.send === undefined) return false
    try {
      return this.#endpoint.send(message, undefined, undefined, ignoreSendError)
    } catch {
      return false
    }
  }

  /**
   * Replies are held until the answers of this turn are made (the requests a read of the pipe
   * brought are handled one after the other before any microtask), then go as one message.
   */
  #reply(message: Envelope): void {
    this.#replies.push(message)
    if (this.#flushScheduled) return
    this.#flushScheduled = true
    queueMicrotask(this.#flushReplies)
  }

  readonly #flushReplies = (): void => {
    this.#flushScheduled = false
    const batch = this.#replies
    this.#replies = []
    if (batch.length === 1) this.#post(batch[0] as Envelope)
    else if (batch.length > 1) this.#post({ gh: 1, b: batch })
  }

  #settle(id: number): Pending | undefined {
    const p = this.#pending.get(id)
    if (p === undefined) return undefined
    this.#pending.delete(id)
    clearTimeout(p.timer)
    return p
  }

  readonly #onDisconnect = (): void => this.close()

  readonly #onMessage = (raw: unknown): void => {
    if (raw === null || typeof raw !== 'object' || (raw as Envelope).gh !== 1) return
    const m = raw as Envelope
    if (Array.isArray(m.b)) {
      for (const one of m.b) if (one !== null && typeof one === 'object' && one.re !== undefined) this.#onMessage(one)
      return
    }
    if (m.re !== undefined) {
      const p = this.#settle(m.re)
      if (p === undefined) return
      if (m.err) p.reject(revive(m.err))
      else p.resolve(m.body)
      return
    }
    if (typeof m.t !== 'string') return
    if (m.id !== undefined) {
      this.#answer(m.t, m.id, m.body)
      return
    }
    for (const l of this.#listeners.get(m.t) ?? []) l(m.body)
  }

  /** A handler that answers at once replies without a promise; either way the reply joins this turn's batch. */
  #answer(topic: string, id: number, body: unknown): void {
    const handler = this.#handlers.get(topic)
    let reply: unknown
    try {
      if (handler === undefined) throw errors.GH_ERR_IPC_PROTOCOL(`no handler for ${topic}`)
      reply = handler(body)
    } catch (err) {
      this.#reply(failure(id, err))
      return
    }
    if (reply instanceof Promise)
      reply.then(
        (v: unknown) => this.#reply({ gh: 1, re: id, body: v }),
        (err: unknown) => this.#reply(failure(id, err)),
      )
    else this.#reply({ gh: 1, re: id, body: reply })
  }
}

function failure(id: number, err: unknown): Envelope {
  const e = err as Error & { code?: unknown; statusCode?: unknown }
  return {
    gh: 1,
    re: id,
    err: {
      code: typeof e?.code === 'string' ? e.code : 'GH_ERR_INTERNAL',
      message: String(e?.message),
      ...(typeof e?.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    },
  }
}

/** A GatehouseError sent back stays one (its code and status decide the answer); anything else is an Error with a code. */
function revive(err: NonNullable<Envelope['err']>): Error {
  if (err.code.startsWith('GH_ERR_') && typeof err.statusCode === 'number')
    return new GatehouseError(err.code, err.statusCode, err.message)
  return Object.assign(new Error(err.message), { code: err.code })
}
