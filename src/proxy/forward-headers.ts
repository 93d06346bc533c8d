/**
 * Header hygiene between the client and the target: hop-by-hop fields out, client copies of
 * the identity headers out (and their look-alikes: `X_Remote_User` reads as X-Remote-User in
 * CGI-style frameworks), credentials out unless the route passes them, X-Forwarded-* set, and
 * the authenticated identity in.
 */
import type { IncomingHttpHeaders } from 'node:http'
import { connectionOptions } from './hop-by-hop.js'

export interface ForwardHeaderOptions {
  /** Lower-cased, '-'-normalized names the front owns (identity headers). */
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

const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-forwarded-port', 'x-forwarded-prefix', 'x-real-ip', 'forwarded'])

/** Hop-by-hop fields (hop-by-hop.ts, RFC 9110 §7.6.1) and credentials meant for this proxy. */
const NEVER_FORWARDED = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'http2-settings', 'proxy-authorization', 'proxy-authenticate'])

/**
 * One pass over the request's fields (this runs for every proxied request): what stripHopByHop
 * removes, then the identity look-alikes, credentials and untrusted X-Forwarded-*.
 */
export function buildForwardHeaders(
  incoming: IncomingHttpHeaders,
  opts: ForwardHeaderOptions,
  conn: { remoteAddress: string; encrypted: boolean },
  identity: { user: string; groups: readonly string[] } | undefined,
): Record<string, string | string[]> {
  const listed = incoming.connection === undefined ? undefined : connectionOptions(incoming.connection)
  const out: Record<string, string | string[]> = {}
  for (const name in incoming) {
    const value = incoming[name] as string | string[] | number | undefined
    if (value === undefined) continue
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
  out['x-forwarded-for'] = prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${conn.remoteAddress}` : conn.remoteAddress
  if (!opts.trustForwarded || !out['x-forwarded-proto']) out['x-forwarded-proto'] = conn.encrypted ? 'https' : 'http'
  if ((!opts.trustForwarded || !out['x-forwarded-host']) && incoming.host) out['x-forwarded-host'] = incoming.host
  if (identity) {
    out[opts.userHeader] = encodeHeaderValue(identity.user)
    out[opts.groupsHeader] = identity.groups.map(encodeHeaderValue).join(',')
  }
  return out
}

/**
 * Identity values are Unicode; HTTP header values are octets. Names outside visible ASCII are
 * percent-encoded (RFC 3986 style) so they cannot smuggle CR/LF or be misread as latin1.
 */
export function encodeHeaderValue(v: string): string {
  return /^[\x21-\x7e]*$/.test(v) && !v.includes('%') && !v.includes(',') ? v : encodeURIComponent(v)
}
