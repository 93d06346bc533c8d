/**
 * Django's password hashers, verified natively. Each verifier does what the Django hasher's
 * `verify` does: re-encode the password with the stored parameters and compare the result
 * with the stored value in constant time (argon2 compares the raw tag, like argon2-cffi).
 * @see https://github.com/django/django/blob/stable/3.2.x/django/contrib/auth/hashers.py
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { parseDjangoHash, type DjangoAlgorithm, type DjangoHash } from './hash-format.js'
import { nodeHashPrimitives, type HashPrimitives } from './hash-primitives.js'

/** PBKDF2PasswordHasher.iterations of Django 3.2 (Debian bookworm's python3-django): the default hasher's cost. */
export const DJANGO_DEFAULT_PBKDF2_ITERATIONS = 260_000

/**
 * What an unknown, inactive or unusable-password user is checked against: a well-formed
 * hash of the default hasher (pbkdf2_sha256, 260000 iterations), so those answers cost one
 * full hash, as Django's `UserModel().set_password("")` and `make_password(...)` do.
 */
export const DUMMY_HASH: DjangoHash = {
  algorithm: 'pbkdf2_sha256',
  encoded: `pbkdf2_sha256$${DJANGO_DEFAULT_PBKDF2_ITERATIONS}$gatehousedummysalt0000$${'A'.repeat(43)}=`,
  iterations: DJANGO_DEFAULT_PBKDF2_ITERATIONS,
  salt: 'gatehousedummysalt0000',
}

/** Verifies `password` against a value of Django's auth_user.password. Unusable, garbled or unknown → false. */
export async function verifyDjangoPassword(
  encoded: string,
  password: string,
  primitives: HashPrimitives = nodeHashPrimitives,
): Promise<boolean> {
  const hash = parseDjangoHash(encoded)
  if (hash === undefined) return false
  return verifyParsedHash(hash, password, primitives)
}

export async function verifyParsedHash(
  hash: DjangoHash,
  password: string,
  primitives: HashPrimitives = nodeHashPrimitives,
): Promise<boolean> {
  const verify = verifiers[hash.algorithm] as (h: DjangoHash, pw: string, p: HashPrimitives) => Promise<boolean>
  return verify(hash, password, primitives)
}

/** Runs the dummy check: one full hash of the default hasher's cost; the answer is thrown away. */
export async function runDummyCheck(password: string, primitives: HashPrimitives = nodeHashPrimitives): Promise<void> {
  await verifyParsedHash(DUMMY_HASH, password, primitives)
}

/**
 * After a wrong password, tops an older pbkdf2_sha256 hash up to the default iteration count
 * (Django's check_password → PBKDF2PasswordHasher.harden_runtime), so a user created by an
 * older Django answers "wrong password" no faster than an unknown user.
 */
export async function hardenRuntime(
  hash: DjangoHash,
  password: string,
  primitives: HashPrimitives = nodeHashPrimitives,
): Promise<void> {
  if (hash.algorithm !== 'pbkdf2_sha256') return
  const extra = DJANGO_DEFAULT_PBKDF2_ITERATIONS - hash.iterations
  if (extra > 0) await primitives.pbkdf2('sha256', utf8(password), utf8(hash.salt), extra, 32)
}

type Verifier<A extends DjangoAlgorithm> = (
  hash: DjangoHash & { algorithm: A },
  password: string,
  p: HashPrimitives,
) => Promise<boolean>

const verifiers: { [A in DjangoAlgorithm]: Verifier<A> } = {
  pbkdf2_sha256: verifyPbkdf2,
  pbkdf2_sha1: verifyPbkdf2,

  // hash-wasm refuses an empty password: spend the same work on one NUL byte and never match.
  // (Only a user whose Django password is the empty string is affected: they cannot log in.)
  argon2: async (hash, password, p) => {
    const cost = {
      iterations: hash.iterations,
      memorySize: hash.memorySize,
      parallelism: hash.parallelism,
      hashLength: hash.hash.length,
    }
    const tag = await p.argon2(hash.variant, password === '' ? Buffer.alloc(1) : utf8(password), hash.salt, cost)
    return tag.length === hash.hash.length && timingSafeEqual(tag, hash.hash) && password !== ''
  },

  // bcrypt_sha256: bcrypt of the hex SHA-256 of the password (Django #20138: no 72-byte truncation).
  bcrypt_sha256: async (hash, password, p) => {
    const prehashed = (await p.digest('sha256', utf8(password))).toString('hex')
    return sameText(`bcrypt_sha256$${await p.bcrypt(prehashed, hash.setting.slice(0, 29))}`, hash.encoded)
  },

  // py-bcrypt refuses a NUL in the password (Django then fails); C bcrypt would stop at it. Never a match.
  bcrypt: async (hash, password, p) => {
    const match = sameText(`bcrypt$${await p.bcrypt(password, hash.setting.slice(0, 29))}`, hash.encoded)
    return match && !password.includes('\0')
  },

  scrypt: async (hash, password, p) => {
    const key = await p.scrypt(utf8(password), utf8(hash.salt), 64, { N: hash.N, r: hash.r, p: hash.p })
    return sameText(`scrypt$${hash.N}$${hash.salt}$${hash.r}$${hash.p}$${key.toString('base64')}`, hash.encoded)
  },

  sha1: verifySalted,
  md5: verifySalted,

  unsalted_sha1: async (hash, password, p) =>
    sameText(`sha1$$${(await p.digest('sha1', utf8(password))).toString('hex')}`, hash.encoded),

  unsalted_md5: async (hash, password, p) =>
    sameText((await p.digest('md5', utf8(password))).toString('hex'), hash.hex),

  // crypt(3) stops at a NUL; Python refuses one. Never a match.
  crypt: async (hash, password, p) => {
    const match = sameText(await p.desCrypt(utf8(password), hash.hash.slice(0, 2)), hash.hash)
    return match && !password.includes('\0')
  },
}

async function verifyPbkdf2(
  hash: Extract<DjangoHash, { algorithm: 'pbkdf2_sha256' | 'pbkdf2_sha1' }>,
  password: string,
  p: HashPrimitives,
): Promise<boolean> {
  const digest = hash.algorithm === 'pbkdf2_sha256' ? 'sha256' : 'sha1'
  const key = await p.pbkdf2(digest, utf8(password), utf8(hash.salt), hash.iterations, digest === 'sha256' ? 32 : 20)
  return sameText(`${hash.algorithm}$${hash.iterations}$${hash.salt}$${key.toString('base64')}`, hash.encoded)
}

async function verifySalted(
  hash: Extract<DjangoHash, { algorithm: 'sha1' | 'md5' }>,
  password: string,
  p: HashPrimitives,
): Promise<boolean> {
  const hex = (await p.digest(hash.algorithm, utf8(hash.salt + password))).toString('hex')
  return sameText(`${hash.algorithm}$${hash.salt}$${hex}`, hash.encoded)
}

function utf8(text: string): Buffer {
  return Buffer.from(text, 'utf8')
}

/** A per-process key: both sides are HMACed so timingSafeEqual always sees equal lengths. */
const compareKey = randomBytes(32)

function sameText(computed: string, stored: string): boolean {
  const a = createHmac('sha256', compareKey).update(computed, 'utf8').digest()
  const b = createHmac('sha256', compareKey).update(stored, 'utf8').digest()
  return timingSafeEqual(a, b)
}
