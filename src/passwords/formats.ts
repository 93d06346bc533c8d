/**
 * The password hash formats Apache's htpasswd 2.4 writes (and a few it reads), one verifier
 * each. Every verifier recomputes the hash with the stored settings and compares in constant time.
 * @see https://httpd.apache.org/docs/2.4/misc/password_encryptions.html
 */
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import bcrypt from 'bcryptjs'
import { safeEqual } from './constant-time.js'
import { parseShaCrypt, shaCryptWithSettings } from './sha-crypt.js'

const require = createRequire(import.meta.url)
/** apache-md5 and apache-crypt are untyped CommonJS: (password, salt) => crypt string. */
const apacheMd5 = require('apache-md5') as (password: string, salt?: string) => string
const apacheCrypt = require('apache-crypt') as (password: string, salt?: string) => string

/**
 * hash-wasm carries every algorithm's WebAssembly inline (about 10 MB of memory once loaded), and
 * only argon2 needs it: loaded on first use, so a process or provider thread that never sees an
 * argon2 hash never pays for it.
 */
export const hashWasm = (): Promise<typeof import('hash-wasm')> => (hashWasmModule ??= import('hash-wasm'))
let hashWasmModule: Promise<typeof import('hash-wasm')> | undefined

export type PasswordFormat =
  | 'bcrypt'
  | 'apr1'
  | 'md5-crypt'
  | 'sha1'
  | 'ssha'
  | 'sha256-crypt'
  | 'sha512-crypt'
  | 'des-crypt'
  | 'argon2id'
  | 'argon2i'

/** `$2a$` / `$2b$` / `$2y$`, two-digit cost, 22 characters of salt and 31 of hash. */
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/
/** `$apr1$salt$hash` (Apache) and `$1$salt$hash` (FreeBSD/glibc MD5-crypt): up to 8 salt characters. */
const APR1 = /^\$apr1\$[^$]{0,8}\$[./0-9A-Za-z]{22}$/
const MD5_CRYPT = /^\$1\$[^$]{0,8}\$[./0-9A-Za-z]{22}$/
/** `{SHA}` + base64 of the 20-byte SHA-1 digest. */
const SHA1 = /^\{SHA\}[A-Za-z0-9+/]{27}=$/
/** `{SSHA}` + base64 of SHA-1(password + salt) followed by the salt. */
const SSHA = /^\{SSHA\}[A-Za-z0-9+/]+={0,2}$/
/** Traditional crypt(3): 2 salt characters and 11 of hash. */
const DES_CRYPT = /^[./0-9A-Za-z]{13}$/
const ARGON2 = /^\$(argon2id|argon2i)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/

/** Names the format of a stored hash, or undefined when gatehouse cannot verify it. */
export function detectFormat(hash: string): PasswordFormat | undefined {
  if (hash.startsWith('$2')) return BCRYPT.test(hash) ? 'bcrypt' : undefined
  if (hash.startsWith('$apr1$')) return APR1.test(hash) ? 'apr1' : undefined
  if (hash.startsWith('$1$')) return MD5_CRYPT.test(hash) ? 'md5-crypt' : undefined
  if (hash.startsWith('$5$') || hash.startsWith('$6$')) {
    const parts = parseShaCrypt(hash)
    if (parts === undefined || parts.digest.length !== (parts.variant === 'sha256' ? 43 : 86)) return undefined
    return parts.variant === 'sha256' ? 'sha256-crypt' : 'sha512-crypt'
  }
  if (hash.startsWith('$argon2')) {
    const m = ARGON2.exec(hash)
    return m === null ? undefined : (m[1] as 'argon2id' | 'argon2i')
  }
  if (hash.startsWith('{SHA}')) return SHA1.test(hash) ? 'sha1' : undefined
  if (hash.startsWith('{SSHA}'))
    return SSHA.test(hash) && Buffer.from(hash.slice(6), 'base64').length > 20 ? 'ssha' : undefined
  if (DES_CRYPT.test(hash)) return 'des-crypt'
  return undefined
}

/** The password's UTF-8 bytes as a latin1 string, which is how the CommonJS crypt modules read bytes. */
function byteString(password: string): string {
  return Buffer.from(password, 'utf8').toString('latin1')
}

async function verifyBcrypt(hash: string, password: string): Promise<boolean> {
  const computed = await bcrypt.hash(password, hash.slice(0, 29))
  return safeEqual(computed, hash)
}

function verifyMd5Crypt(hash: string, password: string): boolean {
  return safeEqual(apacheMd5(byteString(password), hash), hash)
}

function verifySha1(hash: string, password: string): boolean {
  const computed = '{SHA}' + createHash('sha1').update(password, 'utf8').digest('base64')
  return safeEqual(computed, hash)
}

function verifySsha(hash: string, password: string): boolean {
  const raw = Buffer.from(hash.slice(6), 'base64')
  const digest = raw.subarray(0, 20)
  const salt = raw.subarray(20)
  const computed = createHash('sha1').update(Buffer.from(password, 'utf8')).update(salt).digest()
  return safeEqual(computed, digest)
}

function verifyShaCrypt(hash: string, password: string): boolean {
  const parts = parseShaCrypt(hash)
  if (parts === undefined) return false
  return safeEqual(shaCryptWithSettings(password, parts), hash)
}

function verifyDesCrypt(hash: string, password: string): boolean {
  return safeEqual(apacheCrypt(byteString(password), hash.slice(0, 2)), hash)
}

async function verifyArgon2(hash: string, password: string): Promise<boolean> {
  try {
    // argon2Verify recomputes with the encoded parameters and compares the digests itself.
    const { argon2Verify } = await hashWasm()
    return await argon2Verify({ password, hash })
  } catch {
    return false
  }
}

export const verifiers: Record<PasswordFormat, (hash: string, password: string) => boolean | Promise<boolean>> = {
  bcrypt: verifyBcrypt,
  apr1: verifyMd5Crypt,
  'md5-crypt': verifyMd5Crypt,
  sha1: verifySha1,
  ssha: verifySsha,
  'sha256-crypt': verifyShaCrypt,
  'sha512-crypt': verifyShaCrypt,
  'des-crypt': verifyDesCrypt,
  argon2id: verifyArgon2,
  argon2i: verifyArgon2,
}
