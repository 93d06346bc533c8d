/**
 * The "Digest" HTTP authentication scheme: parsing credentials and computing the hashes.
 * @see https://www.rfc-editor.org/rfc/rfc7616
 *
 * Pure functions, no Fastify import. Malformed input gives undefined (or a reason from
 * parseDigestDetailed); misuse throws TypeError. Hex results are lower-case.
 */
import { digestOf } from './one-shot-hash.js'
import { decodeHeaderOctets, MAX_AUTHORIZATION_LENGTH, parseAuthParams, quoteOctets } from './auth-header.js'
import type { DigestAlgorithmName } from '../config/types.js'

// The names are the configuration's (routes[].auth.algorithms): config sits below auth.
export type { DigestAlgorithmName }
export type DigestBaseAlgorithm = 'MD5' | 'SHA-256' | 'SHA-512-256'
export type DigestQop = 'auth' | 'auth-int'

/** Algorithm tokens are matched case-insensitively, as Apache and nginx do. */
const algorithmsByLowerName: ReadonlyMap<string, DigestAlgorithmName> = new Map(
  (['MD5', 'MD5-sess', 'SHA-256', 'SHA-256-sess', 'SHA-512-256', 'SHA-512-256-sess'] as const).map((a) => [
    a.toLowerCase(),
    a,
  ]),
)
const nodeHashName: Record<DigestBaseAlgorithm, string> = {
  MD5: 'md5',
  'SHA-256': 'sha256',
  'SHA-512-256': 'sha512-256',
}
const hexLength: Record<DigestBaseAlgorithm, number> = { MD5: 32, 'SHA-256': 64, 'SHA-512-256': 64 }

export function baseAlgorithm(a: DigestAlgorithmName): DigestBaseAlgorithm {
  return a.endsWith('-sess') ? (a.slice(0, -'-sess'.length) as DigestBaseAlgorithm) : (a as DigestBaseAlgorithm)
}

export function isSess(a: DigestAlgorithmName): boolean {
  return a.endsWith('-sess')
}

/** Lower-case hex of H(data); strings are hashed as UTF-8 (RFC 7616 §3.4.4 with charset=UTF-8). */
export function hashHex(base: DigestBaseAlgorithm, data: string | Buffer): string {
  const name = nodeHashName[base]
  if (name === undefined) throw new TypeError(`unknown digest algorithm ${String(base)}`)
  return digestOf(name, data, 'hex')
}

/** H(A1) for the non-session algorithms: H(username ":" realm ":" passwd), RFC 7616 §3.4.2. */
export function computeHA1(base: DigestBaseAlgorithm, user: string, realm: string, password: string): string {
  return hashHex(base, `${user}:${realm}:${password}`)
}

/** The userhash form of the username: H(username ":" realm), RFC 7616 §3.4.4. */
export function userhash(base: DigestBaseAlgorithm, user: string, realm: string): string {
  return hashHex(base, `${user}:${realm}`)
}

export interface DigestCredentials {
  /** Unicode; when usernameIsHashed it is the lower-case hex userhash. */
  username: string
  usernameIsHashed: boolean
  /** Unicode (non-ASCII octets decoded as UTF-8 when valid, otherwise ISO-8859-1). */
  realm: string
  nonce: string
  /** As sent (octet view); compare with digestUriMatches and hash as is. */
  uri: string
  /** Lower-case hex of the right length for the algorithm. */
  response: string
  algorithm: DigestAlgorithmName
  qop?: DigestQop
  /** 8 hex digits, as sent (it is hashed as sent). */
  nc?: string
  cnonce?: string
  opaque?: string
  /** True when the username is known to be UTF-8: username*, an echoed charset=UTF-8, or non-ASCII octets that are valid UTF-8. */
  charsetUtf8: boolean
}

export type DigestParseFailure = 'malformed' | 'unsupported-algorithm' | 'bad-qop'
export type DigestParseResult = { ok: true; creds: DigestCredentials } | { ok: false; reason: DigestParseFailure }

/**
 * ext-value   = charset "'" [ language ] "'" value-chars
 * value-chars = *( pct-encoded / attr-char )
 * attr-char   = ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
 * @see https://www.rfc-editor.org/rfc/rfc8187#section-3.2.1
 * Only the UTF-8 charset is accepted (the one RFC 7616 §3.4 uses).
 */
const extValueRE = /^utf-8'[A-Za-z0-9-]*'((?:%[0-9A-Fa-f]{2}|[A-Za-z0-9!#$&+\-.^_`|~])*)$/i
const utf8Fatal = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function decodeExtValue(ext: string): string | undefined {
  const m = extValueRE.exec(ext)
  if (m === null) return undefined
  const octets = Buffer.from(
    (m[1] as string).replace(/%([0-9A-Fa-f]{2})|./gs, (all, hex?: string) =>
      hex === undefined ? all : String.fromCharCode(parseInt(hex, 16)),
    ),
    'latin1',
  )
  try {
    return utf8Fatal.decode(octets)
  } catch {
    return undefined
  }
}

const ncRE = /^[0-9a-fA-F]{8}$/
const hexRE = /^[0-9a-fA-F]+$/
const controlRE = /\p{Cc}/u

/** parseDigest with the reason for a refusal (the caller may answer 400 for 'malformed'). */
export function parseDigestDetailed(rest: string): DigestParseResult {
  const malformed = { ok: false, reason: 'malformed' } as const
  if (typeof rest !== 'string' || rest.length > MAX_AUTHORIZATION_LENGTH) return malformed
  const p = parseAuthParams(rest)
  if (p === undefined) return malformed

  const algorithmToken = p.get('algorithm')
  const algorithm = algorithmToken === undefined ? 'MD5' : algorithmsByLowerName.get(algorithmToken.toLowerCase())
  if (algorithm === undefined) return { ok: false, reason: 'unsupported-algorithm' }
  const base = baseAlgorithm(algorithm)

  const realm = p.get('realm')
  const nonce = p.get('nonce')
  const uri = p.get('uri')
  const response = p.get('response')?.toLowerCase()
  if (realm === undefined || nonce === undefined || uri === undefined || response === undefined) return malformed
  if (nonce === '' || uri === '' || response.length !== hexLength[base] || !hexRE.test(response)) return malformed

  const userhashToken = p.get('userhash')?.toLowerCase()
  if (userhashToken !== undefined && userhashToken !== 'true' && userhashToken !== 'false') return malformed
  const usernameIsHashed = userhashToken === 'true'

  const charsetToken = p.get('charset')
  if (charsetToken !== undefined && charsetToken.toLowerCase() !== 'utf-8') return malformed

  // Exactly one of username / username* (RFC 7616 §3.4: both present MUST be an error).
  const plain = p.get('username')
  const ext = p.get('username*')
  if ((plain === undefined) === (ext === undefined)) return malformed
  let username: string
  let charsetUtf8 = charsetToken !== undefined
  if (ext !== undefined) {
    if (usernameIsHashed) return malformed // a userhash is hex: it never needs username*
    const decoded = decodeExtValue(ext)
    if (decoded === undefined) return malformed
    username = decoded
    charsetUtf8 = true
  } else {
    const decoded = decodeHeaderOctets(plain as string)
    username = decoded.value
    charsetUtf8 ||= decoded.utf8
  }
  if (controlRE.test(username)) return malformed
  if (usernameIsHashed) {
    if (username.length !== hexLength[base] || !hexRE.test(username)) return malformed
    username = username.toLowerCase()
  }

  const creds: DigestCredentials = {
    username,
    usernameIsHashed,
    realm: decodeHeaderOctets(realm).value,
    nonce,
    uri,
    response,
    algorithm,
    charsetUtf8,
  }
  const opaque = p.get('opaque')
  if (opaque !== undefined) creds.opaque = opaque

  const qop = p.get('qop')?.toLowerCase()
  const nc = p.get('nc')
  const cnonce = p.get('cnonce')
  if (qop !== undefined) {
    if (qop !== 'auth' && qop !== 'auth-int') return { ok: false, reason: 'bad-qop' }
    if (nc === undefined || !ncRE.test(nc) || cnonce === undefined || cnonce === '') return malformed
    Object.assign(creds, { qop, nc, cnonce })
  } else if (nc !== undefined || cnonce !== undefined) {
    return malformed // RFC 2069 mode has neither nc nor cnonce
  }
  if (isSess(algorithm) && creds.cnonce === undefined) return malformed // -sess hashes the cnonce
  return { ok: true, creds }
}

/**
 * Parses the part after "Digest " (see splitAuthorization). Undefined when malformed, when the
 * algorithm or qop is not supported, or when a parameter is duplicated or missing.
 */
export function parseDigest(rest: string): DigestCredentials | undefined {
  const r = parseDigestDetailed(rest)
  return r.ok ? r.creds : undefined
}

export interface DigestResponseParams {
  algorithm: DigestAlgorithmName
  /** H(username:realm:password) in hex, for the base algorithm. */
  ha1: string
  method: string
  uri: string
  nonce: string
  cnonce?: string
  nc?: string
  qop?: DigestQop
  /** H(entity-body) in hex, for qop=auth-int. */
  bodyHash?: string
}

/**
 * The request-digest (RFC 7616 §3.4.1):
 *   response = KD(H(A1), nonce ":" nc ":" cnonce ":" qop ":" H(A2))
 *   KD(secret, data) = H(secret ":" data)
 *   A1 = H(user:realm:pass) ":" nonce ":" cnonce   for the -sess algorithms (§3.4.2)
 *   A2 = method ":" uri [ ":" H(entity-body) ]     (the last part for auth-int, §3.4.3)
 * Without qop it is the RFC 2069 form KD(H(A1), nonce ":" H(A2)) (RFC 2617 §3.2.2.1).
 * uri, nonce, cnonce and nc are hashed as the octets the client sent (Node's latin1 view of the
 * header), which for ASCII is the same as UTF-8; ha1 and bodyHash are hex.
 * Throws TypeError when qop lacks nc/cnonce, -sess lacks cnonce, auth-int lacks bodyHash, or a
 * string holds characters above U+00FF (not an octet view).
 */
export function computeResponse(p: DigestResponseParams): string {
  const base = baseAlgorithm(p.algorithm)
  if (p.qop !== undefined && (p.nc === undefined || p.cnonce === undefined))
    throw new TypeError('qop requires nc and cnonce')
  if (isSess(p.algorithm) && p.cnonce === undefined) throw new TypeError(`${p.algorithm} requires cnonce`)
  if (p.qop === 'auth-int' && p.bodyHash === undefined) throw new TypeError('auth-int requires bodyHash')
  const ha1 = isSess(p.algorithm) ? hashHex(base, octetsOf(`${p.ha1}:${p.nonce}:${p.cnonce as string}`)) : p.ha1
  const a2 = p.qop === 'auth-int' ? `${p.method}:${p.uri}:${p.bodyHash as string}` : `${p.method}:${p.uri}`
  const ha2 = hashHex(base, octetsOf(a2))
  const data =
    p.qop === undefined ? `${p.nonce}:${ha2}` : `${p.nonce}:${p.nc as string}:${p.cnonce as string}:${p.qop}:${ha2}`
  return hashHex(base, octetsOf(`${ha1}:${data}`))
}

/** ASCII (what clients send) is the same octets as UTF-8, so it is hashed as the string, without a copy. */
function octetsOf(s: string): string | Buffer {
  if (asciiRE.test(s)) return s
  if (/[^\x00-\xff]/.test(s))
    throw new TypeError('Digest request fields must be in the header octet view (no characters above U+00FF)')
  return Buffer.from(s, 'latin1')
}

const asciiRE = /^[\x00-\x7f]*$/

/** The rspauth value of Authentication-Info: the response computed with an empty method (A2 = ":" uri). */
export function computeRspauth(p: Omit<DigestResponseParams, 'method'> & { method?: string }): string {
  return computeResponse({ ...p, method: '' })
}

/**
 * The Authentication-Info header value (RFC 7616 §3.5):
 * `qop=auth, rspauth="…", cnonce="…", nc=00000001[, nextnonce="…"]`; without qop only rspauth
 * (and nextnonce).
 */
export function authenticationInfo(p: Omit<DigestResponseParams, 'method'> & { nextnonce?: string }): string {
  if (p.nc !== undefined && !ncRE.test(p.nc)) throw new TypeError('nc must be 8 hex digits')
  const parts: string[] = []
  if (p.qop !== undefined) parts.push(`qop=${p.qop}`)
  parts.push(`rspauth="${computeRspauth(p)}"`)
  if (p.qop !== undefined) parts.push(`cnonce=${quoteOctets(p.cnonce as string)}`, `nc=${p.nc as string}`)
  if (p.nextnonce !== undefined) parts.push(`nextnonce=${quoteOctets(p.nextnonce)}`)
  return parts.join(', ')
}

/**
 * RFC 7616 §3.4.6: the server MUST check that `uri` names the same resource as the
 * request-target. We accept the exact request-target, or an absolute-form URI whose path and
 * query are exactly the request-target and whose authority is `host`: the Host the request was
 * sent to (in the sidecar, the original host the proxy reports). Without a `host` an
 * absolute-form URI is refused, as is any other path, query or authority, and userinfo.
 */
export function digestUriMatches(uri: string, requestTarget: string, host?: string): boolean {
  if (typeof uri !== 'string' || typeof requestTarget !== 'string' || uri === '') return false
  if (uri === requestTarget) return true
  if (!requestTarget.startsWith('/') || typeof host !== 'string') return false
  const m = /^(https?):\/\/([^/?#\s]+)(\/[^#\s]*|\?[^#\s]*)?$/i.exec(uri)
  if (m === null) return false
  let pathAndQuery = m[3] ?? '/'
  if (pathAndQuery.startsWith('?')) pathAndQuery = `/${pathAndQuery}`
  return pathAndQuery === requestTarget && sameAuthority(m[1] as string, m[2] as string, host)
}

/**
 * authority = host [ ":" port ] (RFC 3986 §3.2; http(s) URIs carry no userinfo, RFC 9110 §4.2.4);
 * host = IP-literal / IPv4address / reg-name, compared case-insensitively; an absent or empty
 * port is the scheme's default (RFC 9110 §4.2.3), on both sides.
 * @see https://www.rfc-editor.org/rfc/rfc3986#section-3.2
 */
const authorityRE = /^(\[[0-9A-Fa-f:.]+\]|[^\s:@[\]/?#]+)(?::([0-9]*))?$/

function sameAuthority(scheme: string, uriAuthority: string, host: string): boolean {
  const defaultPort = scheme.toLowerCase() === 'https' ? 443 : 80
  const a = normalizeAuthority(uriAuthority, defaultPort)
  return a !== undefined && a === normalizeAuthority(host, defaultPort)
}

function normalizeAuthority(authority: string, defaultPort: number): string | undefined {
  const m = authorityRE.exec(authority)
  if (m === null) return undefined
  const port = m[2] === undefined || m[2] === '' ? defaultPort : Number(m[2])
  return `${(m[1] as string).toLowerCase()}:${port}`
}
