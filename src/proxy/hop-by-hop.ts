/**
 * Hop-by-hop header removal for a proxy (RFC 9110 §7.6.1). Pure: returns a new object.
 *
 * A proxy removes the connection-specific fields it knows, and every field named as a
 * connection option in Connection, before forwarding a message in either direction.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-7.6.1
 */

/** Always connection-specific (RFC 9110 §7.6.1, RFC 9112 §9.6, RFC 9113 §8.2.2). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
])

/** Credentials meant for this proxy (RFC 9110 §11.7); passed on only when the route says so. */
const PROXY_AUTH = new Set(['proxy-authorization', 'proxy-authenticate'])

/**
 * connection-option = token (RFC 9110 §7.6.1); Connection = #connection-option.
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2
 */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/

export type HeaderValue = string | string[] | number | undefined

export interface HopByHopOptions {
  /** Keep Proxy-Authorization / Proxy-Authenticate (the route passes them on). Default false. */
  passProxyAuth?: boolean
}

/** Whether a lower-cased field name is always connection-specific (Connection's own list aside). */
export function isHopByHop(lowerName: string): boolean {
  return HOP_BY_HOP.has(lowerName)
}

/** Whether a lower-cased field name carries credentials meant for a proxy. */
export function isProxyAuth(lowerName: string): boolean {
  return PROXY_AUTH.has(lowerName)
}

/** Lower-cased field names listed in every Connection header value. */
export function connectionOptions(value: HeaderValue): Set<string> {
  const names = new Set<string>()
  if (value === undefined) return names
  const values = Array.isArray(value) ? value : [String(value)]
  for (const v of values) {
    for (const part of v.split(',')) {
      const name = part.trim().toLowerCase()
      if (name !== '' && TOKEN.test(name)) names.add(name)
    }
  }
  return names
}

/**
 * Returns a copy of `headers` without hop-by-hop fields. Field names are matched
 * case-insensitively and kept as given; numbers become strings; undefined values are dropped.
 */
export function stripHopByHop(
  headers: Readonly<Record<string, HeaderValue>>,
  options: HopByHopOptions = {},
): Record<string, string | string[]> {
  let connection: HeaderValue
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() === 'connection') connection = mergeValues(connection, headers[name])
  }
  const listed = connectionOptions(connection)
  const out: Record<string, string | string[]> = {}
  for (const name of Object.keys(headers)) {
    const value = headers[name]
    if (value === undefined) continue
    const lower = name.toLowerCase()
    if (HOP_BY_HOP.has(lower) || listed.has(lower)) continue
    if (PROXY_AUTH.has(lower) && options.passProxyAuth !== true) continue
    out[name] = typeof value === 'number' ? String(value) : value
  }
  return out
}

function mergeValues(a: HeaderValue, b: HeaderValue): HeaderValue {
  if (a === undefined) return b
  if (b === undefined) return a
  const left = Array.isArray(a) ? a : [String(a)]
  const right = Array.isArray(b) ? b : [String(b)]
  return [...left, ...right]
}

/** A flat field list ([name, value, …]) without the names Connection listed; the entries before `from` stay. */
export function withoutListed(flat: string[], listed: ReadonlySet<string>, from = 0): string[] {
  if (listed.size === 0) return flat
  const out = flat.slice(0, from)
  for (let i = from; i < flat.length; i += 2) {
    if (!listed.has((flat[i] as string).toLowerCase())) out.push(flat[i] as string, flat[i + 1] as string)
  }
  return out
}
