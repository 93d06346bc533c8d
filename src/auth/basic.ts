/**
 * The "Basic" HTTP authentication scheme.
 * @see https://www.rfc-editor.org/rfc/rfc7617
 *
 * Pure functions, no Fastify import. Rules taken from @fastify/basic-auth (split at the first
 * ':', reject control characters) and made stricter: base64 must be canonical RFC 4648 with
 * padding, and the octets must be valid UTF-8 (no replacement characters are invented).
 */
import { quote } from './auth-header.js'

/** Longest credentials (the token68 part) we decode. */
export const MAX_BASIC_CREDENTIALS_LENGTH = 8 * 1024

/**
 * token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * @see https://www.rfc-editor.org/rfc/rfc7235#section-2.1
 * Basic carries base64 (RFC 4648 §4, padded, standard alphabet), the strict subset used here:
 * groups of 4, with 0, 1 or 2 "=" only at the end.
 * @see https://www.rfc-editor.org/rfc/rfc7617#section-2
 */
const base64RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/

/**
 * The user-id and password MUST NOT contain any control characters (CTL, RFC 5234 B.1:
 * %x00-1F / %x7F). C1 controls (U+0080-U+009F) are refused too: RFC 7613's profiles for user
 * names and passwords exclude every Unicode control character.
 * @see https://www.rfc-editor.org/rfc/rfc7617#section-2
 */
const controlRE = /\p{Cc}/u

const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

/**
 * user-pass = user-id ":" password
 * user-id   = *<TEXT excluding ":">
 * password  = *TEXT
 *
 * Parses the part after "Basic " (see splitAuthorization). Undefined when the base64 is not
 * canonical, the octets are not UTF-8, there is no ':', or a control character appears.
 * The user-id may be empty (the grammar allows it); the caller's provider decides.
 */
export function parseBasic(rest: string): { user: string; password: string } | undefined {
  if (typeof rest !== 'string' || rest.length === 0 || rest.length > MAX_BASIC_CREDENTIALS_LENGTH) return undefined
  if (!base64RE.test(rest)) return undefined
  const octets = Buffer.from(rest, 'base64')
  // Canonical form only: the unused bits of the last group must be zero.
  if (octets.toString('base64') !== rest) return undefined
  let decoded: string
  try {
    decoded = utf8Fatal.decode(octets)
  } catch {
    return undefined
  }
  if (controlRE.test(decoded)) return undefined
  const colon = decoded.indexOf(':')
  if (colon === -1) return undefined
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) }
}

/**
 * The Authorization header value for `user` and `password`, UTF-8 encoded (RFC 7617 §2.1).
 * Throws TypeError for input that parseBasic would refuse: ':' in the user, control characters,
 * lone surrogates.
 */
export function formatBasic(user: string, password: string): string {
  if (typeof user !== 'string' || typeof password !== 'string') throw new TypeError('user and password must be strings')
  if (user.includes(':')) throw new TypeError('a Basic user-id cannot contain ":"')
  if (controlRE.test(user) || controlRE.test(password))
    throw new TypeError('Basic credentials cannot contain control characters')
  if (/[\uD800-\uDFFF]/u.test(user) || /[\uD800-\uDFFF]/u.test(password))
    throw new TypeError('Basic credentials cannot contain lone surrogates')
  return `Basic ${Buffer.from(`${user}:${password}`, 'utf8').toString('base64')}`
}

/**
 * challenge = "Basic" 1*SP realm [ "," charset ]   (charset = "UTF-8", the only value defined)
 * @see https://www.rfc-editor.org/rfc/rfc7617#section-2.1
 *
 * `basicChallenge('Office')` → `Basic realm="Office", charset="UTF-8"`. The realm is quoted with
 * quote() ('"' and '\' escaped; a control character throws TypeError). charset defaults to true.
 */
export function basicChallenge(realm: string, opts?: { charset?: boolean }): string {
  const charset = opts?.charset ?? true
  return `Basic realm=${quote(realm)}${charset ? ', charset="UTF-8"' : ''}`
}
