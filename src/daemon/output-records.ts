/**
 * Turns a daemon process's stdout or stderr into log records. A stack trace, a Node warning or
 * a Python traceback arrives as several lines, often in one write, sometimes in a few writes
 * in quick succession: lines that arrive together, with no pause of `quietMs` between them, are
 * one record. A process that writes without pause still gets a record every `maxBytes`.
 */
import { StringDecoder } from 'node:string_decoder'

export const OUTPUT_QUIET_MS = 25
export const OUTPUT_RECORD_MAX_BYTES = 32 * 1024

export class OutputRecords {
  readonly #emit: (text: string) => void
  readonly #quietMs: number
  readonly #maxBytes: number
  readonly #decoder = new StringDecoder('utf8')
  #text = ''
  #timer: NodeJS.Timeout | undefined

  constructor(emit: (text: string) => void, quietMs = OUTPUT_QUIET_MS, maxBytes = OUTPUT_RECORD_MAX_BYTES) {
    this.#emit = emit
    this.#quietMs = quietMs
    this.#maxBytes = maxBytes
  }

  push(chunk: Buffer): void {
    this.#text += this.#decoder.write(chunk)
    while (this.#text.length > this.#maxBytes) {
      // Cut at the last line end inside the limit, so a record never splits a line it could hold.
      const nl = this.#text.lastIndexOf('\n', this.#maxBytes)
      const cut = nl > 0 ? nl + 1 : this.#maxBytes
      this.#send(this.#text.slice(0, cut))
      this.#text = this.#text.slice(cut)
    }
    clearTimeout(this.#timer)
    if (this.#text.length > 0) {
      this.#timer = setTimeout(() => this.flush(), this.#quietMs)
      this.#timer.unref()
    }
  }

  /** Emits what is pending (the stream ended, or the process exited). */
  flush(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    const text = this.#text + this.#decoder.end()
    this.#text = ''
    this.#send(text)
  }

  #send(text: string): void {
    // CRLF from Windows-minded tools, and the blank lines around a trace, carry nothing.
    const record = text.replace(/\r\n/g, '\n').replace(/^\s*\n/, '').trimEnd()
    if (record.length > 0) this.#emit(record)
  }
}
