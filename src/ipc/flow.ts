/**
 * Per-stream flow control, so one slow body never blocks the other streams of a socket and a
 * 1 GiB body is never buffered whole: a sender may have STREAM_WINDOW unacknowledged bytes;
 * the receiver returns credit as its consumer takes the bytes.
 */
import { Readable } from 'node:stream'
import { STREAM_WINDOW } from './protocol.js'

/** Sender side: spends credit, waits when out of it. */
export class CreditSender {
  #credit = STREAM_WINDOW
  #waiters: Array<() => void> = []
  readonly #socketBlocked: () => boolean
  readonly #onSocketDrain: (fn: () => void) => void

  constructor(socketBlocked: () => boolean, onSocketDrain: (fn: () => void) => void) {
    this.#socketBlocked = socketBlocked
    this.#onSocketDrain = onSocketDrain
  }

  get writable(): boolean {
    return this.#credit > 0 && !this.#socketBlocked()
  }

  spend(bytes: number): void {
    this.#credit -= bytes
  }

  grant(bytes: number): void {
    this.#credit += bytes
    if (this.#credit > 0) this.#wake()
  }

  /** Calls `fn` once sending may go on (credit back and socket drained). */
  whenWritable(fn: () => void): void {
    if (this.writable) return fn()
    if (this.#credit > 0) return this.#onSocketDrain(() => this.whenWritable(fn))
    this.#waiters.push(() => this.whenWritable(fn))
  }

  /** Stream over: release anyone waiting so they can notice. */
  release(): void {
    this.#credit = Number.MAX_SAFE_INTEGER
    this.#wake()
  }

  #wake(): void {
    const waiters = this.#waiters
    this.#waiters = []
    for (const fn of waiters) fn()
  }
}

/**
 * Receiver side: counts bytes handed to the consumer and returns them as credit, at once while
 * the consumer keeps up, else when it asks for more (`_read`).
 */
export class CreditReceiver {
  #unacked = 0
  readonly #grant: (bytes: number) => void

  constructor(grant: (bytes: number) => void) {
    this.#grant = grant
  }

  /** `accepted`: the consumer's push() returned true (it is below its high-water mark). */
  received(bytes: number, accepted: boolean): void {
    this.#unacked += bytes
    if (accepted && this.#unacked >= STREAM_WINDOW / 4) this.wantMore()
  }

  wantMore(): void {
    if (this.#unacked === 0) return
    const bytes = this.#unacked
    this.#unacked = 0
    this.#grant(bytes)
  }
}

/**
 * A body arriving as DATA frames, with credit returned as it is read. `waiting(true)` says its
 * reader asked for more and nothing is buffered for it (so the sender is the one to wait for);
 * `waiting(false)`, that data came, the body ended, or it was destroyed. A reader that stops
 * reading (a slow client) never makes it wait.
 */
export class InboundBody extends Readable {
  readonly #receiver: CreditReceiver
  #complete = false
  readonly #onDestroy: (err: Error | null) => void
  readonly #waiting: ((waiting: boolean) => void) | undefined

  constructor(
    grant: (bytes: number) => void,
    onDestroy: (err: Error | null) => void,
    waiting?: (waiting: boolean) => void,
  ) {
    super({ highWaterMark: 256 * 1024 })
    this.#receiver = new CreditReceiver(grant)
    this.#onDestroy = onDestroy
    this.#waiting = waiting
  }

  deliver(chunk: Buffer): void {
    if (this.destroyed) return
    this.#waiting?.(false)
    this.#receiver.received(chunk.length, this.push(chunk))
  }

  finish(): void {
    if (this.destroyed) return
    this.#complete = true
    this.#waiting?.(false)
    this.push(null)
  }

  /**
   * The whole body, when it has all arrived and nothing has read from the stream yet (a small
   * response: head, data and end came in one read), so the caller can send a buffer instead of
   * piping a stream. Consumes the stream; undefined (stream untouched) otherwise.
   */
  takeComplete(): Buffer | undefined {
    if (!this.#complete || this.destroyed || this.readableFlowing !== null || this.readableDidRead) return undefined
    const buffered = this.readableLength === 0 ? Buffer.alloc(0) : (this.read() as Buffer | null)
    if (buffered === null) return undefined
    this.resume()
    return buffered
  }

  override _read(): void {
    if (!this.#complete) this.#waiting?.(true)
    this.#receiver.wantMore()
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.#waiting?.(false)
    this.#onDestroy(err)
    cb(err)
  }
}
