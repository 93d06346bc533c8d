/**
 * Reads the `password` column of Django's auth_user: which hasher wrote it and with which
 * parameters. Pure; no hashing here. `undefined` means Django could not use it either: an
 * unusable password (`!…`), an empty or garbled value, or an algorithm Django does not ship.
 *
 * Identification follows django.contrib.auth.hashers.identify_hasher (Django 3.2–5.x):
 *  - 32 characters without `$`, or 37 starting `md5$$`   → unsalted_md5
 *  - 46 characters starting `sha1$$`                      → unsalted_sha1
 *  - otherwise the text before the first `$`              → that algorithm
 * @see https://docs.djangoproject.com/en/stable/topics/auth/passwords/#how-django-stores-passwords
 */
import type { Argon2Variant } from './hash-primitives.js'

export type DjangoHash =
  | { algorithm: 'pbkdf2_sha256' | 'pbkdf2_sha1'; encoded: string; iterations: number; salt: string }
  | {
      algorithm: 'argon2'
      encoded: string
      variant: Argon2Variant
      memorySize: number
      iterations: number
      parallelism: number
      salt: Buffer
      hash: Buffer
    }
  | { algorithm: 'bcrypt_sha256' | 'bcrypt'; encoded: string; setting: string; rounds: number }
  | { algorithm: 'scrypt'; encoded: string; N: number; r: number; p: number; salt: string }
  | { algorithm: 'sha1' | 'md5'; encoded: string; salt: string }
  | { algorithm: 'unsalted_sha1'; encoded: string }
  | { algorithm: 'unsalted_md5'; encoded: string; hex: string }
  | { algorithm: 'crypt'; encoded: string; hash: string }

export type DjangoAlgorithm = DjangoHash['algorithm']

/** Django's UNUSABLE_PASSWORD_PREFIX: set_unusable_password() stores `!` and 40 random characters. */
export const UNUSABLE_PASSWORD_PREFIX = '!'

/** Work factors above these are refused as garbled rather than run (a hostile row must not stall a worker). */
const MAX_PBKDF2_ITERATIONS = 50_000_000
const MAX_ARGON2_MEMORY_KIB = 4 * 1024 * 1024
const MAX_SCRYPT_BYTES = 1024 * 1024 * 1024

const DECIMAL = /^[0-9]{1,10}$/
const B64 = /^[A-Za-z0-9+/]+={0,2}$/
/** bcrypt's modular format: $2a$/$2b$/$2y$, two-digit cost, 22 salt + 31 hash characters. */
const BCRYPT = /^\$2[aby]\$([0-9]{2})\$[./A-Za-z0-9]{53}$/
/** Traditional DES crypt(3): 2 salt characters and 11 hash characters. */
const DES_CRYPT = /^[./0-9A-Za-z]{13}$/
const ARGON2_PARAMS = /^m=([0-9]{1,10}),t=([0-9]{1,10}),p=([0-9]{1,3})$/

export function isUsablePassword(encoded: string | null | undefined): encoded is string {
  return typeof encoded === 'string' && !encoded.startsWith(UNUSABLE_PASSWORD_PREFIX)
}

/** The algorithm name Django would look up for this value (not validated; safe to log when it is a word). */
export function algorithmOf(encoded: string): string {
  if ((encoded.length === 32 && !encoded.includes('$')) || (encoded.length === 37 && encoded.startsWith('md5$$')))
    return 'unsalted_md5'
  if (encoded.length === 46 && encoded.startsWith('sha1$$')) return 'unsalted_sha1'
  const dollar = encoded.indexOf('$')
  return dollar === -1 ? encoded : encoded.slice(0, dollar)
}

export function parseDjangoHash(encoded: string): DjangoHash | undefined {
  if (!isUsablePassword(encoded)) return undefined
  const algorithm = algorithmOf(encoded)
  if (!Object.hasOwn(parsers, algorithm)) return undefined
  return parsers[algorithm as DjangoAlgorithm](encoded)
}

/** Python's str.split(sep, maxsplit): at most `max` splits, the rest stays in the last part. */
function splitN(text: string, sep: string, max: number): string[] {
  const parts = text.split(sep)
  return parts.length <= max + 1 ? parts : [...parts.slice(0, max), parts.slice(max).join(sep)]
}

const parsers: Record<DjangoAlgorithm, (encoded: string) => DjangoHash | undefined> = {
  pbkdf2_sha256: (encoded) => parsePbkdf2('pbkdf2_sha256', encoded),
  pbkdf2_sha1: (encoded) => parsePbkdf2('pbkdf2_sha1', encoded),
  argon2: parseArgon2,
  bcrypt_sha256: (encoded) => parseBcrypt('bcrypt_sha256', encoded),
  bcrypt: (encoded) => parseBcrypt('bcrypt', encoded),
  scrypt: parseScrypt,
  sha1: (encoded) => parseSalted('sha1', encoded),
  md5: (encoded) => parseSalted('md5', encoded),
  unsalted_sha1: (encoded) => ({ algorithm: 'unsalted_sha1', encoded }),
  unsalted_md5: (encoded) => ({
    algorithm: 'unsalted_md5',
    encoded,
    hex: encoded.startsWith('md5$$') ? encoded.slice(5) : encoded,
  }),
  crypt: parseCrypt,
}

/** `pbkdf2_sha256$<iterations>$<salt>$<base64 hash>` */
function parsePbkdf2(algorithm: 'pbkdf2_sha256' | 'pbkdf2_sha1', encoded: string): DjangoHash | undefined {
  const [, iterations, salt, hash] = splitN(encoded, '$', 3)
  if (iterations === undefined || salt === undefined || hash === undefined || !DECIMAL.test(iterations))
    return undefined
  const n = Number(iterations)
  if (n < 1 || n > MAX_PBKDF2_ITERATIONS) return undefined
  return { algorithm, encoded, iterations: n, salt }
}

/**
 * `argon2` followed by argon2-cffi's PHC string: `argon2$argon2id$v=19$m=102400,t=2,p=8$<salt>$<hash>`
 * (Django 3.2+ writes argon2id; Django 1.10–3.1 wrote argon2i). Only version 19 (0x13) is supported.
 */
function parseArgon2(encoded: string): DjangoHash | undefined {
  const parts = encoded.split('$')
  if (parts.length !== 6) return undefined
  const [, variant, version, params, salt, hash] = parts as [string, string, string, string, string, string]
  if (variant !== 'argon2id' && variant !== 'argon2i' && variant !== 'argon2d') return undefined
  const cost = ARGON2_PARAMS.exec(params)
  if (version !== 'v=19' || cost === null || !B64.test(salt) || !B64.test(hash)) return undefined
  const [memorySize, iterations, parallelism] = [Number(cost[1]), Number(cost[2]), Number(cost[3])]
  const saltBytes = Buffer.from(salt, 'base64')
  const hashBytes = Buffer.from(hash, 'base64')
  if (iterations < 1 || parallelism < 1 || memorySize < 8 * parallelism || memorySize > MAX_ARGON2_MEMORY_KIB)
    return undefined
  if (saltBytes.length < 8 || hashBytes.length < 4) return undefined
  return {
    algorithm: 'argon2',
    encoded,
    variant,
    memorySize,
    iterations,
    parallelism,
    salt: saltBytes,
    hash: hashBytes,
  }
}

/** `bcrypt_sha256$$2b$12$<53 chars>` or `bcrypt$$2b$12$<53 chars>` */
function parseBcrypt(algorithm: 'bcrypt_sha256' | 'bcrypt', encoded: string): DjangoHash | undefined {
  const setting = encoded.slice(algorithm.length + 1)
  const match = BCRYPT.exec(setting)
  if (match === null) return undefined
  const rounds = Number(match[1])
  if (rounds < 4 || rounds > 31) return undefined
  return { algorithm, encoded, setting, rounds }
}

/** Django 4.0+: `scrypt$<N>$<salt>$<r>$<p>$<base64 hash>` */
function parseScrypt(encoded: string): DjangoHash | undefined {
  const parts = splitN(encoded, '$', 5)
  if (parts.length !== 6) return undefined
  const [, n, salt, r, p] = parts as [string, string, string, string, string, string]
  if (!DECIMAL.test(n) || !DECIMAL.test(r) || !DECIMAL.test(p)) return undefined
  const [N, R, P] = [Number(n), Number(r), Number(p)]
  const powerOfTwo = N > 1 && (N & (N - 1)) === 0
  if (!powerOfTwo || R < 1 || P < 1 || 128 * N * R * P > MAX_SCRYPT_BYTES) return undefined
  return { algorithm: 'scrypt', encoded, N, r: R, p: P, salt }
}

/** `sha1$<salt>$<hex>` / `md5$<salt>$<hex>` (Django asserts a non-empty salt when encoding). */
function parseSalted(algorithm: 'sha1' | 'md5', encoded: string): DjangoHash | undefined {
  const [, salt, hash] = splitN(encoded, '$', 2)
  if (salt === undefined || hash === undefined || salt === '' || salt.includes('$')) return undefined
  return { algorithm, encoded, salt }
}

/** `crypt$$<13-character DES crypt>`; Django's CryptPasswordHasher only writes 2-character salts. */
function parseCrypt(encoded: string): DjangoHash | undefined {
  const [, , hash] = splitN(encoded, '$', 2)
  if (hash === undefined || !DES_CRYPT.test(hash)) return undefined
  return { algorithm: 'crypt', encoded, hash }
}
