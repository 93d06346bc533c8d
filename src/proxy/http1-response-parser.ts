/**
 * A strict, incremental HTTP/1.1 response parser for the upstream client (RFC 9112). A proxy's
 * response parser decides where one response ends and the next begins on a reused connection:
 * any doubt about that boundary (request smuggling, response desync) is a refusal here, never
 * a guess. Pure: no I/O; the connection feeds it bytes and reacts to its events and errors.
 *
 * Refused (Http1ParseError): a status line that is not `HTTP/1.x DDD[ reason]`; a line ended by a
 * bare LF; a field name that is not a token, or space before its colon; a field value with a
 * control character (CR, LF, NUL…); obs-fold; Content-Length that is not one decimal (a list
 * or repeated field is accepted only when every value is the same); Transfer-Encoding other
 * than exactly `chunked`, or together with Content-Length, or in an HTTP/1.0 response; a
 * chunk size that is not 1–12 hex digits; chunk data not followed by CRLF; a head (interim
 * heads and trailers included) over the configured size; 101 Switching Protocols (no request
 * asks to switch). Interim 1xx heads are read and dropped (RFC 9110 §15.2: a client must
 * accept them before the final response; undici does the same). Trailer fields are read,
 * checked and dropped. HEAD, 204 and 304 responses have no body, whatever their fields say.
 * A response with neither length nor chunked coding is read until the connection closes.
 */

/** @see https://www.rfc-editor.org/rfc/rfc9112#section-4 status-line = HTTP-version SP status-code SP [ reason-phrase ] */
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-5][0-9][0-9])(?: [\t\x20-\x7e\x80-\xff]*)?$/

/** @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2 token = 1*tchar */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** @see https://www.rfc-editor.org/rfc/rfc9110#section-5.5 field-value = *field-content; field-vchar = VCHAR / obs-text */
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/

/** @see https://www.rfc-editor.org/rfc/rfc9112#section-7.1 chunk-size = 1*HEXDIG (12 digits: under 2^53) */
const CHUNK_SIZE = /^([0-9A-Fa-f]{1,12})[\t ]*(;[\t\x20-\x7e\x80-\xff]*)?$/

/** Content-Length = 1*DIGIT (15 digits: under 2^53). @see https://www.rfc-editor.org/rfc/rfc9110#section-8.6 */
const DECIMAL = /^[0-9]{1,15}$/

/** Longest chunk-size line, extensions included. */
const CHUNK_LINE_LIMIT = 4096

const CR = 13
const LF = 10

export class Http1ParseError extends Error {
  readonly code = 'UPSTREAM_BAD_RESPONSE'
  constructor(reason: string) {
    super(`bad upstream response: ${reason}`)
    this.name = 'Http1ParseError'
  }
}

export interface ResponseHead {
  status: number
  /** Field lines as received, flat: [name, value, name, value…]; values without surrounding whitespace. */
  headers: string[]
  /** The connection may carry another request once this response is complete. */
  keepAlive: boolean
  /** The body length when Content-Length framed it; -1 for chunked, read-to-close or none. */
  contentLength: number
}

export interface ResponseEvents {
  onHead(head: ResponseHead): void
  onBody(chunk: Buffer): void
  onComplete(): void
}

type State = 'idle' | 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'to-close' | 'done'

export class Http1ResponseParser {
  readonly #events: ResponseEvents
  readonly #maxHead: number
  #state: State = 'idle'
  #noBody = false
  /** Bytes of a line not ended yet. */
  #partial: Buffer[] = []
  #partialBytes = 0
  /** Head bytes so far (interim heads and trailers count). */
  #headBytes = 0
  #remaining = 0
  /** Of the head being read. */
  #status = 0
  #minor = 1
  #headers: string[] = []
  #contentLength = -1
  #chunked = false
  #close = false
  #keepAliveToken = false

  constructor(events: ResponseEvents, maxHeadBytes: number) {
    this.#events = events
    this.#maxHead = maxHeadBytes
  }

  /** Whether the response is complete. */
  get done(): boolean {
    return this.#state === 'done'
  }

  /** Whether the final head has been read. */
  get headSeen(): boolean {
    return this.#state !== 'idle' && this.#state !== 'head'
  }

  /** Expects the response to a request of `method`. */
  start(method: string): void {
    this.#noBody = method === 'HEAD'
    this.#state = 'head'
    this.#headBytes = 0
    this.#partial = []
    this.#partialBytes = 0
    this.#resetHead()
  }

  /**
   * Feeds bytes; returns how many belong to the response (fewer than `chunk.length` only once it is
   * complete: the rest came after it). Throws Http1ParseError.
   */
  execute(chunk: Buffer): number {
    let pos = 0
    while (pos < chunk.length) {
      switch (this.#state) {
        case 'head':
        case 'trailers':
        case 'chunk-size': {
          const end = this.#line(chunk, pos)
          if (end < 0) return chunk.length
          pos = end
          break
        }
        case 'length': {
          const n = Math.min(this.#remaining, chunk.length - pos)
          this.#remaining -= n
          this.#events.onBody(chunk.subarray(pos, pos + n))
          pos += n
          if (this.#remaining === 0) this.#complete()
          break
        }
        case 'chunk-data': {
          const n = Math.min(this.#remaining, chunk.length - pos)
          this.#remaining -= n
          this.#events.onBody(chunk.subarray(pos, pos + n))
          pos += n
          if (this.#remaining === 0) {
            this.#state = 'chunk-end'
            this.#remaining = 2
          }
          break
        }
        case 'chunk-end': {
          // Exactly CRLF after the chunk data (the second byte may come in a later read).
          const expected = this.#remaining === 2 ? CR : LF
          if (chunk[pos] !== expected) throw new Http1ParseError('chunk data not followed by CRLF')
          pos++
          if (--this.#remaining === 0) this.#state = 'chunk-size'
          break
        }
        case 'to-close':
          this.#events.onBody(pos === 0 ? chunk : chunk.subarray(pos))
          return chunk.length
        case 'idle':
        case 'done':
          return pos
      }
    }
    return pos
  }

  /** The connection closed: completes a read-to-close body; anything else unfinished throws. */
  finish(): void {
    if (this.#state === 'to-close') return this.#complete()
    if (this.#state === 'done' || this.#state === 'idle') return
    throw new Http1ParseError(this.#state === 'head' ? 'connection closed before the response head' : 'truncated body')
  }

  /** Reads one CRLF-ended line from `pos`; returns the position after it, or -1 if it is not complete yet. */
  #line(chunk: Buffer, pos: number): number {
    const limit = this.#state === 'chunk-size' ? CHUNK_LINE_LIMIT : this.#maxHead - this.#headBytes
    const lf = chunk.indexOf(LF, pos)
    if (lf < 0) {
      this.#partialBytes += chunk.length - pos
      if (this.#partialBytes > limit) throw this.#tooLong()
      this.#partial.push(chunk.subarray(pos))
      return -1
    }
    let line = chunk.subarray(pos, lf + 1)
    if (this.#partialBytes > 0) {
      this.#partial.push(line)
      line = Buffer.concat(this.#partial, this.#partialBytes + line.length)
      this.#partial = []
      this.#partialBytes = 0
    }
    if (line.length > limit) throw this.#tooLong()
    if (line.length < 2 || line[line.length - 2] !== CR) throw new Http1ParseError('line ended by a bare LF')
    if (this.#state !== 'chunk-size') this.#headBytes += line.length
    const text = line.toString('latin1', 0, line.length - 2)
    if (this.#state === 'head') this.#headLine(text)
    else if (this.#state === 'trailers') this.#trailerLine(text)
    else this.#chunkSizeLine(text)
    return lf + 1
  }

  #tooLong(): Http1ParseError {
    return new Http1ParseError(this.#state === 'chunk-size' ? 'chunk size line too long' : 'head too large')
  }

  #headLine(text: string): void {
    if (this.#status === 0) {
      const m = STATUS_LINE.exec(text)
      if (m === null) throw new Http1ParseError('malformed status line')
      this.#minor = m[1] === '0' ? 0 : 1
      this.#status = Number(m[2])
      return
    }
    if (text === '') return this.#endOfHead()
    const [name, value] = fieldLine(text)
    this.#headers.push(name, value)
    const lower = name.length >= 10 && name.length <= 17 ? name.toLowerCase() : ''
    if (lower === 'content-length') this.#setContentLength(value)
    else if (lower === 'transfer-encoding') {
      if (this.#chunked || value.toLowerCase() !== 'chunked')
        throw new Http1ParseError('transfer-encoding other than chunked')
      this.#chunked = true
    } else if (lower === 'connection') {
      for (const part of value.split(',')) {
        const option = part.trim().toLowerCase()
        if (option === 'close') this.#close = true
        else if (option === 'keep-alive') this.#keepAliveToken = true
      }
    }
  }

  #setContentLength(value: string): void {
    for (const part of value.split(',')) {
      const digits = trimOws(part)
      if (!DECIMAL.test(digits)) throw new Http1ParseError('content-length is not a decimal')
      const n = Number(digits)
      if (this.#contentLength !== -1 && this.#contentLength !== n)
        throw new Http1ParseError('conflicting content-lengths')
      this.#contentLength = n
    }
  }

  #endOfHead(): void {
    if (this.#chunked && this.#contentLength !== -1)
      throw new Http1ParseError('both content-length and transfer-encoding')
    if (this.#chunked && this.#minor === 0) throw new Http1ParseError('transfer-encoding in an HTTP/1.0 response')
    const status = this.#status
    if (status < 200) {
      if (status === 101) throw new Http1ParseError('101 switching protocols was not asked for')
      // Interim response: dropped; the final one follows on the same connection.
      this.#resetHead()
      return
    }
    const noBody = this.#noBody || status === 204 || status === 304
    const framed = noBody || this.#chunked || this.#contentLength !== -1
    const keepAlive = framed && !this.#close && (this.#minor === 1 || this.#keepAliveToken)
    this.#events.onHead({
      status,
      headers: this.#headers,
      keepAlive,
      contentLength: this.#chunked ? -1 : this.#contentLength,
    })
    if (noBody || this.#contentLength === 0) return this.#complete()
    if (this.#chunked) this.#state = 'chunk-size'
    else if (this.#contentLength > 0) {
      this.#state = 'length'
      this.#remaining = this.#contentLength
    } else this.#state = 'to-close'
  }

  #chunkSizeLine(text: string): void {
    const m = CHUNK_SIZE.exec(text)
    if (m === null) throw new Http1ParseError('malformed chunk size')
    const size = parseInt(m[1] as string, 16)
    if (size === 0) {
      this.#state = 'trailers'
      return
    }
    this.#state = 'chunk-data'
    this.#remaining = size
  }

  /** Trailer fields are checked as header fields are, and dropped. */
  #trailerLine(text: string): void {
    if (text === '') return this.#complete()
    fieldLine(text)
  }

  #complete(): void {
    this.#state = 'done'
    this.#events.onComplete()
  }

  #resetHead(): void {
    this.#status = 0
    this.#minor = 1
    this.#headers = []
    this.#contentLength = -1
    this.#chunked = false
    this.#close = false
    this.#keepAliveToken = false
  }
}

/**
 * field-line = field-name ":" OWS field-value OWS; no whitespace before the colon, none at the
 * start of the line (obs-fold, RFC 9112 §5.2: refused).
 * @see https://www.rfc-editor.org/rfc/rfc9112#section-5
 */
function fieldLine(text: string): [string, string] {
  const colon = text.indexOf(':')
  if (colon <= 0)
    throw new Http1ParseError(
      text.charCodeAt(0) === 32 || text.charCodeAt(0) === 9 ? 'obs-fold' : 'malformed field line',
    )
  const name = text.slice(0, colon)
  if (!TOKEN.test(name)) throw new Http1ParseError('field name is not a token')
  const value = text.slice(colon + 1)
  if (!FIELD_VALUE.test(value)) throw new Http1ParseError('control character in a field value')
  return [name, trimOws(value)]
}

/** OWS = *( SP / HTAB ): String.prototype.trim would also strip U+00A0, a latin1 byte here. */
function trimOws(s: string): string {
  let a = 0
  let b = s.length
  while (a < b && isOws(s.charCodeAt(a))) a++
  while (b > a && isOws(s.charCodeAt(b - 1))) b--
  return a === 0 && b === s.length ? s : s.slice(a, b)
}

function isOws(c: number): boolean {
  return c === 32 || c === 9
}
