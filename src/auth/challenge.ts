/**
 * WWW-Authenticate / Proxy-Authenticate values for Digest: one challenge per offered algorithm
 * (RFC 7616 §3.7: the server lists them in order of preference, the client picks the first it
 * supports; MD5 last for old browsers). Basic's challenge is basicChallenge() in basic.ts.
 * @see https://www.rfc-editor.org/rfc/rfc7616#section-3.3
 *
 * challenge = "Digest" realm, [domain], nonce, [opaque], [stale], [algorithm], qop, [charset], [userhash]
 * Misuse (no algorithm, unknown qop, a value that cannot be quoted) throws TypeError.
 */
import { quote } from './auth-header.js'
import type { DigestAlgorithmName, DigestQop } from './digest.js'

export interface DigestChallengeParams {
  realm: string
  /** In order of preference, one challenge each (strongest first, MD5 last). */
  algorithms: DigestAlgorithmName[]
  nonce: string
  opaque: string
  /** Empty: no qop parameter (RFC 2069 compatibility, not recommended). */
  qop: DigestQop[]
  stale?: boolean
  userhash?: boolean
  charset?: boolean
}

const knownAlgorithms: ReadonlySet<string> = new Set<DigestAlgorithmName>([
  'MD5',
  'MD5-sess',
  'SHA-256',
  'SHA-256-sess',
  'SHA-512-256',
  'SHA-512-256-sess',
])
/**
 * token68 = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
 * @see https://www.rfc-editor.org/rfc/rfc7235#section-2.1
 */
const token68RE = /^[A-Za-z0-9\-._~+/]+=*$/
function isToken68(value: unknown): boolean {
  return typeof value === 'string' && token68RE.test(value)
}

const knownQop: ReadonlySet<string> = new Set<DigestQop>(['auth', 'auth-int'])

/**
 * `Digest realm="Office", qop="auth, auth-int", algorithm=SHA-256, nonce="…", opaque="…", charset=UTF-8, userhash=true, stale=true`
 * for each algorithm, in the order given. The realm is quoted with quote() (non-ASCII as UTF-8).
 */
export function digestChallenges(p: DigestChallengeParams): string[] {
  if (!Array.isArray(p.algorithms) || p.algorithms.length === 0)
    throw new TypeError('digestChallenges needs at least one algorithm')
  for (const a of p.algorithms)
    if (!knownAlgorithms.has(a)) throw new TypeError(`unknown Digest algorithm ${String(a)}`)
  if (!Array.isArray(p.qop) || p.qop.some((q) => !knownQop.has(q)) || new Set(p.qop).size !== p.qop.length) {
    throw new TypeError('qop must list distinct values among "auth" and "auth-int"')
  }
  if (!isToken68(p.nonce) || !isToken68(p.opaque)) {
    throw new TypeError('nonce and opaque must be token68 strings (as NonceManager makes them)')
  }
  const head = [`realm=${quote(p.realm)}`]
  if (p.qop.length > 0) head.push(`qop="${p.qop.join(', ')}"`)
  const tail = [`nonce=${quote(p.nonce)}`, `opaque=${quote(p.opaque)}`]
  if (p.charset === true) tail.push('charset=UTF-8')
  if (p.userhash === true) tail.push('userhash=true')
  if (p.stale === true) tail.push('stale=true')
  return p.algorithms.map((a) => `Digest ${[...head, `algorithm=${a}`, ...tail].join(', ')}`)
}
