/**
 * SHA-256-crypt (`$5$`) and SHA-512-crypt (`$6$`), the "Unix crypt using SHA-256 and SHA-512"
 * algorithm by Ulrich Drepper, written from the specification on node:crypto.
 * @see https://www.akkadia.org/drepper/SHA-crypt.txt
 */
import { createHash } from 'node:crypto'

export type ShaCryptVariant = 'sha256' | 'sha512'

const ROUNDS_DEFAULT = 5000
const ROUNDS_MIN = 1000
const ROUNDS_MAX = 999_999_999
const SALT_MAX = 16
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

/** The parts of a `$5$` / `$6$` string: variant, rounds (when stated), salt, and the encoded digest. */
export interface ShaCryptParts {
  variant: ShaCryptVariant
  rounds: number
  roundsStated: boolean
  salt: string
  digest: string
}

/**
 * Parses `$5$[rounds=N$]salt$digest` (the digest may be absent when used as a setting).
 * Returns undefined when the string is not a SHA-crypt string.
 */
export function parseShaCrypt(hash: string): ShaCryptParts | undefined {
  const m = /^\$([56])\$(?:rounds=(\d{1,10})\$)?([^$]{0,16})(?:\$([./0-9A-Za-z]*))?$/.exec(hash)
  if (m === null) return undefined
  const variant: ShaCryptVariant = m[1] === '5' ? 'sha256' : 'sha512'
  const roundsStated = m[2] !== undefined
  const rounds = roundsStated ? clampRounds(Number(m[2])) : ROUNDS_DEFAULT
  return { variant, rounds, roundsStated, salt: m[3] ?? '', digest: m[4] ?? '' }
}

function clampRounds(n: number): number {
  return Math.min(ROUNDS_MAX, Math.max(ROUNDS_MIN, Math.floor(n)))
}

/**
 * Computes the full crypt string for `password` with the variant, salt and rounds given.
 * `rounds` undefined means the default (5000), which is then not written into the result.
 */
export function shaCrypt(password: string | Buffer, variant: ShaCryptVariant, salt: string, rounds?: number): string {
  const key = typeof password === 'string' ? Buffer.from(password, 'utf8') : password
  const saltBytes = Buffer.from(salt, 'utf8').subarray(0, SALT_MAX)
  const r = rounds === undefined ? ROUNDS_DEFAULT : clampRounds(rounds)
  const digest = computeDigest(key, saltBytes, r, variant)
  const id = variant === 'sha256' ? '5' : '6'
  const roundsPart = rounds === undefined ? '' : `rounds=${r}$`
  return `$${id}$${roundsPart}${saltBytes.toString('utf8')}$${encodeDigest(digest, variant)}`
}

/** Recomputes the crypt string for `password` using the settings held in `hash`. */
export function shaCryptWithSettings(password: string | Buffer, parts: ShaCryptParts): string {
  return shaCrypt(password, parts.variant, parts.salt, parts.roundsStated ? parts.rounds : undefined)
}

function computeDigest(key: Buffer, salt: Buffer, rounds: number, variant: ShaCryptVariant): Buffer {
  const h = (...parts: Buffer[]): Buffer => {
    const ctx = createHash(variant)
    for (const p of parts) ctx.update(p)
    return ctx.digest()
  }
  const size = variant === 'sha256' ? 32 : 64
  // Steps 4-8: digest B = H(key salt key).
  const b = h(key, salt, key)
  // Steps 1-3, 9-12: digest A.
  const aParts: Buffer[] = [key, salt, repeatTo(b, key.length)]
  for (let n = key.length; n > 0; n >>= 1) aParts.push((n & 1) !== 0 ? b : key)
  const a = h(...aParts)
  // Steps 13-16: P sequence from DP = H(key repeated len(key) times).
  const dp = h(...Array<Buffer>(key.length).fill(key))
  const p = repeatTo(dp, key.length)
  // Steps 17-20: S sequence from DS = H(salt repeated 16 + A[0] times).
  const ds = h(...Array<Buffer>(16 + (a[0] as number)).fill(salt))
  const s = repeatTo(ds, salt.length)
  // Step 21: the rounds.
  let c = a
  for (let i = 0; i < rounds; i++) {
    const ctx = createHash(variant)
    ctx.update((i & 1) !== 0 ? p : c)
    if (i % 3 !== 0) ctx.update(s)
    if (i % 7 !== 0) ctx.update(p)
    ctx.update((i & 1) !== 0 ? c : p)
    c = ctx.digest()
  }
  if (c.length !== size) throw new Error('unexpected digest size')
  return c
}

function repeatTo(block: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length)
  for (let off = 0; off < length; off += block.length) block.copy(out, off, 0, Math.min(block.length, length - off))
  return out
}

/** Step 22: the byte order of the final base-64 encoding, groups of three bytes (high, mid, low). */
function encodeDigest(d: Buffer, variant: ShaCryptVariant): string {
  let out = ''
  const emit = (b2: number, b1: number, b0: number, n: number): void => {
    let w = (b2 << 16) | (b1 << 8) | b0
    for (let i = 0; i < n; i++) {
      out += ITOA64[w & 0x3f]
      w >>>= 6
    }
  }
  const at = (i: number): number => d[i] as number
  if (variant === 'sha256') {
    for (let i = 0; i < 10; i++) {
      const t = [at(i), at(i + 10), at(i + 20)]
      const r = (3 - (i % 3)) % 3 // rotate right by i mod 3
      emit(t[r] as number, t[(r + 1) % 3] as number, t[(r + 2) % 3] as number, 4)
    }
    emit(0, at(31), at(30), 3)
  } else {
    for (let i = 0; i < 21; i++) {
      const t = [at(i), at(i + 21), at(i + 42)]
      const r = i % 3 // rotate left by i mod 3
      emit(t[r] as number, t[(r + 1) % 3] as number, t[(r + 2) % 3] as number, 4)
    }
    emit(0, 0, at(63), 2)
  }
  return out
}
