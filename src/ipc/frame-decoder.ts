/**
 * Incremental frame decoder: feed it socket chunks, it calls back once per whole frame.
 * Payloads are views into the received chunks (no copy) unless a frame spans chunks.
 */
import { errors } from '../errors.js'
import { FRAME_HEADER_BYTES, MAX_FRAME_BYTES, type FrameType } from './protocol.js'

export type FrameHandler = (type: FrameType, id: number, payload: Buffer) => void

export class FrameDecoder {
  #pending: Buffer | null = null
  readonly #onFrame: FrameHandler

  constructor(onFrame: FrameHandler) {
    this.#onFrame = onFrame
  }

  /** Throws GH_ERR_IPC_PROTOCOL on a malformed frame; the caller drops the connection. */
  push(chunk: Buffer): void {
    const buf = this.#pending === null ? chunk : Buffer.concat([this.#pending, chunk])
    this.#pending = null
    let offset = 0
    while (buf.length - offset >= 4) {
      const length = buf.readUInt32BE(offset)
      if (length < 5 || length > MAX_FRAME_BYTES) throw errors.GH_ERR_IPC_PROTOCOL(`frame length ${length}`)
      if (buf.length - offset < length + 4) break
      const type = buf.readUInt8(offset + 4) as FrameType
      const id = buf.readUInt32BE(offset + 5)
      const payload = buf.subarray(offset + FRAME_HEADER_BYTES, offset + 4 + length)
      offset += 4 + length
      try {
        this.#onFrame(type, id, payload)
      } catch (err) {
        // A handler's own failure (an app listener that throws) is not a protocol error: let it
        // surface as Node's http server would, as an uncaught exception.
        process.nextTick(() => {
          throw err
        })
      }
    }
    if (offset < buf.length) this.#pending = offset === 0 ? buf : buf.subarray(offset)
  }
}
