/**
 * RFC 7235 / RFC 9110 §11 syntax shared by every scheme: splitting the Authorization header,
 * the `#auth-param` list, quoted-strings, and the octet view of header values.
 *
 * Node hands header values to JavaScript as latin1 strings (one char per octet) and writes them
 * the same way, so a UTF-8 user name arrives as mojibake. `decodeHeaderOctets` and
 * `encodeHeaderOctets` convert between that octet view and real Unicode strings.
 *
 * Pure functions: no Fastify import. Malformed input gives `undefined`; misuse throws TypeError.
 */

/** Longest Authorization / Proxy-Authorization value we look at (Node's whole header limit is 16 KiB). */
export const MAX_AUTHORIZATION_LENGTH = 16 * 1024

/**
 * tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 * token = 1*tchar
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2
 */
const TCHAR = "!#$%&'*+\\-.^_`|~0-9A-Za-z"

/**
 * credentials = auth-scheme [ 1*SP ( token68 / #auth-param ) ]
 * auth-scheme = token
 * @see https://www.rfc-editor.org/rfc/rfc7235#section-2.1
 * Leading and trailing OWS around the whole field value is not part of the value (RFC 9110 §5.5).
 * Scanned by index, not by a backtracking regex, so that long runs of spaces stay linear.
 */
const schemeRE = new RegExp(`^[${TCHAR}]+`)

/**
 * Splits an Authorization header value into its lower-cased scheme and the rest.
 * `'Basic  QWxh...'` → `{ scheme: 'basic', rest: 'QWxh...' }`. Undefined when malformed or too long.
 */
export function splitAuthorization(value: string): { scheme: string; rest: string } | undefined {
  if (typeof value !== 'string' || value.length > MAX_AUTHORIZATION_LENGTH) return undefined
  let start = 0
  let end = value.length
  while (start < end && isOWS(value.charCodeAt(start))) start++
  while (end > start && isOWS(value.charCodeAt(end - 1))) end--
  const v = value.slice(start, end)
  const m = schemeRE.exec(v)
  if (m === null) return undefined
  let i = m[0].length
  if (i === v.length) return { scheme: m[0].toLowerCase(), rest: '' }
  if (v.charCodeAt(i) !== 0x20) return undefined
  while (v.charCodeAt(i) === 0x20) i++
  return { scheme: m[0].toLowerCase(), rest: v.slice(i) }
}

function isOWS(c: number): boolean {
  return c === 0x20 || c === 0x09
}

/**
 * qdtext      = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text
 * quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
 * obs-text    = %x80-FF
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.4
 */
function isQdtext(c: number): boolean {
  return (
    c === 0x09 ||
    c === 0x20 ||
    c === 0x21 ||
    (c >= 0x23 && c <= 0x5b) ||
    (c >= 0x5d && c <= 0x7e) ||
    (c >= 0x80 && c <= 0xff)
  )
}
function isQuotedPairChar(c: number): boolean {
  return c === 0x09 || (c >= 0x20 && c <= 0x7e) || (c >= 0x80 && c <= 0xff)
}

/** tchar by octet, a table looked up per character (the parser runs on every Digest request). */
const TCHAR_TABLE = new Uint8Array(256)
for (let c = 0; c < 256; c++) {
  TCHAR_TABLE[c] =
    (c >= 0x30 && c <= 0x39) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x61 && c <= 0x7a) ||
    "!#$%&'*+-.^_`|~".includes(String.fromCharCode(c))
      ? 1
      : 0
}

function isTchar(c: number): boolean {
  return c < 256 && TCHAR_TABLE[c] === 1
}

/**
 * #auth-param, with the list rules of RFC 9110 §5.6.1 (empty elements are ignored):
 *   auth-param = token BWS "=" BWS ( token / quoted-string )
 * @see https://www.rfc-editor.org/rfc/rfc7235#section-2.1
 *
 * Returns a Map from lower-cased parameter name to its value (quoted-strings unescaped, still in
 * the header's octet view). A parameter given twice, a bare token68, a missing "=", an unclosed
 * quote or any character outside the grammar → undefined. Either value form is accepted for every
 * parameter, as Apache and nginx do; the meaning does not depend on the form.
 */
export function parseAuthParams(input: string): Map<string, string> | undefined {
  if (typeof input !== 'string' || input.length > MAX_AUTHORIZATION_LENGTH) return undefined
  const params = new Map<string, string>()
  const n = input.length
  let i = 0
  const skipOWS = (): void => {
    while (i < n && isOWS(input.charCodeAt(i))) i++
  }
  for (;;) {
    skipOWS()
    if (i >= n) break
    if (input.charCodeAt(i) === 0x2c) {
      i++
      continue
    } // empty list element
    const nameStart = i
    while (i < n && isTchar(input.charCodeAt(i))) i++
    if (i === nameStart) return undefined
    const name = input.slice(nameStart, i).toLowerCase()
    skipOWS()
    if (input.charCodeAt(i) !== 0x3d) return undefined // "="
    i++
    skipOWS()
    let value: string
    if (input.charCodeAt(i) === 0x22) {
      i++
      // Runs of qdtext are sliced, not copied a character at a time; only quoted-pairs split them.
      let out = ''
      let run = i
      let closed = false
      while (i < n) {
        const c = input.charCodeAt(i)
        if (c === 0x22) {
          closed = true
          break
        }
        if (c === 0x5c) {
          if (i + 1 >= n || !isQuotedPairChar(input.charCodeAt(i + 1))) return undefined
          out += input.slice(run, i) + input[i + 1]
          i += 2
          run = i
          continue
        }
        if (!isQdtext(c)) return undefined
        i++
      }
      if (!closed) return undefined
      value = out + input.slice(run, i)
      i++
    } else {
      const valueStart = i
      while (i < n && isTchar(input.charCodeAt(i))) i++
      if (i === valueStart) return undefined
      value = input.slice(valueStart, i)
    }
    if (params.has(name)) return undefined
    params.set(name, value)
    skipOWS()
    if (i >= n) break
    if (input.charCodeAt(i) !== 0x2c) return undefined
    i++
  }
  return params
}

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * Interprets a header string in Node's octet view as UTF-8 when it is valid UTF-8.
 * Pure ASCII comes back unchanged. Returns `{ value, utf8 }`: `utf8` is true when non-ASCII
 * octets decoded as UTF-8; otherwise the octets are kept as ISO-8859-1 (RFC 2617 clients).
 */
export function decodeHeaderOctets(octets: string): { value: string; utf8: boolean } {
  if (/^[\x00-\x7f]*$/.test(octets)) return { value: octets, utf8: false }
  if (/[^\x00-\xff]/.test(octets)) return { value: octets, utf8: false }
  try {
    return { value: utf8Fatal.decode(Buffer.from(octets, 'latin1')), utf8: true }
  } catch {
    return { value: octets, utf8: false }
  }
}

/** The octet view (UTF-8 bytes as latin1 chars) of a Unicode string, ready for a header. */
export function encodeHeaderOctets(value: string): string {
  return Buffer.from(value, 'utf8').toString('latin1')
}

/**
 * quoted-string = DQUOTE *( qdtext / quoted-pair ) DQUOTE
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.4
 *
 * Quotes a Unicode string for a header: `"` and `\` are escaped, non-ASCII is written as UTF-8
 * octets (in Node's latin1 view). Throws TypeError for control characters (other than HTAB) and
 * lone surrogates: they cannot appear in a quoted-string, and CR/LF would split the header.
 */
export function quote(value: string): string {
  if (typeof value !== 'string') throw new TypeError('quote expects a string')
  if (/[\uD800-\uDFFF]/u.test(value)) throw new TypeError('a quoted-string cannot hold lone surrogates')
  return quoteOctets(encodeHeaderOctets(value))
}

/**
 * Like quote(), for a value already in the octet view (e.g. a cnonce echoed from a request):
 * escapes only. Throws TypeError for control characters (other than HTAB) or chars above U+00FF.
 */
export function quoteOctets(octets: string): string {
  if (typeof octets !== 'string') throw new TypeError('quoteOctets expects a string')
  if (/[\x00-\x08\x0a-\x1f\x7f]|[^\x00-\xff]/.test(octets)) {
    throw new TypeError('a quoted-string cannot hold control characters or characters above U+00FF')
  }
  return `"${octets.replace(/["\\]/g, '\\$&')}"`
}
