/**
 * Header hygiene between the client and the target: hop-by-hop fields out, client copies of
 * the identity headers out (and their look-alikes: `X_Remote_User` reads as X-Remote-User in
 * CGI-style frameworks; the names other auth proxies use for the same thing), credentials out
 * unless the route passes them, X-Forwarded-* set, and the authenticated identity in, first.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { connectionOptions } from './hop-by-hop.js'

export interface ForwardHeaderOptions {
  /** Canonical names (canonicalHeaderName) never taken from the client: strippedHeaderNames(). */
  reserved: ReadonlySet<string>
  userHeader: string
  groupsHeader: string
  passAuthorization: boolean
  /** Whether the client's own X-Forwarded-* may be kept and extended (it is a trusted proxy). */
  trustForwarded: boolean
}

/** Normalizes a header name the way CGI-style frameworks see it: case and '_' vs '-' do not matter. */
export function canonicalHeaderName(name: string): string {
  return name.toLowerCase().replace(/_/g, '-')
}

/**
 * Request headers a client never gets to send to the target, whatever the route. An app behind
 * another auth proxy (Authelia, oauth2-proxy, Grafana's auth proxy, the sidecar mode's own
 * defaults) reads the user from one of these; IIS and Symfony route on the last two, so a public
 * route could otherwise reach a protected path. docs/security.md lists them; configuration adds
 * more (`identityHeaders.strip`), and the identity and sidecar header names always join them.
 */
export const STRIPPED_REQUEST_HEADERS: readonly string[] = [
  'Remote-User',
  'Remote-Groups',
  'Remote-Email',
  'Remote-Name',
  'X-Forwarded-User',
  'X-Forwarded-Email',
  'X-Forwarded-Preferred-Username',
  'X-Forwarded-Groups',
  'X-Forwarded-Access-Token',
  'X-Auth-Request-User',
  'X-Auth-Request-Email',
  'X-Auth-Request-Preferred-Username',
  'X-Auth-Request-Groups',
  'X-Auth-Request-Access-Token',
  'X-WEBAUTH-USER',
  'X-WEBAUTH-EMAIL',
  'X-WEBAUTH-NAME',
  'X-WEBAUTH-GROUPS',
  'X-Original-URL',
  'X-Rewrite-URL',
]

/** The canonical names buildForwardHeaders drops from clients: the built-in list plus `names`. */
export function strippedHeaderNames(names: Iterable<string>): ReadonlySet<string> {
  const out = new Set(STRIPPED_REQUEST_HEADERS.map(canonicalHeaderName))
  for (const name of names) out.add(canonicalHeaderName(name))
  return out
}

const FORWARDED = new Set([
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'x-forwarded-port',
  'x-forwarded-prefix',
  'x-real-ip',
  'forwarded',
])

/** Hop-by-hop fields (hop-by-hop.ts, RFC 9110 §7.6.1) and credentials meant for this proxy. */
const NEVER_FORWARDED = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
  'proxy-authorization',
  'proxy-authenticate',
])

/**
 * One pass over the request's fields (this runs for every proxied request): what stripHopByHop
 * removes, HTTP/2 pseudo-header fields (`:method`, `:path`… are the request line, not fields;
 * an HTTP/1.1 target would refuse them), then the identity look-alikes, credentials and
 * untrusted X-Forwarded-*. Host comes from `conn.authority` (HTTP/2's `:authority`) when the
 * client sent no Host field.
 * The identity comes first: a target that keeps only its first N fields (Node's
 * maxHeadersCount) still sees it.
 */
export function buildForwardHeaders(
  incoming: IncomingHttpHeaders,
  opts: ForwardHeaderOptions,
  conn: { remoteAddress: string; encrypted: boolean; authority?: string | undefined },
  identity: { user: string; groups: readonly string[] } | undefined,
): Record<string, string | string[]> {
  const listed = incoming.connection === undefined ? undefined : connectionOptions(incoming.connection)
  const out: Record<string, string | string[]> = {}
  if (identity) {
    out[opts.userHeader] = encodeHeaderValue(identity.user)
    out[opts.groupsHeader] = identity.groups.map(encodeHeaderValue).join(',')
  }
  for (const name in incoming) {
    const value = incoming[name] as string | string[] | number | undefined
    if (value === undefined) continue
    // A name of digits alone would be an integer-like key, which objects list before any other
    // (the identity included); no real field is named so.
    const first = name.charCodeAt(0)
    if (isDigit(first) && /^[0-9]+$/.test(name)) continue
    if (first === COLON) continue
    const lower = name.toLowerCase()
    if (NEVER_FORWARDED.has(lower) || listed?.has(lower)) continue
    const canon = lower.includes('_') ? canonicalHeaderName(lower) : lower
    if (opts.reserved.has(canon)) continue
    if (canon === 'authorization' && !opts.passAuthorization) continue
    if (!opts.trustForwarded && FORWARDED.has(canon)) continue
    if (canon !== lower) continue // any other underscore look-alike of a real header is dropped too
    out[name] = typeof value === 'number' ? String(value) : value
  }
  const prior = opts.trustForwarded ? out['x-forwarded-for'] : undefined
  out['x-forwarded-for'] = prior
    ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${conn.remoteAddress}`
    : conn.remoteAddress
  if (!opts.trustForwarded || !out['x-forwarded-proto']) out['x-forwarded-proto'] = conn.encrypted ? 'https' : 'http'
  const authority = conn.authority ?? incoming.host
  if (out.host === undefined && authority !== undefined) out.host = authority
  if ((!opts.trustForwarded || !out['x-forwarded-host']) && authority !== undefined) out['x-forwarded-host'] = authority
  return out
}

const COLON = 58

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57
}

/**
 * Identity values are Unicode; HTTP header values are octets. Names outside visible ASCII are
 * percent-encoded (RFC 3986 style) so they cannot smuggle CR/LF or be misread as latin1.
 */
export function encodeHeaderValue(v: string): string {
  return /^[\x21-\x7e]*$/.test(v) && !v.includes('%') && !v.includes(',') ? v : encodeURIComponent(v)
}
