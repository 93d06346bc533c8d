/**
 * Digest nonces: stateless and HMAC-signed, so every gatehouse instance holding the same secret
 * accepts the nonces of the others; plus a bounded, per-instance nonce-count replay window.
 * @see https://www.rfc-editor.org/rfc/rfc7616#section-3.3 (nonce, stale) and §5.5 (replay)
 *
 * nonce = base64url( issuedAt (ms, uint64 BE) ‖ 12 random bytes ‖ HMAC-SHA256(k_nonce, issuedAt ‖ random ‖ realm)[0..16) )
 *         48 characters; the realm is bound by the MAC, not carried.
 * opaque = base64url( HMAC-SHA256(k_opaque, realm) )  (deterministic: identical on every instance)
 * k_nonce and k_opaque are derived from the secret with distinct labels (domain separation).
 *
 * Replay protection (useCount) is per instance and in memory. Each (nonce, nc) is accepted once;
 * counts may arrive out of order within `windowSize` below the highest seen (a sliding bitmap,
 * as in IPsec's anti-replay window, RFC 4303 §3.4.3). Limits of the design, by choice:
 *  - A nonce used on instance A can be replayed once per nc on instance B within the TTL, since
 *    instances share no state. Use sticky sessions or a short ttlMs when that matters.
 *  - At most `maxTracked` nonces are tracked; the least recently used is evicted. An evicted
 *    nonce's counts are forgotten, so to stay safe every nonce issued no later than the newest
 *    evicted one is refused by useCount from then on ("stale by eviction"): the caller answers
 *    401 with stale=true and the client retries with a fresh nonce, without re-prompting.
 *    Memory stays bounded whatever the clients send.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { errors } from '../errors.js'

export interface NonceManagerOptions {
  /** At least 16 bytes. Shared by every instance that must accept the others' nonces. */
  secret: string | Buffer
  /** Age after which a nonce is stale. Default 300000 (5 minutes). */
  ttlMs?: number
  /** Clock for tests. Default Date.now. */
  now?: () => number
  /** Nonce-count replay window. Default 64. */
  windowSize?: number
  /** Nonces whose counts are tracked at once. Default 100000. */
  maxTracked?: number
  /** Tolerated clock skew between instances for nonces from the future. Default 5000. */
  maxSkewMs?: number
}

export type NonceCheck = 'valid' | 'stale' | 'invalid'

interface CountState {
  highest: number
  /** Bit i set: count (highest - i) was used. */
  window: bigint
  usedWithoutNc: boolean
}

const BODY_BYTES = 8 + 12
const TAG_BYTES = 16
const MAX_OPAQUE_MEMO = 256
/** Verified nonces remembered (about 150 bytes each); one per client session in use. */
const MAX_VERIFIED_MEMO = 4096
const nonceRE = /^[A-Za-z0-9_-]{48}$/ // base64url of 36 bytes, no padding
const ncRE = /^[0-9a-fA-F]{8}$/

function positiveInteger(name: string, value: unknown, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw errors.GH_ERR_OPT_INVALID(`nonce ${name} must be an integer from 1 to ${max}, got ${String(value)}`)
  }
  return value
}

export class NonceManager {
  readonly #nonceKey: Buffer
  readonly #opaqueKey: Buffer
  readonly #opaques = new Map<string, string>()
  /** Nonces whose MAC verified, by nonce: the realm it holds for and its issue time. */
  readonly #verified = new Map<string, { realm: string; issued: number }>()
  readonly #ttlMs: number
  readonly #maxSkewMs: number
  readonly #now: () => number
  readonly #windowSize: number
  readonly #windowMask: bigint
  readonly #maxTracked: number
  /** Insertion order is recency order: a used nonce is moved to the end. */
  readonly #counts = new Map<string, CountState>()
  /** Issue time of the newest nonce whose state was evicted; older-or-equal unknown nonces are refused. */
  #evictedUpTo = -Infinity

  constructor(opts: NonceManagerOptions) {
    const secret = opts?.secret
    const secretBytes =
      typeof secret === 'string' ? Buffer.byteLength(secret, 'utf8') : Buffer.isBuffer(secret) ? secret.length : -1
    if (secretBytes < 16)
      throw errors.GH_ERR_OPT_INVALID('nonce secret must be a string or Buffer of at least 16 bytes')
    if (opts.now !== undefined && typeof opts.now !== 'function')
      throw errors.GH_ERR_OPT_INVALID('nonce now must be a function')
    this.#ttlMs = positiveInteger('ttlMs', opts.ttlMs, 300_000)
    this.#windowSize = positiveInteger('windowSize', opts.windowSize, 64, 4096)
    this.#maxTracked = positiveInteger('maxTracked', opts.maxTracked, 100_000)
    this.#maxSkewMs = opts.maxSkewMs === undefined ? 5000 : positiveInteger('maxSkewMs', opts.maxSkewMs, 5000)
    this.#now = opts.now ?? Date.now
    this.#windowMask = (1n << BigInt(this.#windowSize)) - 1n
    this.#nonceKey = createHmac('sha256', secret as string | Buffer)
      .update('gatehouse digest nonce v1')
      .digest()
    this.#opaqueKey = createHmac('sha256', secret as string | Buffer)
      .update('gatehouse digest opaque v1')
      .digest()
  }

  /** A fresh nonce bound to `realm`. */
  issue(realm: string): string {
    const body = Buffer.alloc(BODY_BYTES)
    body.writeBigUInt64BE(BigInt(this.#clock()), 0)
    randomBytes(12).copy(body, 8)
    return Buffer.concat([body, this.#tag(body, realm)]).toString('base64url')
  }

  /** The opaque value for `realm`: the same on every instance sharing the secret. */
  opaque(realm: string): string {
    // Fixed per realm and asked for on every Digest request: computed once. The realms are the
    // configuration's, so the memo stays small; the bound is for callers passing anything.
    let value = this.#opaques.get(realm)
    if (value === undefined) {
      value = createHmac('sha256', this.#opaqueKey).update(realm, 'utf8').digest('base64url')
      if (this.#opaques.size >= MAX_OPAQUE_MEMO) this.#opaques.clear()
      this.#opaques.set(realm, value)
    }
    return value
  }

  /**
   * 'invalid': not one of ours (format, MAC, other realm, other secret) or issued in the future
   * beyond maxSkewMs; 'stale': authentic but older than ttlMs (answer with stale=true);
   * 'valid' otherwise. The MAC is compared in constant time.
   */
  check(nonce: string, realm: string): NonceCheck {
    const issued = this.#authenticIssuedAt(nonce, realm)
    if (issued === undefined) return 'invalid'
    const age = this.#clock() - issued
    if (age < -this.#maxSkewMs) return 'invalid'
    return age > this.#ttlMs ? 'stale' : 'valid'
  }

  /**
   * The issue time of a nonce whose MAC holds for `realm`, else undefined. A client sends the
   * same nonce with each of its requests, so a verified one is remembered (with its realm,
   * bounded, oldest out) and its MAC is computed once, not per request. Only nonces that passed
   * the MAC enter the memo; the lookup is by the whole nonce, which is public.
   */
  #authenticIssuedAt(nonce: string, realm: string): number | undefined {
    const known = this.#verified.get(nonce)
    if (known !== undefined && known.realm === realm) return known.issued
    const raw = decodeNonce(nonce)
    if (raw === undefined) return undefined
    if (!timingSafeEqual(raw.subarray(BODY_BYTES), this.#tag(raw.subarray(0, BODY_BYTES), realm))) return undefined
    const issued = issuedAt(raw)
    if (this.#verified.size >= MAX_VERIFIED_MEMO) {
      const oldest = this.#verified.keys().next().value
      if (oldest !== undefined) this.#verified.delete(oldest)
    }
    this.#verified.set(nonce, { realm, issued })
    return issued
  }

  /**
   * Records one use of (nonce, nc); false for a replay, a count below the window, a malformed
   * nc (8 hex digits, not 0), or a nonce that may have been evicted (then answer stale=true).
   * nc undefined (RFC 2069 mode): one use per nonce.
   * Call it only after check() said 'valid' AND the response hash verified, so that a client
   * without the password cannot consume counts of someone else's nonce.
   */
  useCount(nonce: string, nc: string | undefined): boolean {
    const raw = decodeNonce(nonce)
    if (raw === undefined) return false
    let count: number | undefined
    if (nc !== undefined) {
      if (typeof nc !== 'string' || !ncRE.test(nc)) return false
      count = parseInt(nc, 16)
      if (count === 0) return false
    }
    let state = this.#counts.get(nonce)
    if (state === undefined) {
      if (issuedAt(raw) <= this.#evictedUpTo) return false
      state = { highest: 0, window: 0n, usedWithoutNc: false }
    } else {
      this.#counts.delete(nonce)
    }
    this.#counts.set(nonce, state)
    const accepted = count === undefined ? this.#acceptWithoutNc(state) : this.#acceptCount(state, count)
    this.#evict()
    return accepted
  }

  /** Number of nonces whose counts are currently held (never above maxTracked). */
  get trackedCount(): number {
    return this.#counts.size
  }

  #acceptWithoutNc(state: CountState): boolean {
    if (state.usedWithoutNc) return false
    state.usedWithoutNc = true
    return true
  }

  #acceptCount(state: CountState, count: number): boolean {
    if (count > state.highest) {
      const shift = count - state.highest
      state.window = shift >= this.#windowSize ? 1n : ((state.window << BigInt(shift)) | 1n) & this.#windowMask
      state.highest = count
      return true
    }
    const behind = state.highest - count
    if (behind >= this.#windowSize) return false
    const bit = 1n << BigInt(behind)
    if ((state.window & bit) !== 0n) return false
    state.window |= bit
    return true
  }

  /** Drops the least recently used states beyond maxTracked, and expired ones at the front. */
  #evict(): void {
    const expiredBefore = this.#clock() - this.#ttlMs - this.#maxSkewMs
    for (const key of this.#counts.keys()) {
      const issued = issuedAt(Buffer.from(key, 'base64url'))
      if (this.#counts.size <= this.#maxTracked && issued >= expiredBefore) break
      this.#counts.delete(key)
      if (issued > this.#evictedUpTo) this.#evictedUpTo = issued
    }
  }

  #tag(body: Buffer, realm: string): Buffer {
    if (typeof realm !== 'string') throw new TypeError('realm must be a string')
    return createHmac('sha256', this.#nonceKey).update(body).update(realm, 'utf8').digest().subarray(0, TAG_BYTES)
  }

  #clock(): number {
    const t = this.#now()
    if (typeof t !== 'number' || !Number.isFinite(t) || t < 0)
      throw new TypeError(`now() must return a non-negative finite number, got ${String(t)}`)
    return Math.floor(t)
  }
}

function decodeNonce(nonce: string): Buffer | undefined {
  if (typeof nonce !== 'string' || !nonceRE.test(nonce)) return undefined
  return Buffer.from(nonce, 'base64url')
}

function issuedAt(raw: Buffer): number {
  return Number(raw.readBigUInt64BE(0))
}
