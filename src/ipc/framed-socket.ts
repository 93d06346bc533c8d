/**
 * A unix socket speaking the framed protocol: writes are corked until the event loop's check
 * phase, so every frame produced while handling one poll phase's worth of I/O (many client
 * requests, many responses) leaves in one writev; reads are decoded into frames. Both peers
 * use it. (Uncorking on the next tick instead cost one syscall, and one wake-up of the peer,
 * per frame under load: the largest item of the front's CPU profile.)
 */
import type { Socket } from 'node:net'
import { FrameDecoder, type FrameHandler } from './frame-decoder.js'
import { encodeFrame, frameHeader, type FrameType } from './protocol.js'

/** Bytes queued in the socket above which senders of bodies wait for 'drain'. */
const SOCKET_HIGH_WATER = 1024 * 1024

export class FramedSocket {
  readonly socket: Socket
  readonly #decoder: FrameDecoder
  #corked = false
  #drainWaiters: Array<() => void> = []
  #closed = false

  constructor(socket: Socket, onFrame: FrameHandler, onClose: (err?: Error) => void) {
    this.socket = socket
    socket.setNoDelay?.(true)
    this.#decoder = new FrameDecoder(onFrame)
    socket.on('data', (chunk: Buffer) => {
      try {
        this.#decoder.push(chunk)
      } catch (err) {
        socket.destroy(err as Error)
      }
    })
    socket.on('drain', () => this.#flushWaiters())
    let reported = false
    const closed = (err?: Error): void => {
      this.#closed = true
      if (reported) return
      reported = true
      this.#flushWaiters()
      onClose(err)
    }
    socket.on('error', closed)
    socket.on('close', () => closed())
  }

  get closed(): boolean {
    return this.#closed || this.socket.destroyed
  }

  /** True when bodies should wait for the socket to drain. */
  get blocked(): boolean {
    return this.socket.writableLength >= SOCKET_HIGH_WATER
  }

  /** Calls `fn` once the socket drained (or closed). */
  onDrain(fn: () => void): void {
    if (this.closed) return fn()
    this.#drainWaiters.push(fn)
  }

  /**
   * `written`, if given, is called once the frame was handed to the kernel (no error) or failed
   * (with the error); it may never be called when the socket is destroyed first.
   */
  send(type: FrameType, id: number, payload?: Buffer | string, written?: (err?: Error | null) => void): boolean {
    if (this.closed) return false
    this.#cork()
    this.socket.write(encodeFrame(type, id, payload), written)
    return true
  }

  /** DATA-like frame without copying the payload. */
  sendRaw(type: FrameType, id: number, payload: Buffer): boolean {
    if (this.closed) return false
    this.#cork()
    this.socket.write(frameHeader(type, id, payload.length))
    this.socket.write(payload)
    return true
  }

  end(): void {
    this.socket.end()
  }

  destroy(err?: Error): void {
    this.socket.destroy(err)
  }

  #cork(): void {
    if (this.#corked) return
    this.#corked = true
    this.socket.cork()
    setImmediate(this.#uncork)
  }

  readonly #uncork = (): void => {
    this.#corked = false
    this.socket.uncork()
  }

  #flushWaiters(): void {
    const waiters = this.#drainWaiters
    this.#drainWaiters = []
    for (const fn of waiters) fn()
  }
}
