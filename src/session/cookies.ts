/**
 * Reading the Cookie header and writing Set-Cookie (RFC 6265). Pure.
 * @see https://www.rfc-editor.org/rfc/rfc6265#section-4.2.1
 *
 * cookie-string = cookie-pair *( ";" SP cookie-pair )
 * Browsers are lax about the spaces, so pairs are split on ";" and trimmed.
 */

/** The value of the first cookie named `name`, or undefined. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  const all = Array.isArray(header) ? header.join('; ') : header
  for (const pair of all.split(';')) {
    const eq = pair.indexOf('=')
    if (eq === -1) continue
    if (pair.slice(0, eq).trim() !== name) continue
    let value = pair.slice(eq + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    return value
  }
  return undefined
}

export interface CookieAttributes {
  path: string
  domain?: string
  secure: boolean
  /** Seconds; absent: a browser-session cookie. 0 deletes it. */
  maxAge?: number
  sameSite: 'Lax' | 'Strict'
}

/** `name=value; Path=/; HttpOnly; SameSite=Lax[; Secure][; Domain=…][; Max-Age=…]`. Values are base64url, never quoted. */
export function setCookie(name: string, value: string, a: CookieAttributes): string {
  let out = `${name}=${value}; Path=${a.path}; HttpOnly; SameSite=${a.sameSite}`
  if (a.secure) out += '; Secure'
  if (a.domain !== undefined) out += `; Domain=${a.domain}`
  if (a.maxAge !== undefined) out += `; Max-Age=${a.maxAge}`
  return out
}

/** The Cookie header without the cookies named in `names` (undefined when none is left). */
export function withoutCookies(header: string | string[] | undefined, names: ReadonlySet<string>): string | undefined {
  if (header === undefined) return undefined
  const all = Array.isArray(header) ? header.join('; ') : header
  let named = false
  for (const n of names) if (all.includes(n)) named = true
  if (!named) return all
  const kept = all
    .split(';')
    .map((p) => p.trim())
    .filter((p) => p !== '' && !names.has(p.slice(0, p.indexOf('=') === -1 ? p.length : p.indexOf('=')).trim()))
  return kept.length === 0 ? undefined : kept.join('; ')
}
