/**
 * CSRF tokens of the login and logout forms. The login form's token is bound to a random
 * pre-session cookie, the logout form's to the session: token = HMAC(secret, purpose, value).
 * A forged cross-site POST has neither the cookie (SameSite) nor the token that goes with it.
 */
import { createHmac, randomBytes } from 'node:crypto'
import { safeEqual } from '../auth/compare.js'

export type CsrfPurpose = 'login' | 'logout'

export class CsrfTokens {
  readonly #secret: string | Buffer

  constructor(secret: string | Buffer) {
    this.#secret = secret
  }

  /** A fresh pre-session cookie value (256 random bits). */
  static preSession(): string {
    return randomBytes(32).toString('base64url')
  }

  token(purpose: CsrfPurpose, boundTo: string): string {
    return createHmac('sha256', this.#secret).update(`gatehouse csrf\0${purpose}\0${boundTo}`).digest('base64url')
  }

  /** Constant-time check of a submitted token; false when either part is missing. */
  check(purpose: CsrfPurpose, boundTo: string | undefined, submitted: string | undefined): boolean {
    if (boundTo === undefined || boundTo === '' || submitted === undefined) return false
    return safeEqual(this.token(purpose, boundTo), submitted)
  }
}
