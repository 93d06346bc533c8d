/**
 * Constant-time comparison of secrets (passwords, digests, MACs).
 *
 * `crypto.timingSafeEqual` needs equal-length buffers and would leak the length otherwise, so
 * both sides are first reduced to a fixed-length HMAC under a key that lives only in this
 * process. Equal inputs give equal MACs; unequal inputs collide with negligible probability,
 * and the time taken depends on neither the content nor where the inputs first differ.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'

const processKey = randomBytes(32)

function mac(value: string | Buffer): Buffer {
  const h = createHmac('sha256', processKey)
  if (typeof value === 'string') h.update(value, 'utf8')
  else h.update(value)
  return h.digest()
}

/**
 * True when `a` and `b` hold the same bytes (strings are compared as UTF-8), in time that does
 * not depend on the position of the first difference nor on whether the lengths differ.
 * Throws TypeError if an argument is neither a string nor a Buffer (misuse).
 */
export function safeEqual(a: string | Buffer, b: string | Buffer): boolean {
  if ((typeof a !== 'string' && !Buffer.isBuffer(a)) || (typeof b !== 'string' && !Buffer.isBuffer(b))) {
    throw new TypeError('safeEqual expects strings or Buffers')
  }
  return timingSafeEqual(mac(a), mac(b))
}

/**
 * safeEqual for values whose length is no secret (a hex digest of a known algorithm, the
 * `opaque` every challenge shows): the lengths are compared first and openly, then the bytes in
 * constant time, without safeEqual's two HMACs. Strings are compared as UTF-8.
 */
export function safeEqualPublicLength(a: string, b: string): boolean {
  if (typeof a !== 'string' || typeof b !== 'string') throw new TypeError('safeEqualPublicLength expects strings')
  const x = Buffer.from(a, 'utf8')
  const y = Buffer.from(b, 'utf8')
  return x.length === y.length && timingSafeEqual(x, y)
}
