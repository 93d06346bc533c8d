/**
 * The upstream client's response parser (src/proxy/http1-response-parser.ts): where one response
 * ends decides which request the next bytes answer, so every ambiguous framing is refused and
 * every well-formed one is read whole, whether it arrives at once or a byte at a time.
 */
import { describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { Http1ParseError, Http1ResponseParser, type ResponseHead } from '../../src/proxy/http1-response-parser.js'

interface Parsed {
  head: ResponseHead | undefined
  body: string
  complete: boolean
  /** Bytes of the input that belong to the response. */
  used: number
}

/** Feeds `wire` in pieces of `step` bytes (0: at once); `end` closes the connection after it. */
function parse(wire: string, opts: { method?: string; step?: number; end?: boolean; maxHead?: number } = {}): Parsed {
  const out: Parsed = { head: undefined, body: '', complete: false, used: 0 }
  const parser = new Http1ResponseParser(
    {
      onHead: (h) => (out.head = h),
      onBody: (c) => (out.body += c.toString('latin1')),
      onComplete: () => (out.complete = true),
    },
    opts.maxHead ?? 16384,
  )
  parser.start(opts.method ?? 'GET')
  const bytes = Buffer.from(wire, 'latin1')
  const step = opts.step || bytes.length
  for (let i = 0; i < bytes.length && !parser.done; i += step) out.used += parser.execute(bytes.subarray(i, i + step))
  if (opts.end) parser.finish()
  return out
}

function refuses(wire: string, reason: RegExp, opts: Parameters<typeof parse>[1] = {}): void {
  assert.throws(
    () => parse(wire, opts),
    (err: unknown) => err instanceof Http1ParseError && reason.test(err.message),
  )
}

describe('well-formed responses are read whole', () => {
  test('Content-Length framing: the body, the fields as sent, keep-alive', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-A:  spaced  \r\n\r\nhello')
    assert.equal(r.head?.status, 200)
    assert.deepEqual(r.head?.headers, ['Content-Type', 'text/plain', 'Content-Length', '5', 'X-A', 'spaced'])
    assert.equal(r.head?.keepAlive, true)
    assert.equal(r.head?.contentLength, 5)
    assert.equal(r.body, 'hello')
    assert.equal(r.complete, true)
  })

  test('chunked with an extension and trailers: the data only, trailers dropped', () => {
    const r = parse(
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n',
    )
    assert.equal(r.body, 'hello0123456789')
    assert.equal(r.head?.contentLength, -1)
    assert.equal(r.complete, true)
  })

  test('the same response fed one byte at a time reads the same', () => {
    const wire =
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Long: abcdef\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n'
    const r = parse(wire, { step: 1 })
    assert.equal(r.body, 'abcde')
    assert.equal(r.complete, true)
    assert.deepEqual(r.head?.headers, ['Transfer-Encoding', 'chunked', 'X-Long', 'abcdef'])
  })

  test('identical Content-Length values (repeated or listed) are one length', () => {
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 2\r\n\r\nok').body, 'ok')
    assert.equal(parse('HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nok').body, 'ok')
  })

  test('neither length nor chunked: read until the connection closes, and not reused', () => {
    const r = parse('HTTP/1.1 200 OK\r\n\r\nall of it', { end: true })
    assert.equal(r.body, 'all of it')
    assert.equal(r.head?.keepAlive, false)
    assert.equal(r.complete, true)
  })

  test('HEAD, 204 and 304 have no body whatever their fields say; what follows is not theirs', () => {
    const head = parse('HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n', { method: 'HEAD' })
    assert.equal(head.complete, true)
    assert.equal(head.body, '')
    const noContent = parse('HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc')
    assert.equal(noContent.complete, true)
    assert.equal(noContent.used, 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n'.length)
    assert.equal(parse('HTTP/1.1 304 Not Modified\r\nETag: "v"\r\n\r\n').complete, true)
  })

  test('interim 1xx heads are skipped: the final response is the one reported', () => {
    const r = parse(
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 1\r\n\r\nx',
    )
    assert.equal(r.head?.status, 201)
    assert.deepEqual(r.head?.headers, ['Content-Length', '1'])
    assert.equal(r.body, 'x')
  })

  test('bytes after a complete response are not consumed', () => {
    const r = parse('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n')
    assert.equal(r.body, 'ok')
    assert.equal(r.used, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'.length)
  })

  test('HTTP/1.0 and Connection: close end the connection after the response', () => {
    assert.equal(parse('HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, false)
    assert.equal(parse('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, true)
    assert.equal(parse('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n').head?.keepAlive, false)
  })
})

describe('ambiguous or malformed responses are refused', () => {
  test('Content-Length with Transfer-Encoding', () => {
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /both/)
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n', /both/)
  })

  test('two different Content-Lengths, or one that is not a decimal', () => {
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!', /conflicting/)
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!', /conflicting/)
    refuses('HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello', /decimal/)
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello', /decimal/)
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 9999999999999999\r\n\r\n', /decimal/)
  })

  test('Transfer-Encoding other than exactly chunked, repeated, or in HTTP/1.0', () => {
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n', /other than chunked/)
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n', /other than chunked/)
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\n\r\n', /other than chunked/)
    refuses('HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', /HTTP\/1\.0/)
  })

  test('chunk sizes that are not 1-12 hex digits, and chunk data without CRLF after it', () => {
    const te = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'
    refuses(`${te}-5\r\nhello\r\n0\r\n\r\n`, /chunk size/)
    refuses(`${te}0x5\r\nhello\r\n0\r\n\r\n`, /chunk size/)
    refuses(`${te} 5\r\nhello\r\n0\r\n\r\n`, /chunk size/)
    refuses(`${te}1000000000000\r\n`, /chunk size/)
    refuses(`${te}\r\n`, /chunk size/)
    refuses(`${te}5\r\nhelloX\r\n0\r\n\r\n`, /CRLF/)
    refuses(`${te}5;a\x00b\r\nhello\r\n0\r\n\r\n`, /chunk size/)
  })

  test('a line ended by a bare LF, anywhere', () => {
    refuses('HTTP/1.1 200 OK\nContent-Length: 2\n\nok', /bare LF/)
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 2\n\r\nok', /bare LF/)
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\nok\r\n0\r\n\r\n', /bare LF/)
  })

  test('obs-fold, space before the colon, a name that is not a token, CR or NUL in a value', () => {
    refuses('HTTP/1.1 200 OK\r\nX-A: 1\r\n  folded\r\nContent-Length: 0\r\n\r\n', /obs-fold/)
    refuses('HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello', /not a token/)
    refuses('HTTP/1.1 200 OK\r\nX(A): 1\r\n\r\n', /not a token/)
    refuses('HTTP/1.1 200 OK\r\nX-A: a\rb\r\n\r\n', /control character/)
    refuses('HTTP/1.1 200 OK\r\nX-A: a\x00b\r\n\r\n', /control character/)
  })

  test('a status line that is not HTTP/1.x with three digits', () => {
    refuses('HTTP/2 200 OK\r\n\r\n', /status line/)
    refuses('HTTP/1.1 20 OK\r\n\r\n', /status line/)
    refuses('HTTP/1.1  200 OK\r\n\r\n', /status line/)
    refuses('http/1.1 200 OK\r\n\r\n', /status line/)
    refuses('HTTP/1.1 600 Odd\r\n\r\n', /status line/)
  })

  test('a head over the limit, interim heads counted in, even before its line ends', () => {
    refuses(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(200)}\r\n\r\n`, /head too large/, { maxHead: 128 })
    refuses(`HTTP/1.1 200 OK\r\nX-Big: ${'a'.repeat(200)}`, /head too large/, { maxHead: 128 })
    refuses('HTTP/1.1 103 Early Hints\r\n\r\n'.repeat(10), /head too large/, { maxHead: 128 })
  })

  test('101 Switching Protocols, which no request asked for', () => {
    refuses('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\n\r\n', /101/)
  })

  test('a connection closed before the head or inside a framed body', () => {
    refuses('HTTP/1.1 200 OK\r\nContent-Le', /before the response head/, { end: true })
    refuses('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc', /truncated/, { end: true })
    refuses('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab', /truncated/, { end: true })
  })
})
