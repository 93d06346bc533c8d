/**
 * verifyPassword: dispatch on the stored hash's format. Unknown formats never verify;
 * plaintext is compared only when the caller allows it (Apache does so on Windows/NetWare).
 */
import { safeEqual } from './constant-time.js'
import { detectFormat, verifiers } from './formats.js'

export interface VerifyOptions {
  /** Treat a hash of no known format as the plaintext password. Default false. */
  allowPlaintext?: boolean
}

export async function verifyPassword(hash: string, password: string, opts: VerifyOptions = {}): Promise<boolean> {
  if (typeof hash !== 'string' || typeof password !== 'string') return false
  const format = detectFormat(hash)
  if (format !== undefined) return await verifiers[format](hash, password)
  if (opts.allowPlaintext === true && hash.length > 0) return safeEqual(hash, password)
  return false
}
