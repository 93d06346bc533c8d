/**
 * The control channel between the front and one worker process: the worker's fd 3, one end of
 * a socketpair, carrying one JSON object per line (UTF-8, `\n`-terminated) in both directions.
 * Any language can speak it, unlike Node's own IPC channel (docs/protocol.md).
 *
 * Both ends use this class with a reader that validates each message. The first line that is
 * not JSON, does not validate, or runs past MAX_CONTROL_LINE_BYTES makes `onInvalid` run once
 * and the channel stop reading: the front then ends that worker, a worker exits. Nothing a
 * worker writes here can throw in the front.
 */
import type { Duplex } from 'node:stream'
import { MAX_CONTROL_LINE_BYTES } from './protocol.js'

export interface ControlChannelHandlers<In> {
  /** Validates a parsed line; throws to reject it. */
  read(value: unknown): In
  onMessage(msg: In): void
  /** A line was malformed (`why` is short and never echoes the line); the channel is stopped. */
  onInvalid(why: string): void
  /** The peer closed its end, or the channel was stopped. Called once. */
  onClose(): void
}

export class ControlChannel<In, Out> {
  readonly #stream: Duplex
  readonly #h: ControlChannelHandlers<In>
  #pending: Buffer[] = []
  #pendingBytes = 0
  #stopped = false
  #closed = false

  constructor(stream: Duplex, handlers: ControlChannelHandlers<In>) {
    this.#stream = stream
    this.#h = handlers
    stream.on('data', (chunk: Buffer) => this.#onData(chunk))
    stream.on('error', () => this.#close())
    stream.on('close', () => this.#close())
    stream.on('end', () => this.#close())
  }

  /** False once the peer went away or the channel was stopped. */
  get open(): boolean {
    return !this.#closed
  }

  /** Writes one message; `then` runs once it was handed to the kernel (or the write failed). */
  send(msg: Out, then?: () => void): void {
    if (this.#closed || this.#stream.destroyed) {
      then?.()
      return
    }
    this.#stream.write(JSON.stringify(msg) + '\n', () => then?.())
  }

  /** Stops reading and closes this end. */
  destroy(): void {
    this.#stopped = true
    this.#stream.destroy()
    this.#close()
  }

  #onData(chunk: Buffer): void {
    let start = 0
    for (;;) {
      if (this.#stopped) return
      const nl = chunk.indexOf(0x0a, start)
      if (nl === -1) break
      const part = chunk.subarray(start, nl)
      start = nl + 1
      const line = this.#pending.length === 0 ? part : Buffer.concat([...this.#pending, part])
      this.#pending = []
      this.#pendingBytes = 0
      if (line.length > MAX_CONTROL_LINE_BYTES)
        return this.#invalid(`line of ${line.length} bytes is longer than ${MAX_CONTROL_LINE_BYTES}`)
      if (line.length === 0) continue
      let msg: In
      try {
        msg = this.#h.read(JSON.parse(line.toString('utf8')))
      } catch (err) {
        return this.#invalid(
          err instanceof SyntaxError ? 'not a JSON line' : err instanceof Error ? err.message : 'invalid message',
        )
      }
      this.#h.onMessage(msg)
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start)
      this.#pendingBytes += rest.length
      if (this.#pendingBytes > MAX_CONTROL_LINE_BYTES)
        return this.#invalid(`line longer than ${MAX_CONTROL_LINE_BYTES} bytes`)
      // Copied: the chunk's memory may be reused by the stream.
      this.#pending.push(Buffer.from(rest))
    }
  }

  #invalid(why: string): void {
    if (this.#stopped) return
    this.#stopped = true
    this.#pending = []
    this.#h.onInvalid(why)
    this.destroy()
  }

  #close(): void {
    if (this.#closed) return
    this.#closed = true
    this.#h.onClose()
  }
}
