/**
 * Lets a configuration reload replace the whole front (routes, providers, caches) without
 * closing the listening socket: the first front's HTTP server keeps listening, and its
 * 'request' listener is replaced by a switch that hands each request to the current front's
 * Fastify handler. A replaced front finishes the requests it already has; drained() tells
 * when the last one ended, so its providers can then be closed.
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http'

type Handler = (req: IncomingMessage, res: ServerResponse) => void

interface Slot {
  handler: Handler
  inflight: number
  idle: Array<() => void>
}

export class FrontSwitch {
  #current: Slot
  readonly #slots = new WeakMap<object, Slot>()

  /** Takes over `server`'s request listener (the Fastify instance that owns it). */
  constructor(server: Server, owner: object) {
    const listeners = server.listeners('request') as Handler[]
    if (listeners.length !== 1)
      throw new Error(`expected one request listener on the front server, found ${listeners.length}`)
    this.#current = this.#slot(owner, listeners[0]!)
    server.removeAllListeners('request')
    server.on('request', (req: IncomingMessage, res: ServerResponse) => this.#dispatch(req, res))
  }

  /** Sends new requests to `owner`'s handler (the request listener of its own, never-listening server). */
  use(owner: object, server: Server): void {
    const listeners = server.listeners('request') as Handler[]
    if (listeners.length !== 1)
      throw new Error(`expected one request listener on the new front, found ${listeners.length}`)
    this.#current = this.#slot(owner, listeners[0]!)
  }

  /** Resolves once `owner` has no request in flight, or after timeoutMs (then resolves false). */
  drained(owner: object, timeoutMs: number): Promise<boolean> {
    const slot = this.#slots.get(owner)
    if (slot === undefined || slot.inflight === 0) return Promise.resolve(true)
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer)
        slot.idle = slot.idle.filter((w) => w !== onIdle)
        resolve(ok)
      }
      const onIdle = (): void => done(true)
      const timer = setTimeout(() => done(false), timeoutMs)
      timer.unref()
      slot.idle.push(onIdle)
    })
  }

  #slot(owner: object, handler: Handler): Slot {
    const slot: Slot = { handler, inflight: 0, idle: [] }
    this.#slots.set(owner, slot)
    return slot
  }

  #dispatch(req: IncomingMessage, res: ServerResponse): void {
    const slot = this.#current
    slot.inflight++
    res.once('close', () => {
      if (--slot.inflight > 0) return
      const waiters = slot.idle
      slot.idle = []
      for (const w of waiters) w()
    })
    slot.handler(req, res)
  }
}
