/**
 * The sessions of one front: the store, the cookies, the CSRF tokens, and when a session's
 * credentials must be confirmed again. A provider whose data changed (a password, an account
 * deactivated, a group) marks every session it accepted as to be checked again: the next
 * request with such a session re-runs the password check with the credentials sealed in the
 * record, and ends the session when they no longer hold (mod_auth_form re-checks on every
 * request; here it is once per change).
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'
import type { SessionConfig } from '../config/types.js'
import type { AddressMatcher } from '../proxy/trusted-proxies.js'
import type { Identity } from '../auth/verifier.js'
import { cookieValue, setCookie, type CookieAttributes } from './cookies.js'
import { CsrfTokens } from './csrf.js'
import { isSessionId, newSessionId, sealCredential, storeKey } from './session-token.js'
import type { SessionRecord, SessionStore } from './session-store.js'

export interface SessionsOptions {
  config: SessionConfig
  store: SessionStore
  /** Signs the CSRF tokens (the Digest secret: shared between instances when configured). */
  secret: string | Buffer
  trusted: AddressMatcher
  /** The store outlived an earlier front (a configuration reload): its sessions are checked again once. */
  inherited?: boolean
  now?: () => number
}

export interface LiveSession {
  id: string
  record: SessionRecord
}

export class Sessions {
  readonly config: SessionConfig
  readonly store: SessionStore
  readonly csrf: CsrfTokens
  readonly preCookieName: string
  /** Both cookies, removed from what the app receives. */
  readonly cookieNames: ReadonlySet<string>
  readonly now: () => number
  readonly #trusted: AddressMatcher
  readonly #changedAt = new Map<string, number>()
  #allChangedAt: number

  constructor(opts: SessionsOptions) {
    this.config = opts.config
    this.store = opts.store
    this.csrf = new CsrfTokens(opts.secret)
    this.preCookieName = `${opts.config.cookieName}_login`
    this.cookieNames = new Set([opts.config.cookieName, this.preCookieName])
    this.now = opts.now ?? Date.now
    this.#trusted = opts.trusted
    this.#allChangedAt = opts.inherited === true ? this.now() : -Infinity
  }

  /** The session id the request's cookie carries, when it has the shape of one. */
  idOf(headers: IncomingHttpHeaders): string | undefined {
    const v = cookieValue(headers.cookie, this.config.cookieName)
    return v !== undefined && isSessionId(v) ? v : undefined
  }

  /** The request's live session (its idle clock restarted), or undefined. */
  async lookup(headers: IncomingHttpHeaders): Promise<LiveSession | undefined> {
    const id = this.idOf(headers)
    if (id === undefined) return undefined
    const record = await this.store.get(storeKey(id), this.now())
    return record === undefined ? undefined : { id, record }
  }

  /** A new session for a login that just succeeded; the one the browser had (if any) ends. Returns the new id. */
  async start(
    identity: Identity,
    loginName: string,
    password: string,
    scope: string,
    previousId: string | undefined,
  ): Promise<string> {
    const id = newSessionId()
    const now = this.now()
    const record: SessionRecord = {
      key: storeKey(id),
      user: identity.user,
      groups: identity.groups,
      provider: identity.provider,
      scope,
      createdAt: now,
      lastSeenAt: now,
      expiresAt: now + this.config.lifetimeMs,
      idleMs: this.config.idleTimeoutMs,
      checkedAt: now,
      credential: sealCredential(id, loginName, password),
    }
    if (previousId === undefined) await this.store.create(record)
    else await this.store.rotate(storeKey(previousId), record)
    return id
  }

  end(record: SessionRecord): Promise<boolean> {
    return this.store.delete(record.key)
  }

  endUser(user: string): Promise<number> {
    return this.store.deleteByUser(user)
  }

  /** A provider's answers may have changed: its sessions are confirmed again before their next use. */
  providerChanged(name: string): void {
    this.#changedAt.set(name, this.now())
  }

  /** Changes may have been missed (the shared state was unreachable): every session is confirmed again. */
  allChanged(): void {
    this.#allChangedAt = this.now()
  }

  needsCheck(record: SessionRecord): boolean {
    const changed = Math.max(this.#allChangedAt, this.#changedAt.get(record.provider) ?? -Infinity)
    return record.checkedAt <= changed
  }

  /** The provider confirmed the session's credentials: its groups as they are now. */
  async confirmed(record: SessionRecord, groups: string[]): Promise<void> {
    record.groups = groups
    record.checkedAt = this.now()
    await this.store.create(record)
  }

  /** The login page, to come back to `path` (an origin-form path and query) after signing in. */
  loginLocation(path: string): string {
    return `${this.config.loginPath}?return=${encodeURIComponent(path)}`
  }

  sessionCookie(id: string, req: IncomingMessage): string {
    return setCookie(this.config.cookieName, id, this.#attributes(req, '/', 'Lax'))
  }

  clearSessionCookie(req: IncomingMessage): string {
    return setCookie(this.config.cookieName, '', { ...this.#attributes(req, '/', 'Lax'), maxAge: 0 })
  }

  /** The login form's pre-session cookie: sent back to the login path only. */
  preCookie(value: string, req: IncomingMessage): string {
    return setCookie(this.preCookieName, value, this.#attributes(req, this.config.loginPath, 'Strict'))
  }

  clearPreCookie(req: IncomingMessage): string {
    return setCookie(this.preCookieName, '', { ...this.#attributes(req, this.config.loginPath, 'Strict'), maxAge: 0 })
  }

  /** Over TLS, or from a trusted proxy that says the client used https. */
  isSecure(req: IncomingMessage): boolean {
    if ((req.socket as { encrypted?: boolean }).encrypted === true) return true
    if (!this.#trusted.has(req.socket.remoteAddress ?? '')) return false
    const proto = req.headers['x-forwarded-proto']
    return typeof proto === 'string' && proto.split(',')[0]!.trim().toLowerCase() === 'https'
  }

  #attributes(req: IncomingMessage, path: string, sameSite: CookieAttributes['sameSite']): CookieAttributes {
    return {
      path,
      secure: this.isSecure(req),
      sameSite,
      ...(this.config.cookieDomain !== undefined ? { domain: this.config.cookieDomain } : {}),
    }
  }
}
