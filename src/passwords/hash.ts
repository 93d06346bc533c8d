/**
 * Making hashes: hashPassword for stores gatehouse writes, and dummyVerify, which spends the
 * cost of a real check on users that do not exist (Traefik's notFoundSecret, Caddy's fakePassword).
 */
import { randomBytes } from 'node:crypto'
import bcrypt from 'bcryptjs'
import { detectFormat, hashWasm, type PasswordFormat } from './formats.js'
import { parseShaCrypt, shaCrypt } from './sha-crypt.js'
import { verifyPassword } from './verify.js'

export type HashFormat = 'bcrypt' | 'argon2id' | 'sha512-crypt' | 'sha256-crypt'

export interface HashOptions {
  /** bcrypt cost (log2 rounds), 4..31. Default 10. */
  cost?: number
  /** SHA-crypt rounds, 1000..999999999. Default 5000 (not written into the hash). */
  rounds?: number
  /** argon2id: iterations, memory in KiB, parallelism. Defaults t=2, m=19456, p=1 (OWASP). */
  iterations?: number
  memorySize?: number
  parallelism?: number
}

export const DEFAULT_BCRYPT_COST = 10
const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz'

function checkCost(cost: number): number {
  if (!Number.isInteger(cost) || cost < 4 || cost > 31)
    throw new TypeError(`bcrypt cost must be an integer 4..31, got ${cost}`)
  return cost
}

function cryptSalt(length: number): string {
  return [...randomBytes(length)].map((b) => ITOA64[b & 63]).join('')
}

export async function hashPassword(
  password: string,
  format: HashFormat = 'bcrypt',
  opts: HashOptions = {},
): Promise<string> {
  if (typeof password !== 'string') throw new TypeError('password must be a string')
  switch (format) {
    case 'bcrypt':
      return await bcrypt.hash(password, checkCost(opts.cost ?? DEFAULT_BCRYPT_COST))
    case 'sha256-crypt':
    case 'sha512-crypt':
      return shaCrypt(password, format === 'sha256-crypt' ? 'sha256' : 'sha512', cryptSalt(16), opts.rounds)
    case 'argon2id':
      return await (
        await hashWasm()
      ).argon2id({
        password,
        salt: randomBytes(16),
        iterations: opts.iterations ?? 2,
        memorySize: opts.memorySize ?? 19456,
        parallelism: opts.parallelism ?? 1,
        hashLength: 32,
        outputType: 'encoded',
      })
    default:
      throw new TypeError(`cannot hash passwords as ${String(format)}`)
  }
}

/** Synchronous bcrypt for the CLI's user store (never on a request path). */
export function hashBcryptSync(password: string, cost = DEFAULT_BCRYPT_COST): string {
  return bcrypt.hashSync(password, checkCost(cost))
}

/** Settings of a stored hash that drive its cost: the dummy hash copies them. */
function costKey(format: PasswordFormat, hash: string): string {
  switch (format) {
    case 'bcrypt':
      return `bcrypt:${bcrypt.getRounds(hash)}`
    case 'sha256-crypt':
    case 'sha512-crypt': {
      const p = parseShaCrypt(hash)
      return `${format}:${p?.roundsStated === true ? p.rounds : 'default'}`
    }
    case 'argon2id':
    case 'argon2i':
      return `${format}:${hash.split('$')[3] ?? ''}`
    default:
      return format
  }
}

/** A hash, of a random password nobody knows, with the same cost as the key describes. */
async function makeDummy(key: string): Promise<string> {
  const secret = randomBytes(18).toString('base64')
  const [format = 'bcrypt', param = ''] = key.split(':')
  switch (format) {
    case 'bcrypt':
      return await bcrypt.hash(secret, Number(param))
    case 'sha256-crypt':
    case 'sha512-crypt':
      return shaCrypt(
        secret,
        format === 'sha256-crypt' ? 'sha256' : 'sha512',
        cryptSalt(16),
        param === 'default' ? undefined : Number(param),
      )
    case 'argon2id':
    case 'argon2i': {
      const m = /m=(\d+),t=(\d+),p=(\d+)/.exec(param)
      const [memorySize, iterations, parallelism] =
        m === null ? [19456, 2, 1] : [Number(m[1]), Number(m[2]), Number(m[3])]
      return await (
        await hashWasm()
      ).argon2id({
        password: secret,
        salt: randomBytes(16),
        memorySize,
        iterations,
        parallelism,
        hashLength: 32,
        outputType: 'encoded',
      })
    }
    case 'sha1':
      return '{SHA}' + randomBytes(20).toString('base64')
    case 'ssha':
      return '{SSHA}' + randomBytes(28).toString('base64')
    case 'des-crypt':
      return cryptSalt(13)
    default: // apr1, md5-crypt
      return `$apr1$${cryptSalt(8)}$${cryptSalt(22)}`
  }
}

const dummies = new Map<string, Promise<string>>()

function dummyFor(key: string): Promise<string> {
  let p = dummies.get(key)
  if (p === undefined) {
    p = makeDummy(key)
    dummies.set(key, p)
  }
  return p
}

export interface DummyOptions {
  /** A stored hash of the same store: the dummy has the same format and cost. */
  like?: string
  /** bcrypt cost when no `like` hash is known. Default 10. */
  cost?: number
}

function dummyKey(opts: DummyOptions): string {
  const format = opts.like === undefined ? undefined : detectFormat(opts.like)
  if (format !== undefined && opts.like !== undefined) return costKey(format, opts.like)
  return `bcrypt:${checkCost(opts.cost ?? DEFAULT_BCRYPT_COST)}`
}

/** Creates the dummy hash ahead of the first unknown user, so that request costs what the others cost. */
export async function primeDummy(opts: DummyOptions = {}): Promise<void> {
  await dummyFor(dummyKey(opts))
}

/** Spends about the cost of a real check, then answers false. For unknown and inactive users. */
export async function dummyVerify(password: string, opts: DummyOptions = {}): Promise<false> {
  const hash = await dummyFor(dummyKey(opts))
  await verifyPassword(hash, typeof password === 'string' ? password : '')
  return false
}
