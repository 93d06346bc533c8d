/**
 * Recovers the request a proxy is asking about, from the sub-request it sends to the sidecar.
 * Pure: no Fastify import. Each proxy flavour says it its own way:
 *  - nginx (`auth_request`, as users configure it): X-Original-URI, X-Original-Method, and the
 *    Authelia-style X-Original-URL (an absolute URL);
 *  - Traefik ForwardAuth and Caddy `forward_auth`: X-Forwarded-Uri, -Method, -Host, -Proto;
 *  - Envoy ext_authz (HTTP service, `path_prefix`): the original path is appended to the
 *    sidecar path, and the check request keeps the original method and Host.
 *
 * Trust: forwarding headers count only when the peer is a configured proxy; from anyone else
 * they are ignored (only Envoy's form, the peer's own request-target, remains). Every source
 * that is present must name the same URI (and the same method): a client-forged header that a
 * proxy passed along next to its own is a conflict, and a conflict is refused (fail closed).
 */
import type { AddressMatcher } from '../proxy/trusted-proxies.js'
import type { IncomingHttpHeaders } from 'node:http'

export interface SidecarRequest {
  method: string
  /** The sub-request's own request-target. */
  url: string
  headers: IncomingHttpHeaders
  rawHeaders: readonly string[]
  remoteAddress: string
}

export interface OriginalRequest {
  method: string
  /**
   * Whether a proxy said the method (a method header, or Envoy's check request, which keeps it).
   * nginx's auth_request without X-Original-Method sends a GET whatever the client sent.
   */
  methodKnown: boolean
  /** Origin-form request-target (path and query) of the original request, as the client sent it. */
  uri: string
  host: string
  proto: 'http' | 'https' | undefined
  /** The original client's address when a trusted proxy tells it, else the peer's. */
  remoteAddress: string
  /** Which headers (or 'path-prefix') said it, for logs. */
  sources: string[]
}

export type RecoverFailure = 'no-original-uri' | 'conflict' | 'malformed'
export type RecoverResult =
  { ok: true; request: OriginalRequest } | { ok: false; reason: RecoverFailure; detail: string }

export interface RecoverOptions {
  /** The sidecar path, without a trailing slash. */
  path: string
  trustedProxies: AddressMatcher
}

/** Headers whose repetition makes the sub-request ambiguous. */
const SINGLE = [
  'x-original-uri',
  'x-original-url',
  'x-original-method',
  'x-forwarded-uri',
  'x-forwarded-method',
  'x-forwarded-host',
  'x-forwarded-proto',
]

/**
 * method = token (RFC 9110 §9.1); tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 * @see https://www.rfc-editor.org/rfc/rfc9110#section-5.6.2
 */
const tokenRE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
/** origin-form = absolute-path [ "?" query ], visible ASCII only (RFC 9112 §3.2.1). */
const originFormRE = /^\/[\x21-\x7e]*$/

export function recoverOriginalRequest(req: SidecarRequest, opts: RecoverOptions): RecoverResult {
  const trusted = opts.trustedProxies.has(req.remoteAddress)
  const uris: Array<[string, string]> = []
  const methods: Array<[string, string]> = []
  let host: string | undefined
  let proto: 'http' | 'https' | undefined

  const suffix = pathSuffix(req.url, opts.path)
  if (suffix !== undefined) {
    uris.push(['path-prefix', suffix])
    methods.push(['path-prefix', req.method])
  }
  if (trusted) {
    const forwarded = readForwardingHeaders(req, uris, methods)
    if (!forwarded.ok) return forwarded
    host = forwarded.host
    proto = forwarded.proto
  }

  if (uris.length === 0) {
    return fail(
      'no-original-uri',
      trusted
        ? 'no X-Original-URI, X-Forwarded-Uri, X-Original-URL or path suffix'
        : `peer ${req.remoteAddress} is not in trustedProxies, so its forwarding headers are ignored`,
    )
  }
  const [, uri] = uris[0]!
  for (const [name, v] of uris) {
    if (v !== uri) return fail('conflict', `${uris[0]![0]} and ${name} name different URIs`)
  }
  if (!originFormRE.test(uri)) return fail('malformed', 'the original URI is not an origin-form path')
  const method = methods.length > 0 ? methods[0]![1] : req.method
  for (const [name, v] of methods) {
    if (v !== method) return fail('conflict', `${methods[0]![0]} and ${name} name different methods`)
  }
  if (!tokenRE.test(method)) return fail('malformed', 'the original method is not a token')

  const sources = uris.map(([n]) => n)
  // An HTTP/2 sub-request names its host in :authority (RFC 9113 §8.3.1).
  const own = req.headers.host ?? req.headers[':authority']
  const ownHost = typeof own === 'string' ? own : ''
  return {
    ok: true,
    request: {
      method,
      methodKnown: methods.length > 0,
      uri,
      host: host ?? ownHost,
      proto,
      remoteAddress: trusted
        ? (clientAddress(req.headers, opts.trustedProxies) ?? req.remoteAddress)
        : req.remoteAddress,
      sources,
    },
  }
}

type Forwarded = { ok: true; host: string | undefined; proto: 'http' | 'https' | undefined }

/**
 * A trusted proxy's headers: each original URI and method it names joins `uris` and `methods`;
 * the host and scheme it names are returned. A header given twice, or two that disagree, fail.
 */
function readForwardingHeaders(
  req: SidecarRequest,
  uris: Array<[string, string]>,
  methods: Array<[string, string]>,
): Forwarded | Extract<RecoverResult, { ok: false }> {
  let host: string | undefined
  let proto: 'http' | 'https' | undefined
  for (const name of SINGLE) {
    if (countHeader(req.rawHeaders, name) > 1) return fail('conflict', `${name} appears more than once`)
  }
  const h = (name: string): string | undefined => {
    const v = req.headers[name]
    return typeof v === 'string' ? v.trim() : undefined
  }
  const originalUrl = h('x-original-url')
  if (originalUrl !== undefined) {
    const u = parseAbsolute(originalUrl)
    if (!u) return fail('malformed', 'X-Original-URL is not an absolute http(s) URL')
    uris.push(['x-original-url', u.uri])
    host = u.host
    proto = u.proto
  }
  for (const name of ['x-original-uri', 'x-forwarded-uri']) {
    const v = h(name)
    if (v !== undefined) uris.push([name, v])
  }
  for (const name of ['x-original-method', 'x-forwarded-method']) {
    const v = h(name)
    if (v !== undefined) methods.push([name, v.toUpperCase()])
  }
  const agreed = agree(host, h('x-forwarded-host'))
  if (agreed === null) return fail('conflict', 'X-Forwarded-Host and X-Original-URL disagree')
  host = agreed
  const fp = h('x-forwarded-proto')?.toLowerCase()
  if (fp !== undefined) {
    if (fp !== 'http' && fp !== 'https') return fail('malformed', 'X-Forwarded-Proto is neither http nor https')
    if (proto !== undefined && proto !== fp) return fail('conflict', 'X-Forwarded-Proto and X-Original-URL disagree')
    proto = fp
  }
  return { ok: true, host, proto }
}

function fail(reason: RecoverFailure, detail: string): Extract<RecoverResult, { ok: false }> {
  return { ok: false, reason, detail }
}

/** `/auth/x?y` under `/auth` → `/x?y`; `/auth?y` or `/auth/` alone → undefined (no original path). */
function pathSuffix(url: string, base: string): string | undefined {
  if (!url.startsWith(`${base}/`)) return undefined
  const rest = url.slice(base.length)
  return rest === '/' || rest.startsWith('/?') ? undefined : rest
}

/** undefined when neither says; null when both say different things. */
function agree(a: string | undefined, b: string | undefined): string | undefined | null {
  if (a === undefined) return b
  if (b === undefined) return a
  return a.toLowerCase() === b.toLowerCase() ? a : null
}

function parseAbsolute(value: string): { uri: string; host: string; proto: 'http' | 'https' } | undefined {
  const m = /^(https?):\/\/([^/?#\s]+)(\/[^#\s]*|\?[^#\s]*)?$/i.exec(value)
  if (!m) return undefined
  const rest = m[3] ?? '/'
  return { proto: m[1]!.toLowerCase() as 'http' | 'https', host: m[2]!, uri: rest.startsWith('?') ? `/${rest}` : rest }
}

function countHeader(raw: readonly string[], lower: string): number {
  let n = 0
  for (let i = 0; i < raw.length; i += 2) if (raw[i]!.length === lower.length && raw[i]!.toLowerCase() === lower) n++
  return n
}

/**
 * The right-most X-Forwarded-For entry that is not itself a trusted proxy (proxies append the
 * peer they saw; anything to its left may be the client's invention). X-Real-IP is not read:
 * a proxy that does not set it passes the client's own copy along.
 */
function clientAddress(headers: IncomingHttpHeaders, trusted: AddressMatcher): string | undefined {
  const xff = headers['x-forwarded-for']
  const list = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
  for (let i = list.length - 1; i >= 0; i--) if (!trusted.has(list[i]!)) return list[i]
  return undefined
}
