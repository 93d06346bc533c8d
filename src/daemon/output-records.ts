/**
 * Turns a daemon process's stdout or stderr into log records. A stack trace, a Node warning or
 * a Python traceback arrives as several lines, often in one write, sometimes in a few writes
 * in quick succession. What one read brings is one record; what the next read brings joins it
 * when it arrives within `quietMs` and reads as the rest of it (indented frames, the exception
 * line closing a Python traceback, Node's version footer). A process that writes without
 * pause still gets a record every `maxBytes`.
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
    const text = this.#decoder.write(chunk)
    if (this.#text.endsWith('\n') && !continues(this.#text, text)) this.flush()
    this.#text += text
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
    const record = text
      .replace(/\r\n/g, '\n')
      .replace(/^\s*\n/, '')
      .trimEnd()
    if (record.length > 0) this.#emit(record)
  }
}

/** Whether `next`, the start of a read, continues the record `pending` (whole lines so far). */
export function continues(pending: string, next: string): boolean {
  if (next.length === 0) return true
  // Indented: a stack frame, a traceback's source line, a wrapped message.
  if (/^[ \t]/.test(next) || next.startsWith('\n')) return true
  // After a blank line (Node's uncaught exception: source line, caret, blank, the error).
  if (pending.endsWith('\n\n')) return true
  if (/^Node\.js v\d/.test(next) || next.startsWith('(Use `node ')) return true
  // The exception line after a Python traceback's indented frames.
  const lastLine = pending.slice(pending.lastIndexOf('\n', pending.length - 2) + 1)
  return /^[ \t]/.test(lastLine) && /(^|\n)Traceback \(most recent call last\):\n/.test(pending)
}
