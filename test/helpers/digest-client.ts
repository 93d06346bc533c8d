/**
 * The client side of HTTP Digest, written out from RFC 7616 §3.4.1–3.4.3 with node:crypto and
 * nothing from src/: tests that log in with Digest compute what a browser or curl would, so a
 * mistake in the server's own hashing cannot cancel itself out. Checked against the RFC's
 * published vectors in test/unit/digest-client-helper.test.ts.
 */
import { createHash } from 'node:crypto'

export type ClientAlgorithm = 'MD5' | 'MD5-sess' | 'SHA-256' | 'SHA-256-sess' | 'SHA-512-256' | 'SHA-512-256-sess'

export interface DigestLogin {
  algorithm: ClientAlgorithm
  username: string
  realm: string
  password: string
  method: string
  uri: string
  nonce: string
  /** Absent with qop: RFC 2069 compatibility (response = H(HA1:nonce:HA2)). */
  qop?: 'auth' | 'auth-int'
  nc?: string
  cnonce?: string
  /** The request body, for qop=auth-int. */
  body?: string | Buffer
}

/** H(data) as lower-case hex, for the algorithm's hash (the -sess suffix only changes A1). */
export function digestHash(algorithm: ClientAlgorithm, data: string | Buffer): string {
  const name = { MD5: 'md5', 'SHA-256': 'sha256', 'SHA-512-256': 'sha512-256' }[
    algorithm.replace(/-sess$/, '') as 'MD5'
  ]
  return createHash(name).update(data).digest('hex')
}

/** RFC 7616 §3.4.2: A1 = user:realm:password, and for -sess H(that):nonce:cnonce. */
export function clientHA1(
  l: Pick<DigestLogin, 'algorithm' | 'username' | 'realm' | 'password' | 'nonce' | 'cnonce'>,
): string {
  const ha1 = digestHash(l.algorithm, `${l.username}:${l.realm}:${l.password}`)
  return l.algorithm.endsWith('-sess') ? digestHash(l.algorithm, `${ha1}:${l.nonce}:${l.cnonce ?? ''}`) : ha1
}

/** RFC 7616 §3.4.1 and §3.4.3: the request-digest a client sends as `response`. */
export function clientResponse(l: DigestLogin): string {
  const h = (s: string): string => digestHash(l.algorithm, s)
  const a2 =
    l.qop === 'auth-int' ? `${l.method}:${l.uri}:${digestHash(l.algorithm, l.body ?? '')}` : `${l.method}:${l.uri}`
  const ha1 = clientHA1(l)
  if (l.qop === undefined) return h(`${ha1}:${l.nonce}:${h(a2)}`)
  return h(`${ha1}:${l.nonce}:${l.nc}:${l.cnonce}:${l.qop}:${h(a2)}`)
}

/**
 * The Authorization header a client sends for `uri` after `challenge` (a WWW-Authenticate value
 * with nonce and opaque), MD5 or the algorithm given, qop=auth.
 */
export function digestAuthorization(
  challenge: string,
  login: { username: string; password: string; realm: string; uri: string; nc: string; method?: string },
  algorithm: ClientAlgorithm = 'MD5',
): string {
  const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1]
  const opaque = /opaque="([^"]+)"/.exec(challenge)?.[1]
  if (nonce === undefined || opaque === undefined) throw new Error(`not a Digest challenge: ${challenge}`)
  const cnonce = createHash('sha256').update(`${nonce}:${login.nc}`).digest('hex').slice(0, 16)
  const response = clientResponse({
    algorithm,
    username: login.username,
    realm: login.realm,
    password: login.password,
    method: login.method ?? 'GET',
    uri: login.uri,
    nonce,
    qop: 'auth',
    nc: login.nc,
    cnonce,
  })
  return `Digest username="${login.username}", realm="${login.realm}", nonce="${nonce}", uri="${login.uri}", algorithm=${algorithm}, qop=auth, nc=${login.nc}, cnonce="${cnonce}", response="${response}", opaque="${opaque}"`
}
