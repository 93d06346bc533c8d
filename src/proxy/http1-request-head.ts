/**
 * Writes the head of a bodiless HTTP/1.1 request for the upstream client (RFC 9112 §3, §5).
 * The fields arrive already cleaned (hop-by-hop fields out, Host set: UpstreamTarget's
 * request fields). What reaches the wire is checked once more here, because a CR or LF that
 * slipped into a field would start a request of its own on a shared connection: a method that
 * is not a token, a target with a space or control character, a field name that is not a token
 * or a value with CR, LF or NUL is a TypeError, and nothing is written.
 */

/** @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2 token = 1*tchar */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

/** request-target in origin-form: no SP, no control characters. @see https://www.rfc-editor.org/rfc/rfc9112#section-3.2 */
const TARGET = /^\/[\x21-\x7e\x80-\xff]*$/

/** What may never be in a field value on the wire (RFC 9110 §5.5). */
const VALUE_BREAK = /[\r\n\0]/

/** `flat` is [name, value, name, value…]. Returns the head, blank line included. */
export function requestHead(method: string, target: string, flat: readonly string[]): string {
  if (!TOKEN.test(method)) throw new TypeError('request method is not a token')
  if (!TARGET.test(target)) throw new TypeError('request target has a space or control character')
  let head = `${method} ${target} HTTP/1.1\r\n`
  for (let i = 0; i < flat.length; i += 2) {
    const name = flat[i] as string
    const value = flat[i + 1] as string
    if (!TOKEN.test(name)) throw new TypeError('request field name is not a token')
    if (VALUE_BREAK.test(value)) throw new TypeError(`request field ${name} has CR, LF or NUL in its value`)
    head += `${name}: ${value}\r\n`
  }
  return `${head}\r\n`
}
