/**
 * Who may use the admin listener when a token is set. Two ways to present the token:
 *
 *  - `Authorization: Bearer TOKEN`: the CLI, Prometheus, scripts; everything.
 *  - HTTP Basic with the token as the password and any user name: a browser, which prompts for
 *    it when a page answers 401 with a Basic challenge. Read-only requests (GET, HEAD) only:
 *    a browser resends Basic credentials on its own, so a command must never be reachable
 *    through them (the Origin check on commands is the other lock on that door).
 *
 * Compared as HMACs with timingSafeEqual: equal-length digests, so neither the token's length
 * nor how much of it a guess got right shows in the time taken. The token is never echoed.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

export type AdminCredential = 'bearer' | 'basic'

export const ADMIN_REALM = 'gatehouse admin'

const HMAC_KEY = randomBytes(32)
/** Any visible ASCII for Bearer (admin tokens are free text, not only token68); Basic's credentials are base64 (RFC 7617 §2). */
const BEARER = /^Bearer +([\x21-\x7e]+) *$/i
const BASIC = /^Basic +([A-Za-z0-9+/]+=*) *$/i

/** How the request proved it holds the token, or undefined (absent, malformed or wrong). */
export function adminCredential(header: string | undefined, token: Buffer): AdminCredential | undefined {
  let kind: AdminCredential | undefined
  let given: Buffer = Buffer.alloc(0)
  const bearer = header === undefined ? null : BEARER.exec(header)
  const basic = header === undefined || bearer ? null : BASIC.exec(header)
  if (bearer) {
    kind = 'bearer'
    given = Buffer.from(bearer[1]!)
  } else if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64')
    const colon = decoded.indexOf(0x3a)
    if (colon >= 0) {
      kind = 'basic'
      given = decoded.subarray(colon + 1)
    }
  }
  const a = createHmac('sha256', HMAC_KEY).update(given).digest()
  const b = createHmac('sha256', HMAC_KEY).update(token).digest()
  return timingSafeEqual(a, b) && kind !== undefined ? kind : undefined
}

/** Safe methods: what Basic credentials, which a browser sends unasked, may be used for. */
export function readOnly(method: string): boolean {
  return method === 'GET' || method === 'HEAD'
}

/**
 * The challenge of a 401: Basic for a browser asking for a page (so it prompts), Bearer for
 * everything else (the CLI and scripts, which should not be told to send a password).
 */
export function adminChallenge(accept: string | undefined, method: string): string {
  return readOnly(method) && accept !== undefined && /\btext\/html\b/i.test(accept)
    ? `Basic realm="${ADMIN_REALM}", charset="UTF-8"`
    : `Bearer realm="${ADMIN_REALM}"`
}
